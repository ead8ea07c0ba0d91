use std::fmt;
use std::fs;
use std::io::Write;
use std::path::Path;

use data_encoding::{BASE32_NOPAD, BASE64};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::keys::{MasterKey, Sealer};
use crate::{CryptoError, Result, random_bytes};

const KEY_FILE_TAG: &str = "arkiv-key-file-v1";
const WRAP_AD: &[u8] = b"arkiv master key v1";

/// The recovery key shown once at setup: 256 random bits as grouped base32.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RecoveryKey([u8; 32]);

impl RecoveryKey {
    /// Accepts the printed form with or without dashes/spaces, any case.
    pub fn parse(text: &str) -> Result<Self> {
        let cleaned: String = text
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let cleaned = cleaned.strip_prefix("ARKIV").unwrap_or(&cleaned);
        let bytes = BASE32_NOPAD
            .decode(cleaned.as_bytes())
            .map_err(|_| CryptoError::MalformedRecoveryKey)?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::MalformedRecoveryKey)?;
        Ok(RecoveryKey(arr))
    }

    fn sealer(&self) -> Sealer {
        Sealer::new(&blake3::derive_key("arkiv 2026 recovery key wrap", &self.0))
    }
}

impl fmt::Display for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = BASE32_NOPAD.encode(&self.0);
        let groups: Vec<&str> = s
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect();
        write!(f, "ARKIV-{}", groups.join("-"))
    }
}

/// What `Keyring::create` hands back: the unlocked master key and the recovery key to print.
pub struct KeyringInit {
    pub master: MasterKey,
    pub recovery: RecoveryKey,
}

/// The wrapped master key, as stored in `DATA/keyring.json`.
#[derive(Serialize, Deserialize)]
pub struct Keyring {
    format: u32,
    /// The master key sealed by the key file's key.
    by_key_file: String,
    /// The master key sealed by the recovery key.
    by_recovery: String,
    /// The key the master database is sealed with, sealed by the master key. Absent until
    /// the first `RenewMasterKey`: the master key itself is that key until then. (Renewing
    /// the master key renews the key that wraps the stores' keys, manual §7.2; the master
    /// database keeps its key, now wrapped by the new one.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    db_key: Option<String>,
}

/// What the keyring unlocks: the master key (it wraps every store's data key) and the key the
/// master database is sealed with.
pub struct Unlocked {
    pub master: MasterKey,
    pub database: MasterKey,
}

/// A renewal of the master key, prepared but not yet in force (see [`Keyring::prepare_renewal`]).
pub struct Renewal {
    pub old: MasterKey,
    pub new: MasterKey,
    /// The new master key sealed by the (unchanged) recovery key: what stores keep a copy of.
    pub recovery_wrap: Vec<u8>,
    ring: Keyring,
}

impl Keyring {
    /// Creates a new master key, key file and keyring. Refuses to overwrite either file.
    pub fn create(keyring_path: &Path, key_file: &Path) -> Result<KeyringInit> {
        for p in [keyring_path, key_file] {
            if p.exists() {
                return Err(CryptoError::Malformed {
                    what: p.display().to_string(),
                    detail: "already exists; refusing to overwrite key material".into(),
                });
            }
        }
        let master = MasterKey::generate()?;
        let mut rk = [0u8; 32];
        random_bytes(&mut rk)?;
        let recovery = RecoveryKey(rk);
        rk.zeroize();
        let file_key = write_new_key_file(key_file)?;
        let ring = Keyring {
            format: 1,
            by_key_file: BASE64.encode(&Sealer::new(&file_key).seal(WRAP_AD, master.bytes())?),
            by_recovery: BASE64.encode(&recovery.sealer().seal(WRAP_AD, master.bytes())?),
            db_key: None,
        };
        ring.save(keyring_path)?;
        Ok(KeyringInit { master, recovery })
    }

    /// Unlocks the master key with the key file.
    pub fn unlock(keyring_path: &Path, key_file: &Path) -> Result<MasterKey> {
        let ring = Keyring::load(keyring_path)?;
        let file_key = read_key_file(key_file)?;
        let sealed = ring.decode(&ring.by_key_file)?;
        let plain = Sealer::new(&file_key)
            .open(WRAP_AD, &sealed, "the master key")
            .map_err(|_| CryptoError::WrongKeyFile {
                path: key_file.display().to_string(),
            })?;
        to_master(plain)
    }

