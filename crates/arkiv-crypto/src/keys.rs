use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{CryptoError, Result, random_bytes};

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The archive's root secret. Never written anywhere unwrapped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn generate() -> Result<Self> {
        let mut k = [0u8; 32];
        random_bytes(&mut k)?;
        Ok(MasterKey(k))
    }

    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A sealer for one purpose, derived so that purposes never share a key.
    pub fn sealer(&self, purpose: &str) -> Sealer {
        Sealer::new(&blake3::derive_key(
            &format!("arkiv 2026 sealer {purpose}"),
            &self.0,
        ))
    }

    /// A keyed hasher for one purpose.
    pub fn hasher(&self, purpose: &str) -> KeyedHasher {
        KeyedHasher(blake3::derive_key(
            &format!("arkiv 2026 hasher {purpose}"),
            &self.0,
        ))
    }

    /// Wraps a store data key for storage next to the store (bound to the store's uuid).
    pub fn wrap_data_key(&self, key: &DataKey, store_uuid: &str) -> Result<Vec<u8>> {
        self.sealer("data-key-wrap")
            .seal(store_uuid.as_bytes(), &key.0)
    }

    pub fn unwrap_data_key(&self, wrapped: &[u8], store_uuid: &str) -> Result<DataKey> {
        let plain = self.sealer("data-key-wrap").open(
            store_uuid.as_bytes(),
            wrapped,
            "a store data key",
        )?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Malformed {
                what: "store data key".into(),
                detail: "wrong length".into(),
            })?;
        Ok(DataKey(bytes))
    }
}

/// The key of one archive store; everything in the store is sealed with keys derived from it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn generate() -> Result<Self> {
        let mut k = [0u8; 32];
        random_bytes(&mut k)?;
        Ok(DataKey(k))
    }

    pub fn sealer(&self, purpose: &str) -> Sealer {
        Sealer::new(&blake3::derive_key(
            &format!("arkiv 2026 store sealer {purpose}"),
            &self.0,
        ))
    }

    pub fn hasher(&self, purpose: &str) -> KeyedHasher {
        KeyedHasher(blake3::derive_key(
            &format!("arkiv 2026 store hasher {purpose}"),
            &self.0,
        ))
    }
}

/// An AEAD key (XChaCha20-Poly1305).
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl Sealer {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Sealer {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// Bytes added to every sealed plaintext.
    pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

    /// Encrypts `plaintext`, binding it to `ad`. Output: `nonce ‖ ciphertext ‖ tag`.
    pub fn seal(&self, ad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let ct = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: ad,
                },
            )
            .map_err(|_| CryptoError::Malformed {
                what: "plaintext".into(),
                detail: "too large to seal".into(),
            })?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts what [`Sealer::seal`] made with the same `ad`; `what` names it in errors.
    pub fn open(&self, ad: &[u8], sealed: &[u8], what: &str) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Decrypt {
                what: what.to_string(),
            });
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: ad })
            .map_err(|_| CryptoError::Decrypt {
                what: what.to_string(),
            })
    }
}

/// Keyed BLAKE3, for lookup keys that must not reveal what they index.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KeyedHasher([u8; 32]);

impl KeyedHasher {
    pub fn hash(&self, data: &[u8]) -> [u8; 32] {
        *blake3::keyed_hash(&self.0, data).as_bytes()
    }

    /// Hashes several fields unambiguously (each prefixed by its length).
    pub fn hash_parts(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        for p in parts {
            h.update(&(p.len() as u64).to_le_bytes());
            h.update(p);
        }
        *h.finalize().as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let mk = MasterKey::generate().unwrap();
        let s = mk.sealer("test");
        let sealed = s.seal(b"ad", b"hello").unwrap();
        assert_eq!(s.open(b"ad", &sealed, "x").unwrap(), b"hello");
        assert!(s.open(b"other ad", &sealed, "x").is_err());
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(s.open(b"ad", &bad, "x").is_err());
        assert!(mk.sealer("other").open(b"ad", &sealed, "x").is_err());
        assert!(s.open(b"ad", &sealed[..10], "x").is_err());
    }

    #[test]
    fn data_keys_wrap_per_store() {
        let mk = MasterKey::generate().unwrap();
        let dk = DataKey::generate().unwrap();
        let w = mk.wrap_data_key(&dk, "store-a").unwrap();
        let back = mk.unwrap_data_key(&w, "store-a").unwrap();
        assert_eq!(back.0, dk.0);
        assert!(mk.unwrap_data_key(&w, "store-b").is_err());
        assert!(
            MasterKey::generate()
                .unwrap()
                .unwrap_data_key(&w, "store-a")
                .is_err()
        );
    }

    #[test]
    fn keyed_hashes_differ_by_key_and_framing() {
        let a = MasterKey::generate().unwrap().hasher("x");
        let b = MasterKey::generate().unwrap().hasher("x");
        assert_ne!(a.hash(b"m"), b.hash(b"m"));
        assert_ne!(a.hash_parts(&[b"ab", b"c"]), a.hash_parts(&[b"a", b"bc"]));
    }
}
