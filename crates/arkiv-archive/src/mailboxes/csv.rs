//! The mailbox list of "Multiple IMAP Mailboxes (CSV File)" (manual §2.8, SPEC A4).
//!
//! The manual's rules, all of them: a heading row is required (its wording may differ);
//! columns are IMAP user name, IMAP password, e-mail address (optional), archive user name
//! (optional); they are separated by `;`, `,`, `|` or a tab (the first of them found outside
//! quotes in the heading decides); a field may be quoted with `"` or `'`, the quote character
//! doubled inside stands for itself, and separators appear in a field only inside quotes.
//! Hand-written: the `csv` crate takes one quote character per file, the manual two per field.

use crate::error::{Result, invalid};

/// One mailbox of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvMailbox {
    /// The file's line number (1 = the heading), for messages.
    pub line: usize,
    pub login: String,
    pub password: String,
    pub email: Option<String>,
    pub archive_user: Option<String>,
}

const SEPARATORS: [char; 4] = [';', ',', '|', '\t'];

/// Splits one line into fields by `sep`, honouring quotes.
fn fields(line: &str, sep: char, lineno: usize) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        // Leading blanks before a quote are not part of the field.
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        match chars.peek().copied() {
            Some(q @ ('"' | '\'')) => {
                chars.next();
                loop {
                    match chars.next() {
                        Some(c) if c == q => {
                            if chars.peek() == Some(&q) {
                                chars.next();
                                field.push(q);
                            } else {
                                break;
                            }
                        }
                        Some(c) => field.push(c),
                        None => {
                            return Err(invalid(
                                "CSV file",
                                format!("line {lineno}: a quote ({q}) is not closed"),
                            ));
                        }
                    }
                }
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
                match chars.next() {
                    None => {
                        out.push(field);
                        return Ok(out);
                    }
                    Some(c) if c == sep => out.push(field),
                    Some(c) => {
                        return Err(invalid(
                            "CSV file",
                            format!(
                                "line {lineno}: '{c}' after a closing quote (a separator must follow)"
                            ),
                        ));
                    }
                }
            }
            _ => {
                loop {
                    match chars.next() {
                        None => {
                            out.push(field.trim_end().to_string());
                            return Ok(out);
                        }
                        Some(c) if c == sep => break,
                        Some(c) => field.push(c),
                    }
                }
                out.push(field.trim_end().to_string());
            }
        }
    }
}

/// The separator: the first separator character outside quotes in the heading.
fn separator(heading: &str) -> Option<char> {
    let mut quote: Option<char> = None;
    for c in heading.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if SEPARATORS.contains(&c) => return Some(c),
            None => {}
        }
    }
    None
}

/// Reads the mailbox list.
pub fn parse(text: &str) -> Result<Vec<CsvMailbox>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate();
    let heading = loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((_, l)) => break l,
            None => {
                return Err(invalid(
                    "CSV file",
                    "it is empty (a heading row is required)",
                ));
            }
        }
    };
    let sep = separator(heading).ok_or_else(|| {
        invalid(
            "CSV file",
            "the heading has no separator: separate the columns by ; , | or a tab",
        )
    })?;
    let mut out = Vec::new();
    for (i, l) in lines {
        let lineno = i + 1;
        if l.trim().is_empty() {
            continue;
        }
        let f = fields(l, sep, lineno)?;
        let get = |n: usize| {
            f.get(n)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let login = get(0)
            .ok_or_else(|| invalid("CSV file", format!("line {lineno}: no IMAP user name")))?;
        let password = f
            .get(1)
            .cloned()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| invalid("CSV file", format!("line {lineno}: no IMAP password")))?;
        if f.len() > 4 {
            return Err(invalid(
                "CSV file",
                format!(
                    "line {lineno}: {} columns where 4 are allowed (quote fields that contain '{sep}')",
                    f.len()
                ),
            ));
        }
        out.push(CsvMailbox {
            line: lineno,
            login,
            password,
            email: get(2),
            archive_user: get(3),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The manual's example file, verbatim.
    const MANUAL: &str =
        "IMAP user name;IMAP password;Email address (optional);MailStore user name (optional)
alexis.page;top!s3creT;alexis.page@example.com;alexis.page
bill.burke;\"quoted_with:semicolon\";bill.burke@example.com;bill.burke
frank.clark;'quoted,with;many|separators';frank.clark@example.com;frank.clark
henry.gills;\"quoted_with'single_quotes\";henry.gills@example.com;henry.gills
lois.randall;\"quoted_with\"\"quotes\";lois.randall@example.com;lois.randall
";

    #[test]
    fn the_manuals_example() {
        let m = parse(MANUAL).unwrap();
        let pw: Vec<&str> = m.iter().map(|x| x.password.as_str()).collect();
        assert_eq!(
            pw,
            [
                "top!s3creT",
                "quoted_with:semicolon",
                "quoted,with;many|separators",
                "quoted_with'single_quotes",
                "quoted_with\"quotes"
            ]
        );
        assert_eq!(m[0].login, "alexis.page");
        assert_eq!(m[0].email.as_deref(), Some("alexis.page@example.com"));
        assert_eq!(m[4].archive_user.as_deref(), Some("lois.randall"));
        assert_eq!(m[4].line, 6);
    }

    #[test]
    fn other_separators_and_optional_columns() {
        for sep in [",", "|", "\t"] {
            let text = format!(
                "user{sep}pass{sep}mail{sep}arkiv\r\na{sep}p1\r\nb{sep}'p{sep}2'{sep}b@x.org{sep}\r\n"
            );
            let m = parse(&text).unwrap();
            assert_eq!(m.len(), 2, "{sep:?}");
            assert_eq!(
                (m[0].email.clone(), m[0].archive_user.clone()),
                (None, None)
            );
            assert_eq!(m[1].password, format!("p{sep}2"));
            assert_eq!(m[1].email.as_deref(), Some("b@x.org"));
        }
    }

    #[test]
    fn mistakes_are_named_with_their_line() {
        for (text, want) in [
            ("", "empty"),
            ("just one heading\nx y\n", "no separator"),
            ("u;p\n;pw\n", "line 2: no IMAP user name"),
            ("u;p\nalice;\n", "line 2: no IMAP password"),
            ("u;p\nalice;\"open\n", "line 2: a quote"),
            ("u;p\nalice;\"pw\"x\n", "after a closing quote"),
            ("u;p\na;b;c;d;e\n", "5 columns"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
