//! A job's action: an Administration API call written as a line, `VerifyStore --id=1
//! --includeIndexes="false"` (as the manual's management shell writes them).

/// Splits an action such as `VerifyStore --id=1 --includeIndexes="false"` into the function
/// name and its arguments (double quotes group; no other shell syntax).
pub fn parse_action(action: &str) -> std::result::Result<(String, Vec<(String, String)>), String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in action.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err("unbalanced quotes in the action".into());
    }
    if any {
        words.push(cur);
    }
    let Some((name, rest)) = words.split_first() else {
        return Err("the action is empty: give an API command such as VerifyStores".into());
    };
    let mut args = Vec::new();
    for w in rest {
        let w = w.strip_prefix("--").unwrap_or(w);
        match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => args.push((k.to_string(), v.to_string())),
            _ => {
                return Err(format!(
                    "arguments of the action are --name=value (got '{w}')"
                ));
            }
        }
    }
    Ok((name.clone(), args))
}

/// Writes an action back as text (values quoted where they need it).
pub fn render_action(name: &str, args: &[(String, String)]) -> String {
    let mut out = name.to_string();
    for (k, v) in args {
        if v.is_empty() || v.contains(char::is_whitespace) {
            out.push_str(&format!(" --{k}=\"{v}\""));
        } else {
            out.push_str(&format!(" --{k}={v}"));
        }
    }
    out
}