    /// Unlocks the master key with the recovery key and writes a fresh key file in place of
    /// the lost one (an existing key file is kept aside as `<name>.old`).
    pub fn recover(
        keyring_path: &Path,
        key_file: &Path,
        recovery: &RecoveryKey,
    ) -> Result<MasterKey> {
        let mut ring = Keyring::load(keyring_path)?;
        let sealed = ring.decode(&ring.by_recovery)?;
        let plain = recovery
            .sealer()
            .open(WRAP_AD, &sealed, "the master key")
            .map_err(|_| CryptoError::WrongRecoveryKey)?;
        let master = to_master(plain)?;
        if key_file.exists() {
            let old = key_file.with_extension("key.old");
            fs::rename(key_file, &old).map_err(|e| io_err(key_file, e))?;
        }
        let file_key = write_new_key_file(key_file)?;
        ring.by_key_file = BASE64.encode(&Sealer::new(&file_key).seal(WRAP_AD, master.bytes())?);
        ring.save(keyring_path)?;
        Ok(master)
    }

    /// The master key sealed by the recovery key, as kept in `keyring.json`. Each store keeps
    /// a copy, so that a store taken to another installation can be unlocked there with this
    /// installation's recovery key ([`Keyring::master_from_recovery_wrap`]).
    pub fn recovery_wrap(keyring_path: &Path) -> Result<Vec<u8>> {
        let ring = Keyring::load(keyring_path)?;
        ring.decode(&ring.by_recovery)
    }

    /// Writes a new keyring and key file for a master key recovered from a store's copy of the
    /// recovery wrap (when `keyring.json` itself was lost or damaged): the key file is new,
    /// the recovery key stays what it was (`recovery_wrap` is kept as it is). An existing key
    /// file is kept aside as `<name>.old`; the keyring is written atomically over whatever is
    /// there (the caller keeps a damaged one aside first).
    pub fn restore(
        keyring_path: &Path,
        key_file: &Path,
        master: &MasterKey,
        recovery_wrap: &[u8],
    ) -> Result<()> {
        if key_file.exists() {
            let old = key_file.with_extension("key.old");
            fs::rename(key_file, &old).map_err(|e| io_err(key_file, e))?;
        }
        let file_key = write_new_key_file(key_file)?;
        let ring = Keyring {
            format: 1,
            by_key_file: BASE64.encode(&Sealer::new(&file_key).seal(WRAP_AD, master.bytes())?),
            by_recovery: BASE64.encode(recovery_wrap),
            db_key: None,
        };
        ring.save(keyring_path)
    }

    /// Unlocks the master key and the master database's key with the key file.
    pub fn unlock_keys(keyring_path: &Path, key_file: &Path) -> Result<Unlocked> {
        let master = Keyring::unlock(keyring_path, key_file)?;
        let ring = Keyring::load(keyring_path)?;
        let database = match &ring.db_key {
            None => master.clone(),
            Some(d) => to_master(master.sealer("database key wrap").open(
                WRAP_AD,
                &ring.decode(d)?,
                "the master database key",
            )?)?,
        };
        Ok(Unlocked { master, database })
    }

    /// `RenewMasterKey`, first step: a new master key, sealed by the same key file and the same
    /// recovery key (which must be given: it is never kept), the master database's key sealed
    /// by the new one. Nothing is written: [`Keyring::commit_renewal`] writes the keyring
    /// (atomically) once every store has the new wrap of its key staged; until then the old
    /// master key opens everything.
    pub fn prepare_renewal(
        keyring_path: &Path,
        key_file: &Path,
        recovery: &RecoveryKey,
    ) -> Result<Renewal> {
        let Unlocked { master, database } = Keyring::unlock_keys(keyring_path, key_file)?;
        let ring = Keyring::load(keyring_path)?;
        let by_recovery = recovery
            .sealer()
            .open(WRAP_AD, &ring.decode(&ring.by_recovery)?, "the master key")
            .map_err(|_| CryptoError::WrongRecoveryKey)?;
        if by_recovery.as_slice() != master.bytes().as_slice() {
            return Err(CryptoError::WrongRecoveryKey);
        }
        let new = MasterKey::generate()?;
        let file_key = read_key_file(key_file)?;
        let recovery_wrap = recovery.sealer().seal(WRAP_AD, new.bytes())?;
        let ring = Keyring {
            format: 1,
            by_key_file: BASE64.encode(&Sealer::new(&file_key).seal(WRAP_AD, new.bytes())?),
            by_recovery: BASE64.encode(&recovery_wrap),
            db_key: Some(
                BASE64.encode(
                    &new.sealer("database key wrap")
                        .seal(WRAP_AD, database.bytes())?,
                ),
            ),
        };
        Ok(Renewal {
            old: master,
            new,
            recovery_wrap,
            ring,
        })
    }

    /// `RenewMasterKey`, the commit: the new keyring replaces the old one (temp file, fsync,
    /// rename, directory fsync).
    pub fn commit_renewal(keyring_path: &Path, renewal: &Renewal) -> Result<()> {
        renewal.ring.save(keyring_path)
    }

    /// Opens a [`Keyring::recovery_wrap`] with the recovery key it was made with.
    pub fn master_from_recovery_wrap(wrap: &[u8], recovery: &RecoveryKey) -> Result<MasterKey> {
        let plain = recovery
            .sealer()
            .open(WRAP_AD, wrap, "the master key")
            .map_err(|_| CryptoError::WrongRecoveryKey)?;
        to_master(plain)
    }

