//! Arkiv's service layer: one data directory, the archive it holds, and the work done on it.
//!
//! [`Archive`] is the entry point. It owns
//!
//! * the **data directory** — `arkiv.toml` ([`Config`]), `keyring.json` + the key file
//!   (see `arkiv-crypto`), `master.redb` (the master database) and, by default, `stores/`;
//! * the **master database** — users ([`users`]), the folder tree of every user archive
//!   ([`folders`]) and the registry of archive stores ([`stores`]); every value that reveals
//!   content (names, addresses, folder names) is sealed with a key derived from the master key;
//! * the open **archive stores** (`arkiv-store`), one of which is *current* and receives new mail.
//!
//! Work on it: [`ingest`] (the import pipeline: sources → parse/hash/seal on worker threads →
//! one writer → durable batches), statistics ([`stats`]) and verification ([`verify`]).
//!
//! A user archive is the root folder named after its user. Deleting a user keeps the archive
//! (manual §5.1); a user created again under the same name gets it back.

pub mod access;
pub mod action;
pub mod advanced;
pub mod attachments;
pub mod audit;
pub mod auth;
mod config;
pub mod disaster;
mod error;
pub mod files;
pub mod folders;
pub mod grants;
pub mod ingest;
pub mod intake;
pub mod jobs;
pub mod mailboxes;
pub mod maintenance;
mod master;
pub mod policy;
pub mod portable;
pub mod saved;
pub mod search;
pub mod stats;
pub mod stores;
pub mod uids;
pub mod users;
pub mod verify;

pub use arkiv_store::StoreError;
pub use config::{
    AttachmentsConfig, ComplianceConfig, Config, ImportConfig, ServerConfig, SmtpConfig,
    StorageConfig,
};
pub use error::{ArchiveError, Result};
pub use ingest::{
    Assignment, ImportOptions, ImportProgress, ImportReport, Settled, SettledOutcome,
};
pub use master::{Archive, InitOptions, InitOutcome};
