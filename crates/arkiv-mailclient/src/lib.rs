//! Clients for the mail servers Arkiv archives from (SPEC A2–A6): IMAP and POP3.
//!
//! The archive layer (`arkiv_archive::mailboxes`) decides *what* to fetch and keeps the
//! checkpoints; this crate only talks to servers, and does so defensively: every answer a
//! server sends is bounded before it is buffered, every wait is bounded by a timeout, and a
//! server that breaks the protocol gets a clear [`Error`], never a panic or a hang.
//!
//! * [`Endpoint`] says where a server is and how to reach it: [`Security`] (TLS, STARTTLS, or
//!   plain text only when explicitly chosen), [`Trust`] (the system's certificate authorities,
//!   a pinned SHA-256 fingerprint, or — explicitly — any certificate), a timeout.
//! * [`Credentials`]: `LOGIN`/`USER`+`PASS`, or SASL PLAIN with an optional authorization
//!   identity (RFC 4616: a master user logging on *for* a mailbox, A3).
//! * [`imap::ImapSession`]: capabilities, `LIST` (modified UTF-7 names decoded, SPECIAL-USE
//!   attributes), `STATUS`, `EXAMINE`/`SELECT`, the UIDs with flags, sizes and dates of a
//!   folder, streaming `UID FETCH` of bodies, deletion with `UID EXPUNGE` where offered.
//!   Responses are framed by [`imap::frame::Framer`] (lines and literals, each under a limit
//!   the caller sets per command) and decoded by `imap-codec`.
//! * [`pop3::Pop3Session`]: `CAPA`, `STLS`, `USER`/`PASS` and `AUTH PLAIN`, `UIDL`, `LIST`,
//!   `RETR` (dot-unstuffed, bounded), `DELE`, `QUIT`.
//!
//! Everything is blocking I/O on one thread per connection: the archive's ingest pipeline is
//! an iterator on threads, and a blocking client is the simplest thing that fits it.

mod conn;
pub mod imap;
pub mod pop3;
mod sasl;
pub mod tls;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, POP3S 995).
    #[default]
    Tls,
    /// Plain text first, then `STARTTLS` / `STLS` before anything else is said; a server that
    /// does not offer it is refused (no silent fall back to plain text).
    StartTls,
    /// No encryption at all. Only when chosen explicitly: passwords travel in clear.
    Plain,
}

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::StartTls => "starttls",
            Security::Plain => "plain",
        }
    }

    pub fn parse(s: &str) -> Option<Security> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tls" | "ssl" | "imaps" | "pop3s" | "imap-ssl" | "pop3-ssl" => Some(Security::Tls),
            "starttls" | "stls" | "imap-tls" | "pop3-tls" => Some(Security::StartTls),
            "plain" | "none" | "imap" | "pop3" => Some(Security::Plain),
            _ => None,
        }
    }

    /// The usual port of this security for IMAP.
    pub fn imap_port(self) -> u16 {
        match self {
            Security::Tls => 993,
            _ => 143,
        }
    }

    /// The usual port of this security for POP3.
    pub fn pop3_port(self) -> u16 {
        match self {
            Security::Tls => 995,
            _ => 110,
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which server certificates are accepted.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Trust {
    /// Verified against the system's certificate authorities (and, when given, those of a PEM
    /// file), with the host name checked.
    #[default]
    Verify,
    /// Verified against the system's authorities plus the ones in this PEM file.
    VerifyWith(PathBuf),
    /// Exactly the certificate with this SHA-256 fingerprint (of its DER bytes), whoever
    /// signed it: for servers with a self-signed certificate.
    Pin([u8; 32]),
    /// Any certificate ("ignore certificate warnings"): the connection is encrypted but the
    /// server is not authenticated.
    Any,
}

impl Trust {
    /// Parses a fingerprint as hex, with or without colons (`AB:CD:...`).
    pub fn pin(fingerprint: &str) -> Result<Trust> {
        let hex: String = fingerprint
            .chars()
            .filter(|c| *c != ':' && !c.is_whitespace())
            .collect();
        let bad = || Error::Config {
            what: format!(
                "'{fingerprint}' is not a SHA-256 fingerprint: 64 hex digits, colons allowed"
            ),
        };
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Trust::Pin(out))
    }
}

/// Where a server is and how to talk to it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub trust: Trust,
    /// How long any single wait for the server may take (connect, a read, a write). MailStore's
    /// default is 300 seconds.
    pub timeout: Duration,
}

