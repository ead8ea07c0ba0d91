/// Everything the archive layer reports. Messages say what failed, on what, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] arkiv_store::StoreError),
    #[error(transparent)]
    Crypto(#[from] arkiv_crypto::CryptoError),
    #[error(transparent)]
    Source(#[from] arkiv_sources::Error),
    #[error(transparent)]
    Index(#[from] arkiv_index::IndexError),
    /// A mail server archived from (IMAP, POP3) could not be used.
    #[error(transparent)]
    Mailbox(#[from] arkiv_mailclient::Error),
    #[error("I/O error on {path}: {err}")]
    Io { path: String, err: std::io::Error },
    #[error("master database {path}: {detail}")]
    Db { path: String, detail: String },
    #[error("configuration {path}: {detail}")]
    Config { path: String, detail: String },
    #[error("{path} is not an Arkiv data directory (no master.redb); create one with `arkiv init`")]
    NotInitialized { path: String },
    #[error(
        "the master database {path} {what}; this data directory holds archive stores: restore master.redb from a backup, or rebuild it from the stores with `arkiv recover --recovery-key KEY`"
    )]
    MasterLost { path: String, what: String },
    #[error("{path} already holds an Arkiv data directory")]
    AlreadyInitialized { path: String },
    #[error(
        "the data directory {path} is in use by another Arkiv process{pid}; stop it or wait for it to finish"
    )]
    Locked { path: String, pid: String },
    #[error("user '{0}' does not exist")]
    NoSuchUser(String),
    #[error("user '{0}' already exists")]
    UserExists(String),
    #[error("folder '{0}' does not exist")]
    NoSuchFolder(String),
    #[error("archive store {0} does not exist")]
    NoSuchStore(u32),
    #[error("archive store {id} is not available: {why}")]
    StoreUnavailable { id: u32, why: String },
    #[error(
        "no archive store has status 'current'; set one with `arkiv store set-status ID current`"
    )]
    NoCurrentStore,
    #[error("the password does not meet the password policy: {0}")]
    WeakPassword(String),
    #[error("invalid {what}: {detail}")]
    Invalid { what: String, detail: String },
    #[error("cancelled; what was committed before stays")]
    Cancelled,
    /// Refused by the access rules (`crate::access`); the text names the rule.
    #[error("not allowed: {0}")]
    Denied(String),
    #[error("message {0} does not exist")]
    NoSuchMessage(String),
}

pub type Result<T> = std::result::Result<T, ArchiveError>;

impl ArchiveError {
    /// A search the user asked wrongly: a malformed query, or one over the cost budget. The
    /// message names the cause (and no server path).
    pub fn is_bad_query(&self) -> bool {
        matches!(
            self,
            ArchiveError::Index(
                arkiv_index::IndexError::Query(_) | arkiv_index::IndexError::Budget(_)
            )
        )
    }
}

pub(crate) fn io_err(path: &std::path::Path, source: std::io::Error) -> ArchiveError {
    ArchiveError::Io {
        path: path.display().to_string(),
        err: source,
    }
}

pub(crate) fn invalid(what: &str, detail: impl Into<String>) -> ArchiveError {
    ArchiveError::Invalid {
        what: what.to_string(),
        detail: detail.into(),
    }
}
