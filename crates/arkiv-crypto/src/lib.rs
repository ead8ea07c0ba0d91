//! Arkiv's key hierarchy and sealing — the only crate that touches key material.
//!
//! ```text
//!  key file (DATA/arkiv.key, 0600) ──┐
//!                                    ├─ unwraps ─▶ MasterKey ─ wraps ─▶ store DataKey ─▶ Sealer (blobs, records)
//!  recovery key (shown once) ────────┘                 └─ derives ─▶ master-db Sealer, KeyedHasher (lookups)
//! ```
//!
//! * [`Keyring`] is the small JSON file in the data directory holding the master key wrapped
//!   twice: once by the key file, once by the recovery key. Losing the key file is recoverable
//!   with the recovery key ([`Keyring::recover`]); a wrong key file is refused by the AEAD tag,
//!   never silently accepted.
//! * [`Sealer`] is an XChaCha20-Poly1305 key: `seal(ad, plaintext)` → `nonce ‖ ciphertext ‖ tag`.
//!   Random 192-bit nonces make nonce reuse a non-issue without counters. The associated data
//!   binds a ciphertext to where it belongs (a table key, a blob id), so records cannot be
//!   swapped undetected.
//! * [`KeyedHasher`] is keyed BLAKE3: lookup keys (content ids, folder names) that reveal
//!   nothing to someone holding only the data directory, not even whether a known message is
//!   in it.
//! * [`password`] hashes login passwords with Argon2id (PHC strings).
//!
//! All secrets are zeroized on drop.

mod keyring;
mod keys;
pub mod password;

pub use keyring::{Keyring, KeyringInit, RecoveryKey, Renewal, Unlocked};
pub use keys::{DataKey, KeyedHasher, MasterKey, Sealer};

/// Everything that can go wrong with keys and sealed data.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("decryption failed for {what}: the data was modified or a different key is in use")]
    Decrypt { what: String },
    #[error(
        "the key file {path} does not unlock this data directory (wrong or damaged key file?); restore the right key file or run `arkiv recover` with the recovery key"
    )]
    WrongKeyFile { path: String },
    #[error(
        "the key file {path} is missing; restore it from your backup or run `arkiv recover` with the recovery key printed at setup"
    )]
    MissingKeyFile { path: String },
    #[error("the recovery key is not valid for this data directory")]
    WrongRecoveryKey,
    #[error(
        "that is not a recovery key: expected the ARKIV-XXXX-XXXX-... key printed by `arkiv init` (52 letters and digits after ARKIV)"
    )]
    MalformedRecoveryKey,
    #[error("malformed {what}: {detail}")]
    Malformed { what: String, detail: String },
    #[error("I/O error on {path}: {err}")]
    Io { path: String, err: std::io::Error },
    #[error("the system random number generator failed: {0}")]
    Random(String),
    #[error("password hashing failed: {0}")]
    Password(String),
}

pub type Result<T> = std::result::Result<T, CryptoError>;

/// Fills `buf` from the operating system's CSPRNG.
pub fn random_bytes(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| CryptoError::Random(e.to_string()))
}
