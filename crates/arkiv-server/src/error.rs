//! The errors of the server's functions, free of any transport: what went wrong, in words
//! for the user, and of which kind. The HTTP layers map the kind to a status
//! (`api::ApiError` for the Administration API's envelope, `web::WebError` for the JSON API);
//! other doors (IMAP, SMTP) will map it to their answers.

use arkiv_archive::ArchiveError;
use arkiv_archive::auth::LogonError;

/// What kind of failure (decides the status the caller sees).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The request itself is wrong: an unknown, missing or malformed argument.
    BadArgument,
    /// What the request names does not exist (or the caller may not know it exists).
    NotFound,
    /// The access rules refuse it (`arkiv_archive::access`).
    Denied,
    /// No credentials, or wrong ones.
    Unauthenticated,
    /// Too many failed logons: locked for a while.
    Locked,
    /// Too much at once: try again shortly.
    Busy,
    /// It ran and failed (the archive said why).
    Failed,
    /// A fault of the server; details are in its log, not in the answer.
    Internal,
}

/// A failed function or request.
#[derive(Clone, Debug)]
pub struct FnError {
    pub kind: Kind,
    pub message: String,
}

impl FnError {
    pub fn new(kind: Kind, message: impl Into<String>) -> FnError {
        FnError {
            kind,
            message: message.into(),
        }
    }
    pub fn bad_argument(message: impl Into<String>) -> FnError {
        FnError::new(Kind::BadArgument, message)
    }
    pub fn failed(message: impl Into<String>) -> FnError {
        FnError::new(Kind::Failed, message)
    }
    pub fn not_found(message: impl Into<String>) -> FnError {
        FnError::new(Kind::NotFound, message)
    }
    pub fn denied(message: impl Into<String>) -> FnError {
        FnError::new(Kind::Denied, message)
    }
    pub fn internal(message: impl Into<String>) -> FnError {
        FnError::new(Kind::Internal, message)
    }
}

impl std::fmt::Display for FnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ArchiveError> for FnError {
    fn from(e: ArchiveError) -> Self {
        use ArchiveError as A;
        let kind = match &e {
            A::Denied(_) => Kind::Denied,
            A::NoSuchUser(_) | A::NoSuchFolder(_) | A::NoSuchStore(_) | A::NoSuchMessage(_) => {
                Kind::NotFound
            }
            A::Invalid { .. } | A::WeakPassword(_) => Kind::Failed,
            e if e.is_bad_query() => Kind::BadArgument,
            A::StoreUnavailable { .. } => Kind::Failed,
            _ => Kind::Failed,
        };
        FnError::new(kind, e.to_string())
    }
}

impl From<LogonError> for FnError {
    fn from(e: LogonError) -> Self {
        let kind = match &e {
            LogonError::Wrong => Kind::Unauthenticated,
            LogonError::Locked { .. } => Kind::Locked,
            LogonError::Busy => Kind::Busy,
            LogonError::Archive(_) => Kind::Internal,
        };
        FnError::new(kind, e.to_string())
    }
}

/// A user-supplied string made safe for a log line: control characters escaped (a user name
/// with CR LF must not forge lines), at most 200 characters.
pub fn log_safe(s: &str) -> String {
    let mut out: String = s.chars().take(200).flat_map(char::escape_default).collect();
    if s.chars().count() > 200 {
        out.push('…');
    }
    // `escape_default` also escapes quotes and non-ASCII; keep readable non-ASCII letters.
    if s.chars().take(200).all(|c| !c.is_control()) {
        out = s.chars().take(200).collect();
        if s.chars().count() > 200 {
            out.push('…');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_cannot_be_forged() {
        assert_eq!(log_safe("bob"), "bob");
        assert_eq!(log_safe("Jürgen"), "Jürgen");
        let forged = log_safe("x\r\n2026-01-01T00:00:00Z INFO  admin logged on");
        assert!(!forged.contains('\n') && !forged.contains('\r'), "{forged}");
        assert_eq!(log_safe(&"a".repeat(500)).chars().count(), 201);
    }
}