    fn load(path: &Path) -> Result<Keyring> {
        let text = fs::read_to_string(path).map_err(|e| io_err(path, e))?;
        let ring: Keyring = serde_json::from_str(&text).map_err(|e| CryptoError::Malformed {
            what: path.display().to_string(),
            detail: e.to_string(),
        })?;
        if ring.format != 1 {
            return Err(CryptoError::Malformed {
                what: path.display().to_string(),
                detail: format!("unknown keyring format {}", ring.format),
            });
        }
        Ok(ring)
    }

    fn decode(&self, s: &str) -> Result<Vec<u8>> {
        BASE64
            .decode(s.as_bytes())
            .map_err(|e| CryptoError::Malformed {
                what: "keyring".into(),
                detail: e.to_string(),
            })
    }

    fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("keyring serializes");
        write_atomic(path, json.as_bytes(), false)
    }
}

fn to_master(mut plain: Vec<u8>) -> Result<MasterKey> {
    let arr: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| CryptoError::Malformed {
            what: "master key".into(),
            detail: "wrong length".into(),
        })?;
    plain.zeroize();
    Ok(MasterKey::from_bytes(arr))
}

fn write_new_key_file(path: &Path) -> Result<[u8; 32]> {
    let mut key = [0u8; 32];
    random_bytes(&mut key)?;
    let text = format!("{KEY_FILE_TAG} {}\n", BASE64.encode(&key));
    write_atomic(path, text.as_bytes(), true)?;
    Ok(key)
}

fn read_key_file(path: &Path) -> Result<[u8; 32]> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CryptoError::MissingKeyFile {
                path: path.display().to_string(),
            });
        }
        Err(e) => return Err(io_err(path, e)),
    };
    let wrong = || CryptoError::WrongKeyFile {
        path: path.display().to_string(),
    };
    let b64 = text
        .trim()
        .strip_prefix(KEY_FILE_TAG)
        .ok_or_else(wrong)?
        .trim();
    let bytes = BASE64.decode(b64.as_bytes()).map_err(|_| wrong())?;
    bytes.as_slice().try_into().map_err(|_| wrong())
}

/// Writes via a temporary file, fsyncs it, renames it into place and fsyncs the directory.
fn write_atomic(path: &Path, data: &[u8], secret: bool) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if secret {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = secret;
        let mut f = opts.open(&tmp).map_err(|e| io_err(&tmp, e))?;
        f.write_all(data).map_err(|e| io_err(&tmp, e))?;
        f.sync_all().map_err(|e| io_err(&tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
    // The rename is durable only once the directory is: its error fails the write.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err(dir, e))?;
    }
    Ok(())
}

fn io_err(path: &Path, source: std::io::Error) -> CryptoError {
    CryptoError::Io {
        path: path.display().to_string(),
        err: source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_unlock_recover() {
        let dir = tempfile::tempdir().unwrap();
        let ring = dir.path().join("keyring.json");
        let kf = dir.path().join("arkiv.key");
        let init = Keyring::create(&ring, &kf).unwrap();
        let printed = init.recovery.to_string();
        assert!(printed.starts_with("ARKIV-"));
        let mk = Keyring::unlock(&ring, &kf).unwrap();
        assert_eq!(mk.bytes(), init.master.bytes());
        assert!(Keyring::create(&ring, &kf).is_err(), "must not overwrite");

        // A key file from another installation is refused clearly.
        let other = tempfile::tempdir().unwrap();
        let okf = other.path().join("arkiv.key");
        Keyring::create(&other.path().join("keyring.json"), &okf).unwrap();
        assert!(matches!(
            Keyring::unlock(&ring, &okf),
            Err(CryptoError::WrongKeyFile { .. })
        ));

        // Lost key file: recover with the printed recovery key (lower case, spaces).
        fs::remove_file(&kf).unwrap();
        assert!(matches!(
            Keyring::unlock(&ring, &kf),
            Err(CryptoError::MissingKeyFile { .. })
        ));
        let typed = printed.to_lowercase().replace('-', " ");
        let rk = RecoveryKey::parse(&typed).unwrap();
        let mk2 = Keyring::recover(&ring, &kf, &rk).unwrap();
        assert_eq!(mk2.bytes(), init.master.bytes());
        assert_eq!(
            Keyring::unlock(&ring, &kf).unwrap().bytes(),
            init.master.bytes()
        );

        let wrong = RecoveryKey([7u8; 32]);
        assert!(matches!(
            Keyring::recover(&ring, &kf, &wrong),
            Err(CryptoError::WrongRecoveryKey)
        ));
        assert!(RecoveryKey::parse("ARKIV-nonsense").is_err());
    }
}
