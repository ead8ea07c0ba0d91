//! Logons that hold under attack, for every front-end (web, Administration API, IMAP, SMTP).
//!
//! [`Archive::authenticate`] turns a user name and password into a [`Caller`]. The policy:
//!
//! * **Lockout per account and address.** Failures count per (account, client address): after
//!   [`PAIR_LIMIT`] within [`WINDOW`], that account is locked *from that address* for
//!   [`WINDOW`]. The right password from another address still logs on: nobody can lock an
//!   administrator out of the server from afar. Failures also count per address across
//!   accounts: after [`ADDRESS_LIMIT`] the address is locked for every account (password
//!   spraying). A successful logon clears its own (account, address) count only, never the
//!   address's count for other accounts.
//! * **Decided before the hash, counted atomically.** An attempt is admitted under one lock
//!   that counts failures *and attempts in flight*: of 150 concurrent wrong logons for one
//!   account, [`PAIR_LIMIT`] are checked and the rest are refused as locked at once, without
//!   an Argon2 computation.
//! * **Bounded work.** At most one Argon2id check per CPU core runs at a time, each in one of
//!   a fixed set of 19 MiB workspaces that are kept and reused (so a burst of logons costs a
//!   fixed amount of memory); the others wait up to [`BUSY_WAIT`], then get
//!   [`LogonError::Busy`] (HTTP 503).
//! * **A short credential cache.** A verified (user, password) is remembered for
//!   [`CACHE_TTL`] under a keyed BLAKE3 hash of both (the key is random per process; the
//!   password itself is never kept), so scripts that send Basic credentials with every call run
//!   at API speed. Any change to users (password, privileges, authentication, rename,
//!   deletion) empties the cache.
//! * User names compare by one rule ([`crate::users::fold_name`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::access::{Caller, Via};
use crate::error::ArchiveError;
use crate::master::Archive;
use crate::users::{Authentication, fold_name};

/// Failures of one account from one address before that pair is locked.
pub const PAIR_LIMIT: u32 = 5;
/// Failures from one address, over all accounts, before the address is locked.
pub const ADDRESS_LIMIT: u32 = 30;
/// Failures within this window count together; a lock lasts as long.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long a logon waits for a free Argon2 slot before it is refused as busy.
pub const BUSY_WAIT: Duration = Duration::from_secs(10);
/// How long a verified credential is remembered.
pub const CACHE_TTL: Duration = Duration::from_secs(5 * 60);
/// At most this many credentials are remembered (the oldest are dropped).
const CACHE_MAX: usize = 4096;

/// Why a logon was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogonError {
    #[error("wrong user name or password")]
    Wrong,
    /// Too many failures: the account from this address, or this address, is locked.
    #[error("too many failed logons: try again in {} minutes", .retry_after.as_secs().div_ceil(60))]
    Locked { retry_after: Duration },
    #[error("the server is busy checking other logons: try again shortly")]
    Busy,
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

#[derive(Clone, Copy, Debug)]
struct Count {
    failures: u32,
    in_flight: u32,
    since: Instant,
    locked_at: Option<Instant>,
}

impl Count {
    fn new() -> Count {
        Count {
            failures: 0,
            in_flight: 0,
            since: Instant::now(),
            locked_at: None,
        }
    }

    fn expire(&mut self) {
        if let Some(at) = self.locked_at
            && at.elapsed() >= WINDOW
        {
            *self = Count {
                in_flight: self.in_flight,
                ..Count::new()
            };
        }
        if self.locked_at.is_none() && self.since.elapsed() >= WINDOW {
            self.failures = 0;
            self.since = Instant::now();
        }
    }

    /// Whether one more attempt may start (failures plus attempts in flight stay below the
    /// limit); the remaining lock time if not.
    fn admits(&mut self, limit: u32) -> Result<(), Duration> {
        self.expire();
        if let Some(at) = self.locked_at {
            return Err(WINDOW.saturating_sub(at.elapsed()));
        }
        if self.failures + self.in_flight >= limit {
            return Err(WINDOW);
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, IpAddr),
    Address(IpAddr),
}

struct Cached {
    name: String,
    generation: u64,
    at: Instant,
}

/// The logon state of one archive (held by [`Archive`]).
pub struct Authenticator {
    counts: Mutex<HashMap<Key, Count>>,
    /// The memory of the Argon2 checks (one per check at a time; made on first need), and
    /// the wake-up for those waiting for one.
    pool: Mutex<(Vec<arkiv_crypto::password::Workspace>, usize)>,
    freed: Condvar,
    slots: usize,
    cache: Mutex<HashMap<[u8; 32], Cached>>,
    cache_key: [u8; 32],
    /// Bumped by every change to users; cache entries of an older generation are void.
    generation: AtomicU64,
    cache_on: bool,
}

impl Default for Authenticator {
    fn default() -> Self {
        let mut cache_key = [0u8; 32];
        getrandom::fill(&mut cache_key).expect("the system's random source works");
        Authenticator {
            counts: Mutex::new(HashMap::new()),
            pool: Mutex::new((Vec::new(), 0)),
            freed: Condvar::new(),
            slots: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            cache: Mutex::new(HashMap::new()),
            cache_key,
            generation: AtomicU64::new(0),
            // `ARKIV_CREDENTIAL_CACHE=off`: every logon an Argon2 check (for `arkiv bench
            // api`, and for whoever wants that).
            cache_on: std::env::var("ARKIV_CREDENTIAL_CACHE")
                .map_or(true, |v| !v.eq_ignore_ascii_case("off")),
        }
    }
}

/// Holds one Argon2 slot and its memory; gives both back when dropped.
struct Slot<'a> {
    auth: &'a Authenticator,
    ws: Option<arkiv_crypto::password::Workspace>,
}

