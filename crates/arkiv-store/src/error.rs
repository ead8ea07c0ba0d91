use arkiv_types::MessageId;

/// Everything that can go wrong inside a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("I/O error on {path}: {err}")]
    Io { path: String, err: std::io::Error },
    #[error("store database {path}: {detail}")]
    Db { path: String, detail: String },
    #[error(transparent)]
    Crypto(#[from] arkiv_crypto::CryptoError),
    #[error("store directory {path} is missing; fix the store's path or reattach it")]
    MissingDir { path: String },
    #[error("store directory {path} is not empty; a new store needs an empty or new directory")]
    NotEmpty { path: String },
    #[error("message {0} does not exist")]
    NoSuchMessage(MessageId),
    #[error("message {id} is damaged: {detail}; run `arkiv verify` for a full report")]
    Damaged { id: String, detail: String },
    #[error(
        "pack file {path} is shorter ({actual} bytes) than its committed length ({committed}); data was lost outside Arkiv (disk fault or a restore of an old copy)"
    )]
    PackTruncated {
        path: String,
        actual: u64,
        committed: u64,
    },
    #[error("malformed record {what}: {detail}")]
    Malformed { what: String, detail: String },
    #[error(
        "archive store {path} is locked: it belongs to another Arkiv installation; unlock it with UnlockStore and that installation's recovery key"
    )]
    Locked { path: String },
    #[error(
        "the packs in {path} do not belong to this store's database ({detail}); give the content directory that belongs to it"
    )]
    ForeignPacks { path: String, detail: String },
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub(crate) fn io_err(path: &std::path::Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        err: source,
    }
}

pub(crate) fn db_err(path: &std::path::Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Db {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}
