//! A private Dovecot (the IMAP and POP3 server most Linux mail runs on), started on
//! 127.0.0.1 with free ports, for tests and benchmarks that archive from a real server.
//!
//! Dovecot runs as root with its own `base_dir`, state and log (nothing of a system
//! Dovecot is touched), users from a passwd-file, an optional master user (SASL PLAIN with an
//! authorization identity, RFC 4616), IMAP and POP3 both in plain text (with STARTTLS/STLS)
//! and over TLS with a self-signed certificate made by `openssl`. Mail is Maildir++ under
//! `mail_root/<user>`, the layout [`crate::write_maildir_tree`] writes, owned by `nobody`.
//!
//! Install: `apt-get install -y dovecot-imapd dovecot-pop3d openssl` (first
//! `printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d`
//! so that apt does not start a system Dovecot).

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const INSTALL: &str = "apt-get install -y dovecot-imapd dovecot-pop3d openssl";

/// What to start.
#[derive(Clone, Debug, Default)]
pub struct DovecotOptions {
    /// `(login, password)`.
    pub users: Vec<(String, String)>,
    /// A master user that may log on for any user.
    pub master: Option<(String, String)>,
    /// Where the users' Maildirs are (`<mail_root>/<login>`); default: inside the peer's
    /// own directory.
    pub mail_root: Option<PathBuf>,
}

/// Makes a file readable by Dovecot's unprivileged processes.
fn readable(p: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("chmod {}: {e}", p.display()))
}

/// The uid of `nobody` and gid of `nogroup` (65534 on Debian).
fn nobody() -> (u32, u32) {
    let find = |file: &str, name: &str| -> Option<u32> {
        std::fs::read_to_string(file)
            .ok()?
            .lines()
            .find(|l| l.starts_with(&format!("{name}:")))?
            .split(':')
            .nth(2)?
            .parse()
            .ok()
    };
    (
        find("/etc/passwd", "nobody").unwrap_or(65534),
        find("/etc/group", "nogroup").unwrap_or(65534),
    )
}

/// A running Dovecot; stopped when dropped.
pub struct Dovecot {
    dir: PathBuf,
    _tmp: TempDir,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub pop3_port: u16,
    pub pop3s_port: u16,
    /// The server certificate (PEM) and its SHA-256 fingerprint (`AB:CD:...`).
    pub cert: PathBuf,
    pub fingerprint: String,
    pub mail_root: PathBuf,
    running: bool,
    counter: std::cell::Cell<u64>,
}

