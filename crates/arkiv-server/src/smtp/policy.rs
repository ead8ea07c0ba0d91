//! Who may send to the journal receiver, the limits, and the counters the status shows.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use arkiv_archive::SmtpConfig;
use arkiv_archive::intake::Intake;

/// A client network in CIDR notation: `192.0.2.0/24`, `2001:db8::/32`, or one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Network, String> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{s:?} is not a network such as 192.0.2.0/24"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Network { addr, prefix })
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Network {
    /// Whether `ip` is in this network (an IPv4 address mapped into IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Counts by reason.
#[derive(Default)]
pub struct Tally(Mutex<BTreeMap<&'static str, u64>>);

impl Tally {
    pub fn add(&self, why: &'static str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(why)
            .or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The journal receiver: its policy, the way into the archive, and what it has done.
pub struct Smtp {
    pub intake: Intake,
    pub trusted: Vec<Network>,
    pub plain: Vec<Network>,
    pub auth_users: Vec<String>,
    pub max_message: usize,
    pub max_recipients: usize,
    /// Bytes of messages being received by all sessions now, and the most they may hold
    /// together: a sender over it is told to come back later.
    pub receiving: AtomicUsize,
    pub receiving_limit: usize,
    pub connections: AtomicU64,
    /// Messages acknowledged with 250 (durable).
    pub accepted: AtomicU64,
    pub accepted_bytes: AtomicU64,
    /// Temporary failures (4xx): the sender keeps the message and retries.
    pub deferred: Tally,
    /// Permanent refusals (5xx) and refused commands.
    pub refused: Tally,
}

impl Smtp {
    /// The receiver as configured (networks checked), archiving through `intake`.
    pub fn new(
        cfg: &SmtpConfig,
        trusted_flags: &[String],
        plain_flags: &[String],
        intake: Intake,
    ) -> Result<Smtp, String> {
        let parse = |list: &[String], what: &str| -> Result<Vec<Network>, String> {
            list.iter()
                .map(|s| s.parse().map_err(|e| format!("smtp {what}: {e}")))
                .collect()
        };
        let mut trusted = parse(&cfg.trusted_networks, "trusted_networks")?;
        trusted.extend(parse(trusted_flags, "--smtp-trusted-network")?);
        let mut plain = parse(&cfg.plain_networks, "plain_networks")?;
        plain.extend(parse(plain_flags, "--smtp-plain-network")?);
        let max_message = usize::try_from(cfg.max_message_mb.max(1))
            .unwrap_or(usize::MAX >> 20)
            .saturating_mul(1 << 20);
        Ok(Smtp {
            intake,
            plain,
            trusted,
            auth_users: cfg.auth_users.clone(),
            max_message,
            max_recipients: cfg.max_recipients.clamp(1, 100_000),
            receiving: AtomicUsize::new(0),
            receiving_limit: (256usize << 20).max(max_message * 2),
            connections: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            accepted_bytes: AtomicU64::new(0),
            deferred: Tally::default(),
            refused: Tally::default(),
        })
    }

    pub fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(ip))
    }

    pub fn plain_allowed(&self, ip: IpAddr) -> bool {
        self.plain.iter().any(|n| n.contains(ip))
    }

    /// Whether `user` may send journal mail with AUTH.
    pub fn may_send(&self, user: &str) -> bool {
        self.auth_users
            .iter()
            .any(|u| arkiv_archive::users::same_name(u, user))
    }

    /// The status: counters since the start.
    pub fn status(&self) -> serde_json::Value {
        let c = &self.intake.counters;
        serde_json::json!({
            "connections": self.connections.load(Ordering::Relaxed),
            "accepted": self.accepted.load(Ordering::Relaxed),
            "acceptedBytes": self.accepted_bytes.load(Ordering::Relaxed),
            "deferred": self.deferred.snapshot(),
            "refused": self.refused.snapshot(),
            "queuedBytes": self.intake.queued_bytes(),
            "archiveFailures": c.deferred.load(Ordering::Relaxed),
            "trustedNetworks": self.trusted.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            "plainNetworks": self.plain.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            "authUsers": self.auth_users,
            "maxMessageBytes": self.max_message,
            "maxRecipients": self.max_recipients,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let n: Network = "10.1.0.0/16".parse().unwrap();
        assert!(n.contains("10.1.200.3".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.0.9".parse().unwrap()));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("192.0.2.1".parse().unwrap()));
        let one: Network = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6: Network = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("10.1.0.0".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("ten/8".parse::<Network>().is_err());
    }
}
