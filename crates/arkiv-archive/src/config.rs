//! `DATA/arkiv.toml`: the data directory's own settings. Unknown keys are an error, not ignored.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ArchiveError, Result, io_err};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub storage: StorageConfig,
    pub import: ImportConfig,
    pub attachments: AttachmentsConfig,
    pub server: ServerConfig,
    pub compliance: ComplianceConfig,
    pub smtp: SmtpConfig,
}

/// The SMTP journal receiver (SPEC A7): mail servers send it a copy of every message they
/// handle. Off until a listener is configured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Listeners with STARTTLS, e.g. `["0.0.0.0:25"]`; empty = off.
    pub listen: Vec<String>,
    /// Listeners with implicit TLS (submissions, port 465).
    pub listen_tls: Vec<String>,
    /// Client networks (CIDR, e.g. `10.0.0.0/8`, `::1/128`) that may send without AUTH:
    /// the mail servers. Everyone else authenticates as one of `auth_users`.
    pub trusted_networks: Vec<String>,
    /// Client networks that may send without TLS. Empty: TLS (STARTTLS or implicit) is
    /// required of every client.
    pub plain_networks: Vec<String>,
    /// Arkiv users who may send journal mail with AUTH PLAIN/LOGIN (over TLS only).
    pub auth_users: Vec<String>,
    /// The largest message accepted (advertised with SIZE), in MiB.
    pub max_message_mb: u64,
    /// Recipients of one message (RFC 5321 asks for at least 100).
    pub max_recipients: usize,
    /// Where a user's archive gets mail they sent, and mail they received.
    pub sent_folder: String,
    pub received_folder: String,
    /// The archive (user) that keeps messages none of whose addresses belong to a user;
    /// created on first start of the receiver (without a password: nobody signs in as it).
    pub unknown_archive: String,
    pub unknown_folder: String,
    /// The addresses Exchange / Microsoft 365 journal rules send their envelope journal
    /// reports to. A report sent to one of them is unwrapped (its original archived, its
    /// recipients, Bcc included, used); anywhere else it is archived as it is, so a message
    /// made to look like a report cannot file a forged original in users' archives.
    pub journal_report_recipients: Vec<String>,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            listen: Vec::new(),
            listen_tls: Vec::new(),
            trusted_networks: Vec::new(),
            plain_networks: Vec::new(),
            auth_users: Vec::new(),
            max_message_mb: 50,
            max_recipients: 1000,
            sent_folder: "Sent".into(),
            received_folder: "Received".into(),
            unknown_archive: "journal".into(),
            unknown_folder: "Unassigned".into(),
            journal_report_recipients: Vec::new(),
        }
    }
}

/// Compliance settings (manual §5.11).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplianceConfig {
    /// "Archive Access": administrators may read other users' archives. Blocked by default.
    pub admin_archive_access: bool,
}