/// A directory removed when dropped (the crate has no dependencies; this is all it needs).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: {e} (install: {INSTALL})"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Dovecot {
    /// Starts Dovecot; the error says what is missing and how to install it.
    pub fn start(opts: &DovecotOptions) -> Result<Dovecot, String> {
        if !Path::new("/usr/sbin/dovecot").exists() {
            return Err(format!("Dovecot is not installed: {INSTALL}"));
        }
        let uid = run(Command::new("id").arg("-u"), "id -u")?;
        if uid.trim() != "0" {
            return Err("Dovecot for tests is started as root (it drops privileges itself); run the tests as root".into());
        }
        let base = std::env::temp_dir().join(format!(
            "arkiv-dovecot-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&base).map_err(|e| e.to_string())?;
        let tmp = TempDir(base.clone());
        // Dovecot's unprivileged processes must traverse to the passwd files and mail.
        run(Command::new("chmod").arg("755").arg(&base), "chmod")?;
        let cert = base.join("cert.pem");
        let key = base.join("key.pem");
        run(
            Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .args(["-subj", "/CN=localhost"])
                .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .stderr(Stdio::null()),
            "openssl req (the test certificate)",
        )?;
        let fp = run(
            Command::new("openssl")
                .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
                .arg(&cert),
            "openssl x509 -fingerprint",
        )?;
        let fingerprint = fp.trim().rsplit('=').next().unwrap_or_default().to_string();
        let mail_root = opts.mail_root.clone().unwrap_or_else(|| base.join("mail"));
        std::fs::create_dir_all(&mail_root).map_err(|e| e.to_string())?;
        let mut passwd = String::new();
        for (u, p) in &opts.users {
            let _ = writeln!(passwd, "{u}:{{PLAIN}}{p}");
        }
        std::fs::write(base.join("passwd"), passwd).map_err(|e| e.to_string())?;
        let masters = opts
            .master
            .as_ref()
            .map(|(u, p)| format!("{u}:{{PLAIN}}{p}\n"))
            .unwrap_or_default();
        std::fs::write(base.join("masters"), masters).map_err(|e| e.to_string())?;
        // Dovecot's auth process (user dovecot) reads them, whatever the caller's umask is
        // (`arkiv` itself runs with 077).
        for f in ["passwd", "masters"] {
            readable(&base.join(f))?;
        }
        let (imap, imaps, pop3, pop3s) = (free_port(), free_port(), free_port(), free_port());
        let b = base.display();
        let m = mail_root.display();
        let conf = format!(
            r#"base_dir = {b}/run
state_dir = {b}/state
log_path = {b}/log
info_log_path = {b}/log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{b}/cert.pem
ssl_key = <{b}/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_cache_size = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {b}/masters
  master = yes
  result_success = continue
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {b}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={m}/%u
}}
mail_location = maildir:{m}/%u
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \Sent
  }}
  mailbox "Sent Items" {{
    special_use = \Sent
  }}
  mailbox Drafts {{
    special_use = \Drafts
  }}
  mailbox Trash {{
    special_use = \Trash
  }}
  mailbox Junk {{
    special_use = \Junk
  }}
}}
mail_plugins =
pop3_uidl_format = %08Xu%08Xv
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
"#
        );
        std::fs::write(base.join("dovecot.conf"), conf).map_err(|e| e.to_string())?;
        let d = Dovecot {
            dir: base.clone(),
            _tmp: tmp,
            imap_port: imap,
            imaps_port: imaps,
            pop3_port: pop3,
            pop3s_port: pop3s,
            cert,
            fingerprint,
            mail_root,
            running: false,
            counter: std::cell::Cell::new(0),
        };
        let mut d = d;
        d.own_mail()?;
        // Dovecot daemonizes: its stdio must not be a pipe we wait on.
        let start_err = base.join("start.err");
        let err_file = std::fs::File::create(&start_err).map_err(|e| e.to_string())?;
        let status = Command::new("/usr/sbin/dovecot")
            .arg("-c")
            .arg(base.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err_file)
            .status()
            .map_err(|e| format!("starting dovecot: {e} (install: {INSTALL})"))?;
        if !status.success() {
            return Err(format!(
                "dovecot did not start: {}",
                std::fs::read_to_string(&start_err).unwrap_or_default()
            ));
        }
        d.running = true;
        // Ready when every listener accepts.
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in [imap, imaps, pop3, pop3s] {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if Instant::now() > deadline {
                    return Err(format!("dovecot did not listen on {port}: {}", d.log()));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(d)
    }

    /// Dovecot's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// The Maildir root of a user (`cur`/`new` are the Inbox).
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.mail_root.join(user)
    }

    /// The directory of a folder in a user's Maildir++ (`[]` = the Inbox).
    pub fn folder_dir(&self, user: &str, folder: &[&str]) -> PathBuf {
        if folder.is_empty() {
            self.maildir(user)
        } else {
            self.maildir(user).join(format!(".{}", folder.join(".")))
        }
    }

    /// Creates an empty folder (Maildir++ directory owned by `nobody`); returns it.
    pub fn create_folder(&self, user: &str, folder: &[&str]) -> PathBuf {
        let dir = self.folder_dir(user, folder);
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).expect("create maildir");
        }
        self.own_mail().expect("chown mail");
        dir
    }

    /// Puts a message into a folder (created if needed) with Maildir flags (`"S"` = seen,
    /// `"F"` = flagged, `""` = unread); returns its file. Dovecot gives it a UID when it
    /// next looks at the folder.
    pub fn add_message(&self, user: &str, folder: &[&str], bytes: &[u8], flags: &str) -> PathBuf {
        let dir = self.folder_dir(user, folder);
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).expect("create maildir");
        }
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let path = dir
            .join("cur")
            .join(format!("{}.{n}.arkivtest:2,{flags}", 1_700_000_000 + n));
        std::fs::write(&path, bytes).expect("write message");
        // Owned by `nobody` like everything Dovecot's mail processes touch: the file, its
        // folder, and the folders above it up to the mail root.
        let (uid, gid) = nobody();
        let mut p = path.as_path();
        while p.starts_with(&self.mail_root) {
            let _ = std::os::unix::fs::chown(p, Some(uid), Some(gid));
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
        for sub in ["cur", "new", "tmp"] {
            let _ = std::os::unix::fs::chown(dir.join(sub), Some(uid), Some(gid));
        }
        path
    }

    /// Adds a user (Dovecot re-reads its passwd-file when it changes).
    pub fn add_user(&self, user: &str, password: &str) {
        let p = self.dir.join("passwd");
        let mut text = std::fs::read_to_string(&p).unwrap_or_default();
        let _ = writeln!(text, "{user}:{{PLAIN}}{password}");
        std::fs::write(&p, text).expect("write passwd");
        readable(&p).expect("chmod passwd");
    }

    /// Removes a user: logons fail from now on ("mailbox gone").
    pub fn remove_user(&self, user: &str) {
        let p = self.dir.join("passwd");
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with(&format!("{user}:")))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&p, kept).expect("write passwd");
    }

    /// Makes the mail owned by `nobody`, as the mail processes run.
    pub fn own_mail(&self) -> Result<(), String> {
        run(
            Command::new("chown")
                .args(["-R", "nobody:nogroup"])
                .arg(&self.mail_root),
            "chown the mail",
        )
        .map(|_| ())
    }

    /// Closes every IMAP and POP3 session of a user (a connection cut by the server).
    pub fn kick(&self, user: &str) {
        let _ = Command::new("/usr/bin/doveadm")
            .arg("-c")
            .arg(self.dir.join("dovecot.conf"))
            .args(["kick", user])
            .output();
    }

    /// Stops the server (also done when dropped).
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        let pid_file = self.dir.join("run").join("master.pid");
        if let Ok(pid) = std::fs::read_to_string(&pid_file) {
            let pid = pid.trim().to_string();
            let _ = Command::new("kill").arg(&pid).output();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}
