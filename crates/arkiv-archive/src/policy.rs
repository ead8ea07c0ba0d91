//! The password policy of the manual's §5.1, enabled by default.

/// Checks a password against the manual's complexity rules; the error says which rule failed.
pub fn check_password(user: &str, password: &str) -> std::result::Result<(), String> {
    if password.chars().count() < 10 {
        return Err("it must be at least 10 characters long".into());
    }
    let lower = password.to_lowercase();
    if !user.is_empty() && lower.contains(&user.to_lowercase()) {
        return Err("it must not contain the user name".into());
    }
    for product in ["mailstore", "arkiv"] {
        if lower.contains(product) {
            return Err(format!("it must not contain the product name '{product}'"));
        }
    }
    let chars: Vec<char> = password.chars().collect();
    if chars.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]) {
        return Err("it must not contain the same character more than two times in a row".into());
    }
    const SPECIAL: &str = "!\"#$%&'()*+,-./:;<=>?[\\]^_`{|}~ ";
    let classes = [
        chars.iter().any(|c| c.is_ascii_uppercase()),
        chars.iter().any(|c| c.is_ascii_lowercase()),
        chars.iter().any(|c| c.is_ascii_digit()),
        chars.iter().any(|c| SPECIAL.contains(*c)),
        chars
            .iter()
            .any(|c| c.is_alphabetic() && !c.is_uppercase() && !c.is_lowercase()),
    ];
    if classes.iter().filter(|&&x| x).count() < 3 {
        return Err("it must contain characters from at least 3 of: upper case, lower case, digits, special characters, other letters (e.g. Chinese)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_password;

    #[test]
    fn manual_rules() {
        assert!(check_password("admin", "Sommer2026!x").is_ok());
        assert!(check_password("admin", "Short1!").is_err());
        assert!(
            check_password("anna", "xxAnna2026!!").is_err(),
            "contains user name"
        );
        assert!(
            check_password("bob", "MailStore2026!").is_err(),
            "product name"
        );
        assert!(
            check_password("bob", "Baaa2026!zzq").is_err(),
            "three in a row"
        );
        assert!(check_password("bob", "alllowercase").is_err(), "one class");
        assert!(
            check_password("bob", "lowercase123").is_err(),
            "two classes"
        );
        assert!(
            check_password("bob", "密码密码abc12345").is_ok(),
            "CJK counts as a class"
        );
    }
}