/// `arkiv serve` (manual §6.1): listeners and TLS. Flags and `ARKIV_*` variables override these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Web Access over HTTPS (manual §6.2 "MailStore Web Access (HTTPS)").
    pub listen_https: String,
    /// The Administration API over HTTPS ("" or "off" = off; manual §6.2: 8463).
    pub listen_api: String,
    /// Plain HTTP that only redirects to HTTPS ("" or "off" = off).
    pub listen_http: String,
    /// The read-only IMAP service with STARTTLS (manual §6.2 "IMAP Server (STARTTLS)": 143;
    /// "" or "off" = off). A port that cannot be bound (below 1024 without the right, or
    /// taken by the mail server on the same machine) leaves the service off with a warning.
    pub listen_imap: String,
    /// The IMAP service with implicit TLS ("IMAP Server (SSL)": 993; "" or "off" = off).
    pub listen_imaps: String,
    /// The name clients reach this server by: redirects from HTTP go to it ("" = this
    /// machine's host name).
    pub server_name: String,
    /// Connections open at once, per service listener, and from one client address.
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// A connection with no request in progress and no byte moving for this long is closed.
    pub idle_timeout_seconds: u64,
    /// A request must arrive whole, and an answer be taken by the client, within this long
    /// (a client that stops reading is cut off).
    pub request_timeout_seconds: u64,
    /// PEM certificate chain and private key; empty = a self-signed certificate made on first
    /// start in `DATA/tls/`.
    pub tls_certificate: String,
    pub tls_private_key: String,
    /// A PKCS#12 file (`.p12`/`.pfx`) with the key and its certificate chain, instead of the
    /// PEM pair; its password is read from `tls_pkcs12_password_file` (or the environment
    /// variable ARKIV_TLS_PKCS12_PASSWORD), never kept in this file.
    pub tls_pkcs12: String,
    pub tls_pkcs12_password_file: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen_https: "0.0.0.0:8462".into(),
            listen_api: "0.0.0.0:8463".into(),
            listen_http: "0.0.0.0:8461".into(),
            listen_imap: "0.0.0.0:143".into(),
            listen_imaps: "0.0.0.0:993".into(),
            server_name: String::new(),
            max_connections: 1024,
            max_connections_per_address: 64,
            idle_timeout_seconds: 60,
            request_timeout_seconds: 120,
            tls_certificate: String::new(),
            tls_private_key: String::new(),
            tls_pkcs12: String::new(),
            tls_pkcs12_password_file: String::new(),
        }
    }
}

/// Which attachments have their contents indexed (manual §5.16), and the limits on reading
/// them. The default indexes file names only, as the manual's does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachmentsConfig {
    /// File-type groups whose contents are indexed: text, html, pdf, office, opendocument,
    /// rtf, messages, archives (or all).
    pub groups: Vec<String>,
    /// Other extensions to index (read as text unless Arkiv knows the format).
    pub extensions: Vec<String>,
    /// Larger attachments are indexed by name only.
    pub max_attachment_mb: u64,
    /// Text kept per attachment.
    pub max_text_kb: u64,
    /// Time for one attachment before its reader is stopped.
    pub timeout_seconds: u64,
    /// Memory (address space) of the extraction sandbox process.
    pub max_memory_mb: u64,
    /// Attachments inside attachments (ZIP in message in ZIP ...).
    pub max_depth: u32,
    /// Largest unpacked/packed ratio of a ZIP member (zip bombs).
    pub max_zip_ratio: u64,
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        let l = arkiv_extract::Limits::default();
        AttachmentsConfig {
            groups: Vec::new(),
            extensions: Vec::new(),
            max_attachment_mb: l.max_input_bytes >> 20,
            max_text_kb: l.max_output_bytes >> 10,
            timeout_seconds: l.timeout.as_secs(),
            max_memory_mb: l.max_memory_bytes >> 20,
            max_depth: l.max_depth,
            max_zip_ratio: l.max_ratio,
        }
    }
}