impl Slot<'_> {
    fn workspace(&mut self) -> &mut arkiv_crypto::password::Workspace {
        self.ws.as_mut().expect("held until dropped")
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(ws) = self.ws.take() {
            self.auth
                .pool
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .0
                .push(ws);
        }
        self.auth.freed.notify_one();
    }
}

impl Authenticator {
    /// Forgets every remembered credential (a user was changed).
    pub fn users_changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn keys(account: &str, ip: IpAddr) -> [(Key, u32); 2] {
        [
            (Key::Pair(fold_name(account), ip), PAIR_LIMIT),
            (Key::Address(ip), ADDRESS_LIMIT),
        ]
    }

    /// Admits an attempt (counted as in flight) or refuses it as locked.
    fn begin(&self, account: &str, ip: IpAddr) -> Result<(), LogonError> {
        let mut m = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let keys = Self::keys(account, ip);
        for (k, limit) in &keys {
            let c = m.entry(k.clone()).or_insert_with(Count::new);
            if let Err(retry_after) = c.admits(*limit) {
                return Err(LogonError::Locked { retry_after });
            }
        }
        for (k, _) in &keys {
            if let Some(c) = m.get_mut(k) {
                c.in_flight += 1;
            }
        }
        Ok(())
    }

    /// Ends an admitted attempt; returns the failures in a row of the pair after a failure.
    fn end(&self, account: &str, ip: IpAddr, ok: bool) -> u32 {
        let mut m = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mut pair_failures = 0;
        for (k, limit) in Self::keys(account, ip) {
            let Some(c) = m.get_mut(&k) else { continue };
            c.in_flight = c.in_flight.saturating_sub(1);
            match (&k, ok) {
                // Success clears the pair only: never the address's count for other accounts.
                (Key::Pair(..), true) => {
                    c.failures = 0;
                    c.locked_at = None;
                }
                (_, true) => {}
                (_, false) => {
                    c.failures += 1;
                    if c.failures >= limit && c.locked_at.is_none() {
                        c.locked_at = Some(Instant::now());
                    }
                    if matches!(k, Key::Pair(..)) {
                        pair_failures = c.failures;
                    }
                }
            }
        }
        // Forget what nobody needs any more, so a flood of names cannot grow the map forever.
        if m.len() > 100_000 {
            m.retain(|_, c| {
                c.expire();
                c.in_flight > 0 || c.failures > 0 || c.locked_at.is_some()
            });
        }
        pair_failures
    }