impl Endpoint {
    pub fn new(host: &str, port: u16, security: Security) -> Endpoint {
        Endpoint {
            host: host.trim().to_string(),
            port,
            security,
            trust: Trust::Verify,
            timeout: Duration::from_secs(300),
        }
    }

    /// `host:port`, for messages.
    pub fn display(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Who logs on.
#[derive(Clone)]
pub enum Credentials {
    /// IMAP `LOGIN` / POP3 `USER` + `PASS` (or SASL PLAIN when the server disables those).
    Login { user: String, password: String },
    /// SASL PLAIN (RFC 4616). With `authzid`, `user` logs on *as* `authzid`: a master user
    /// reading someone's mailbox.
    Plain {
        authzid: Option<String>,
        user: String,
        password: String,
    },
}

impl Credentials {
    /// The name that logs on (for messages; never the password).
    pub fn user(&self) -> &str {
        match self {
            Credentials::Login { user, .. } | Credentials::Plain { user, .. } => user,
        }
    }

    /// The mailbox read: the authorization identity if there is one, else the user.
    pub fn mailbox(&self) -> &str {
        match self {
            Credentials::Plain {
                authzid: Some(a), ..
            } => a,
            _ => self.user(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Login { user, .. } => write!(f, "Login({user}, ***)"),
            Credentials::Plain { authzid, user, .. } => {
                write!(f, "Plain({authzid:?}, {user}, ***)")
            }
        }
    }
}

/// What kind of trouble an [`Error`] is, for run histories and retry decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad settings (a fingerprint that is not one, ...).
    Config,
    /// The server could not be reached, or the connection broke.
    Network,
    /// The server did not answer in time.
    Timeout,
    /// TLS failed: most often a certificate that is not trusted.
    Certificate,
    /// The user name or password was refused.
    Authentication,
    /// The server refused a command (`NO`/`BAD`, `-ERR`): a folder gone, a quota, ...
    Refused,
    /// The server does not offer what is needed (STARTTLS, UIDL, ...).
    Unsupported,
    /// The server broke the protocol or sent more than allowed.
    Protocol,
}

/// Everything that can go wrong talking to a mail server. Messages say what failed, with
/// which server, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}")]
    Config { what: String },
    #[error("cannot connect to {server}: {err}")]
    Connect { server: String, err: std::io::Error },
    #[error("{server} did not answer within {seconds} s while {doing}")]
    Timeout {
        server: String,
        seconds: u64,
        doing: String,
    },
    #[error("{server} closed the connection while {doing}")]
    Closed { server: String, doing: String },
    #[error("connection to {server} broke while {doing}: {err}")]
    Io {
        server: String,
        doing: String,
        err: std::io::Error,
    },
    #[error("TLS with {server} failed: {reason}")]
    Tls { server: String, reason: String },
    #[error(
        "the server certificate of {server} is not trusted: {reason}. If the server uses a self-signed certificate, pin its SHA-256 fingerprint ({fingerprint}) or choose to ignore certificate warnings"
    )]
    Untrusted {
        server: String,
        reason: String,
        fingerprint: String,
    },
    #[error("logon to {server} as '{user}' failed: {reason}")]
    Auth {
        server: String,
        user: String,
        reason: String,
    },
    #[error("{server} refused {command}: {reason}")]
    Refused {
        server: String,
        command: String,
        reason: String,
    },
    #[error("{server} does not offer {what}")]
    Unsupported { server: String, what: String },
    #[error("{server} broke the protocol ({what}); the connection was closed")]
    Protocol { server: String, what: String },
    #[error(
        "{server} announced {size} bytes where at most {limit} are accepted ({what}); the connection was closed"
    )]
    TooLarge {
        server: String,
        size: u64,
        limit: u64,
        what: String,
    },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config { .. } => ErrorKind::Config,
            Error::Connect { .. } | Error::Closed { .. } | Error::Io { .. } => ErrorKind::Network,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Tls { .. } | Error::Untrusted { .. } => ErrorKind::Certificate,
            Error::Auth { .. } => ErrorKind::Authentication,
            Error::Refused { .. } => ErrorKind::Refused,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Protocol { .. } | Error::TooLarge { .. } => ErrorKind::Protocol,
        }
    }

    /// Whether the session can go on after this error (a refused command leaves it usable;
    /// anything that broke the connection or the protocol does not).
    pub fn session_usable(&self) -> bool {
        matches!(self, Error::Refused { .. })
    }
}

pub type Result<T> = std::result::Result<T, Error>;
