//! Login password hashing with Argon2id (PHC string format).

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::{CryptoError, Result, random_bytes};

fn argon2() -> Argon2<'static> {
    // OWASP's recommended Argon2id setting: 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).expect("static Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password; the result is a self-describing `$argon2id$...` string.
pub fn hash(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    random_bytes(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| CryptoError::Password(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError::Password(e.to_string()))
}

/// Checks a password against a stored hash. A malformed hash never verifies.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The memory of one Argon2id check (19 MiB), kept and reused: a server checks logons with a
/// fixed set of these, one per check running at a time, so a burst of logons costs a fixed
/// amount of memory (glibc keeps a freed 19 MiB resident; a burst on many threads kept each).
pub struct Workspace(Vec<Block>);

impl Default for Workspace {
    fn default() -> Self {
        Workspace(vec![Block::new(); 19 * 1024])
    }
}

/// Like [`verify`], computing in `ws` instead of fresh memory.
pub fn verify_in(password: &str, phc: &str, ws: &mut Workspace) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(alg), Ok(params), Some(hash), Some(salt)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.hash,
        parsed.salt,
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    if ws.0.len() < params.block_count() {
        ws.0.resize(params.block_count(), Block::new());
    }
    let mut out = vec![0u8; hash.len()];
    let computed = Argon2::new(alg, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        &mut ws.0[..],
    );
    // `Output`'s comparison takes constant time.
    computed.is_ok() && Output::new(&out).is_ok_and(|o| o == hash)
}

#[cfg(test)]
mod tests {
    #[test]
    fn argon2id_round_trip() {
        let h = super::hash("Correct Horse 9").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("Correct Horse 9", &h));
        assert!(!super::verify("correct horse 9", &h));
        assert!(!super::verify("x", "not a hash"));
        let mut ws = super::Workspace::default();
        for _ in 0..2 {
            assert!(super::verify_in("Correct Horse 9", &h, &mut ws));
            assert!(!super::verify_in("correct horse 9", &h, &mut ws));
        }
        assert!(!super::verify_in("x", "not a hash", &mut ws));
    }
}
