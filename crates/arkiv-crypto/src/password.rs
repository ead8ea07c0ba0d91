//! Login password hashing with Argon2id (PHC string format).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::{CryptoError, Result, random_bytes};

fn argon2() -> Argon2<'static> {
    // OWASP's recommended Argon2id setting: 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).expect("static Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password; the result is a self-describing `$argon2id$...` string.
pub fn hash(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    random_bytes(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| CryptoError::Password(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError::Password(e.to_string()))
}

/// Checks a password against a stored hash. A malformed hash never verifies.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn argon2id_round_trip() {
        let h = super::hash("Correct Horse 9").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("Correct Horse 9", &h));
        assert!(!super::verify("correct horse 9", &h));
        assert!(!super::verify("x", "not a hash"));
    }
}