    fn slot(&self) -> Result<Slot<'_>, LogonError> {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = Instant::now() + BUSY_WAIT;
        loop {
            if let Some(ws) = pool.0.pop() {
                return Ok(Slot {
                    auth: self,
                    ws: Some(ws),
                });
            }
            if pool.1 < self.slots {
                pool.1 += 1;
                return Ok(Slot {
                    auth: self,
                    ws: Some(Default::default()),
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LogonError::Busy);
            }
            pool = self
                .freed
                .wait_timeout(pool, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn cache_id(&self, account: &str, password: &str) -> [u8; 32] {
        let mut h = blake3::Hasher::new_keyed(&self.cache_key);
        let folded = fold_name(account);
        h.update(&(folded.len() as u64).to_le_bytes());
        h.update(folded.as_bytes());
        h.update(password.as_bytes());
        *h.finalize().as_bytes()
    }

    fn cached(&self, id: &[u8; 32]) -> Option<String> {
        if !self.cache_on {
            return None;
        }
        let m = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let c = m.get(id)?;
        (c.generation == self.generation.load(Ordering::SeqCst) && c.at.elapsed() < CACHE_TTL)
            .then(|| c.name.clone())
    }

    fn remember(&self, id: [u8; 32], name: &str, generation: u64) {
        let mut m = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if generation != self.generation.load(Ordering::SeqCst) {
            return;
        }
        if m.len() >= CACHE_MAX {
            m.retain(|_, c| c.at.elapsed() < CACHE_TTL);
            if m.len() >= CACHE_MAX
                && let Some(oldest) = m.iter().min_by_key(|(_, c)| c.at).map(|(k, _)| *k)
            {
                m.remove(&oldest);
            }
        }
        m.insert(
            id,
            Cached {
                name: name.to_string(),
                generation,
                at: Instant::now(),
            },
        );
    }
}

impl Archive {
    /// Checks a user name and password from `client` and returns the caller. Refusals are
    /// the caller's to audit (it knows the door and the function).
    pub fn authenticate(
        &self,
        name: &str,
        password: &str,
        via: Via,
        client: IpAddr,
    ) -> Result<Caller, LogonError> {
        let auth = &self.auth;
        auth.begin(name, client)?;
        let id = auth.cache_id(name, password);
        let generation = auth.generation.load(Ordering::SeqCst);
        let verified = match auth.cached(&id) {
            Some(user) => Ok(Some(user)),
            None => auth.slot().and_then(|mut slot| {
                let ok = self.check_password_in(name, password, slot.workspace());
                drop(slot);
                let ok = ok?;
                Ok(ok.then(|| name.to_string()))
            }),
        };
        let user = match verified {
            Ok(Some(user)) => user,
            Ok(None) => {
                auth.end(name, client, false);
                return Err(LogonError::Wrong);
            }
            Err(e) => {
                // Not a wrong password: the attempt is not counted against anyone.
                let mut m = auth.counts.lock().unwrap_or_else(|p| p.into_inner());
                for (k, _) in Authenticator::keys(name, client) {
                    if let Some(c) = m.get_mut(&k) {
                        c.in_flight = c.in_flight.saturating_sub(1);
                    }
                }
                return Err(e);
            }
        };
        let caller = match self.caller(&user, via, &client.to_string()) {
            Ok(c) => c,
            Err(e) => {
                auth.end(name, client, false);
                return Err(e.into());
            }
        };
        auth.end(name, client, true);
        auth.remember(id, &user, generation);
        Ok(caller)
    }

    /// How many failures in a row `name` has from `client` (for slowing the next answer).
    pub fn logon_failures(&self, name: &str, client: IpAddr) -> u32 {
        let m = self.auth.counts.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&Key::Pair(fold_name(name), client))
            .map_or(0, |c| c.failures)
    }

    /// Whether a user may log on with a password here at all (integrated authentication).
    pub fn logs_on_here(&self, name: &str) -> bool {
        self.user(name)
            .is_ok_and(|u| u.authentication == Authentication::Integrated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_locked_before_hashing_and_only_for_its_pair() {
        let a = Authenticator::default();
        let (x, y): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        // 150 attempts at once: only PAIR_LIMIT are admitted.
        let admitted = (0..150).filter(|_| a.begin("admin", x).is_ok()).count();
        assert_eq!(admitted as u32, PAIR_LIMIT);
        for _ in 0..admitted {
            a.end("admin", x, false);
        }
        assert!(matches!(
            a.begin("admin", x),
            Err(LogonError::Locked { .. })
        ));
        assert!(
            matches!(a.begin("ADMIN", x), Err(LogonError::Locked { .. })),
            "one name rule"
        );
        // The same account from another address is not locked.
        assert!(a.begin("admin", y).is_ok());
        a.end("admin", y, true);
        // Another account from the locked address is not locked either (below ADDRESS_LIMIT).
        assert!(a.begin("alice", x).is_ok());
        a.end("alice", x, true);
    }

    #[test]
    fn an_address_spraying_accounts_is_locked() {
        let a = Authenticator::default();
        let x: IpAddr = "192.0.2.9".parse().unwrap();
        for i in 0..ADDRESS_LIMIT {
            let name = format!("user{i}");
            a.begin(&name, x).unwrap();
            a.end(&name, x, false);
        }
        assert!(matches!(
            a.begin("someone", x),
            Err(LogonError::Locked { .. })
        ));
        // A success of one account does not reset the address's count for the others.
        assert!(matches!(
            a.begin("user0", x),
            Err(LogonError::Locked { .. })
        ));
    }

    #[test]
    fn the_cache_forgets_on_any_user_change() {
        let a = Authenticator::default();
        let id = a.cache_id("alice", "pw");
        assert_ne!(id, a.cache_id("alice", "pw2"));
        assert_eq!(id, a.cache_id("ALICE", "pw"));
        a.remember(id, "alice", a.generation.load(Ordering::SeqCst));
        assert_eq!(a.cached(&id).as_deref(), Some("alice"));
        a.users_changed();
        assert_eq!(a.cached(&id), None);
    }
}