impl AttachmentsConfig {
    /// The extraction settings these stand for; an unknown group or a bad extension is an error.
    pub fn settings(&self) -> std::result::Result<arkiv_extract::Settings, String> {
        let limits = arkiv_extract::Limits {
            max_input_bytes: self.max_attachment_mb << 20,
            max_output_bytes: self.max_text_kb << 10,
            max_depth: self.max_depth,
            max_ratio: self.max_zip_ratio,
            timeout: std::time::Duration::from_secs(self.timeout_seconds),
            max_memory_bytes: self.max_memory_mb << 20,
            ..arkiv_extract::Limits::default()
        };
        arkiv_extract::Settings::new(&self.groups, &self.extensions, limits)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// A new archive store is created after this many messages (manual §5.15: 5,000,000).
    pub rollover_messages: u64,
    /// Where automatically created stores go (relative paths are inside the data directory).
    pub base_directory: String,
    /// Size at which a pack file is closed and the next begun.
    pub pack_segment_bytes: u64,
    /// MIME part bodies at least this large are stored as separate, shared blobs.
    pub large_part_bytes: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            rollover_messages: 5_000_000,
            base_directory: "stores".into(),
            pack_segment_bytes: 1 << 30,
            large_part_bytes: 32 * 1024,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportConfig {
    /// Larger messages are refused with a clear per-message error.
    pub max_message_bytes: u64,
    /// Parser/sealer threads; 0 = one per CPU core.
    pub workers: usize,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig {
            max_message_bytes: 256 * 1024 * 1024,
            workers: 0,
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        if !path.exists() {
            return Ok(Config::default());
        }
        let text = std::fs::read_to_string(path).map_err(|e| io_err(path, e))?;
        let cfg: Config = toml::from_str(&text).map_err(|e| ArchiveError::Config {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    pub(crate) fn validate(&self, path: &Path) -> Result<()> {
        let bad = |d: &str| {
            Err(ArchiveError::Config {
                path: path.display().to_string(),
                detail: d.to_string(),
            })
        };
        if self.storage.rollover_messages == 0 {
            return bad("storage.rollover_messages must be at least 1");
        }
        if self.storage.pack_segment_bytes < 1024 * 1024 {
            return bad("storage.pack_segment_bytes must be at least 1 MiB");
        }
        if self.storage.large_part_bytes < 1024 {
            return bad("storage.large_part_bytes must be at least 1024");
        }
        if self.import.max_message_bytes < 1024 {
            return bad("import.max_message_bytes must be at least 1024");
        }
        let a = &self.attachments;
        if let Err(e) = a.settings() {
            return bad(&format!("attachments: {e}"));
        }
        if a.max_attachment_mb == 0 || a.max_text_kb == 0 || a.timeout_seconds == 0 {
            return bad(
                "attachments.max_attachment_mb, max_text_kb and timeout_seconds must be at least 1",
            );
        }
        if a.max_memory_mb < 128 {
            return bad("attachments.max_memory_mb must be at least 128");
        }
        let srv = &self.server;
        for (name, v) in [
            ("listen_https", &srv.listen_https),
            ("listen_api", &srv.listen_api),
            ("listen_http", &srv.listen_http),
        ] {
            let off = v.is_empty() || v.eq_ignore_ascii_case("off");
            if !(off && name != "listen_https") && v.parse::<std::net::SocketAddr>().is_err() {
                return bad(&format!(
                    "server.{name}: {v:?} is not an address such as 0.0.0.0:8462"
                ));
            }
        }
        if srv.idle_timeout_seconds == 0 || srv.request_timeout_seconds == 0 {
            return bad(
                "server.idle_timeout_seconds and request_timeout_seconds must be at least 1",
            );
        }
        if srv.max_connections == 0 || srv.max_connections_per_address == 0 {
            return bad(
                "server.max_connections and max_connections_per_address must be at least 1",
            );
        }
        if srv.tls_certificate.is_empty() != srv.tls_private_key.is_empty() {
            return bad("server.tls_certificate and server.tls_private_key go together");
        }
        if a.max_zip_ratio < 10 {
            return bad("attachments.max_zip_ratio must be at least 10");
        }
        Ok(())
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = format!(
            "# Arkiv data directory settings. Unknown keys are refused.\n{}",
            toml::to_string_pretty(self).expect("config serializes")
        );
        // Written beside and renamed over: a crash leaves the old file or the new one,
        // never half of each.
        let tmp = path.with_extension("toml.tmp");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            if let Some(dir) = path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_err(path, e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("arkiv.toml");
        std::fs::write(
            &p,
            "[storage]\nrollover_messages = 100\nrollover_mesages = 5\n",
        )
        .unwrap();
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("rollover_mesages"), "{e}");
        std::fs::write(&p, "[storage]\nrollover_messages = 100\n").unwrap();
        assert_eq!(Config::load(&p).unwrap().storage.rollover_messages, 100);
        let c = Config::default();
        c.save(&p).unwrap();
        assert_eq!(Config::load(&p).unwrap(), c);
    }
}
