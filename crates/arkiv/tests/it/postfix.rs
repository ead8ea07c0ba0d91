//! A private Postfix instance for one test: how users deploy journaling to Arkiv.
//!
//! [`Postfix::start`] writes its own `main.cf`/`master.cf` into a temporary directory and runs
//! `postfix -c DIR start`: its own master process, queue, data directory and log file
//! (`maillog_file`, no syslog), an SMTP server on a free 127.0.0.1 port, nothing shared with
//! the system's `/etc/postfix` or `/var/spool/postfix` (the system instance is never started).
//! Mail to the users' domains is accepted and thrown away (`discard:`); only the journal
//! copies leave, by SMTP to `127.0.0.1:relay_port` (STARTTLS when offered, any certificate).
//!
//! Settings that matter (each checked by breaking it; see the comments in [`main_cf`]):
//! `local_header_rewrite_clients =` (else Postfix adds `Date:`/`Message-ID:` to mail from
//! 127.0.0.1), `disable_mime_output_conversion = yes` (else 8-bit bodies become
//! quoted-printable for a peer without 8BITMIME), `smtp_line_length_limit = 0` (else lines
//! over 998 bytes are folded on the way out), `maillog_file_prefixes` (else `postfix start`
//! refuses a `maillog_file` outside `/var`). Also: the queue directory must exist before
//! `postfix start` (which then creates its subdirectories and the data directory with the
//! right owners), the temporary directory must be traversable by the `postfix` user, and the
//! configuration files are dated back a minute (Postfix waits until a file it reads is a
//! couple of seconds old: two seconds per start otherwise). `master.cf` runs nothing chrooted
//! (Debian's default chroots into the queue directory, which only its init script prepares).
//!
//! Needs root (Postfix's `-c` with a directory of one's own, daemons that switch to the
//! `postfix` user) and the Debian package; a missing Postfix fails the test with the install
//! command.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const POSTFIX: &str = "/usr/sbin/postfix";
const POSTQUEUE: &str = "/usr/sbin/postqueue";
const SMTP_SINK: &str = "/usr/sbin/smtp-sink";
const INSTALL: &str = "printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d; \
    chmod +x /usr/sbin/policy-rc.d; \
    apt-get install -y postfix swaks libnet-ssleay-perl libauthen-sasl-perl";

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub(crate) fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// How Postfix makes the journal copies that go to the archive.
#[derive(Clone, Debug)]
pub(crate) enum Journal {
    /// `always_bcc = ADDRESS`: one copy of every message, addressed to ADDRESS only; the
    /// archive sees the original sender (MAIL FROM) but not the original recipients.
    AlwaysBcc(String),
    /// `sender_bcc_maps` + `recipient_bcc_maps`: every envelope address `LOCAL@DOMAIN` (sender
    /// and each recipient, Bcc included) adds the recipient
    /// `JOURNAL_LOCAL+LOCAL=DOMAIN@JOURNAL_DOMAIN` to the one journal copy, so the archive
    /// learns the whole envelope. `journal_domain` must not be one of the local domains.
    BccMaps {
        journal_domain: String,
        journal_local: String,
    },
}

impl Journal {
    /// The journal recipient that an envelope address (sender or recipient) turns into.
    pub(crate) fn address_for(&self, original: &str) -> String {
        match self {
            Journal::AlwaysBcc(address) => address.clone(),
            Journal::BccMaps {
                journal_domain,
                journal_local,
            } => {
                let (local, domain) = original.rsplit_once('@').expect("an address with @");
                format!("{journal_local}+{local}={domain}@{journal_domain}")
            }
        }
    }
}

/// A running private Postfix; stopped and removed on drop.
pub(crate) struct Postfix {
    dir: tempfile::TempDir,
    smtp_port: u16,
}

impl Postfix {
    /// Starts Postfix listening on a free 127.0.0.1 port. It accepts mail for `local_domains`
    /// only (any other recipient domain gets "554 Relay access denied") and discards it; the
    /// journal copies go to `127.0.0.1:relay_port` by SMTP.
    pub(crate) fn start(relay_port: u16, journal: Journal, local_domains: &[&str]) -> Postfix {
        assert!(
            Path::new(POSTFIX).exists() && Path::new(POSTQUEUE).exists(),
            "Postfix is needed: {INSTALL}"
        );
        assert!(!local_domains.is_empty(), "at least one local domain");
        let dir = tempfile::Builder::new()
            .prefix("arkiv-postfix.")
            .tempdir()
            .unwrap();
        // The daemons run as the `postfix` user: they must reach the data directory and log.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let root = dir.path().to_path_buf();
        // The queue directory must exist (root-owned); `postfix start` creates its
        // subdirectories and the data directory with the right owners.
        fs::create_dir(root.join("etc")).unwrap();
        fs::create_dir(root.join("spool")).unwrap();
        let smtp_port = free_port();

        let mut transport = String::new();
        for d in local_domains {
            check_name(d);
            writeln!(transport, "{d} discard:").unwrap();
        }
        let relay = format!("smtp:[127.0.0.1]:{relay_port}");
        let journal_cf = match &journal {
            Journal::AlwaysBcc(address) => {
                check_name(address);
                writeln!(transport, "{address} {relay}").unwrap();
                format!("always_bcc = {address}\n")
            }
            Journal::BccMaps {
                journal_domain,
                journal_local,
            } => {
                check_name(journal_domain);
                check_name(journal_local);
                assert!(
                    !local_domains
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(journal_domain)),
                    "the journal domain must not be a local domain"
                );
                writeln!(transport, "{journal_domain} {relay}").unwrap();
                // Every address but the journal's own: LOCAL@DOMAIN -> journal+LOCAL=DOMAIN@J.
                let escaped = journal_domain.replace('.', "\\.");
                let table = format!(
                    "if !/@{escaped}$/\n\
                     /^(.+)@([^@]+)$/ {journal_local}+${{1}}=${{2}}@{journal_domain}\n\
                     endif\n"
                );
                fs::write(root.join("etc/journal.regexp"), table).unwrap();
                let map = format!("regexp:{}", root.join("etc/journal.regexp").display());
                format!("recipient_bcc_maps = {map}\nsender_bcc_maps = {map}\n")
            }
        };
        // texthash: read as text, no `postmap` needed; full addresses, then domains.
        fs::write(root.join("etc/transport"), transport).unwrap();
        fs::write(
            root.join("etc/main.cf"),
            main_cf(&root, local_domains) + &journal_cf,
        )
        .unwrap();
        fs::write(root.join("etc/master.cf"), master_cf(smtp_port)).unwrap();
        // Postfix reads a configuration file or table only when it is at least a second or
        // two old (it sleeps 300 ms at a time until then, against half-written files): date
        // them back, which saves two seconds per start.
        let past = std::time::SystemTime::now() - Duration::from_secs(60);
        for entry in fs::read_dir(root.join("etc")).unwrap() {
            let file = fs::File::options()
                .write(true)
                .open(entry.unwrap().path())
                .unwrap();
            file.set_modified(past).unwrap();
        }

        let pf = Postfix { dir, smtp_port };
        let out = Command::new(POSTFIX)
            .arg("-c")
            .arg(pf.config_dir())
            .arg("start")
            .stdin(Stdio::null())
            .output()
            .expect("run postfix");
        assert!(
            out.status.success(),
            "postfix start failed ({:?}):\n{}{}\nmaillog:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            pf.maillog()
        );
        pf
    }

    /// The port of Postfix's SMTP server on 127.0.0.1.
    pub(crate) fn smtp_port(&self) -> u16 {
        self.smtp_port
    }

    fn config_dir(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    /// Sends a message through Postfix's SMTP server with the given envelope; the message
    /// bytes go out exactly as given (dot-stuffed; CRLF appended if the last line lacks an
    /// end). Panics on any refusal.
    pub(crate) fn send(&self, from: &str, to: &[&str], message: &[u8]) {
        if let Err(e) = smtp_send(self.smtp_port, from, to, message) {
            panic!("sending through Postfix: {e}\nmaillog:\n{}", self.maillog());
        }
    }

    /// `postqueue -f`: retries deferred mail now.
    pub(crate) fn flush(&self) {
        self.postqueue("-f");
    }

    /// How many messages are in the queue (incoming, active, deferred or held).
    pub(crate) fn queued(&self) -> usize {
        self.postqueue("-j")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count()
    }

    /// Waits until the queue is empty, flushing at once and then every two seconds; panics
    /// with the queue and the end of the log after `timeout`.
    pub(crate) fn wait_empty(&self, timeout: Duration) {
        let start = Instant::now();
        let mut last_flush: Option<Instant> = None;
        loop {
            if self.queued() == 0 {
                return;
            }
            if start.elapsed() > timeout {
                let log = self.maillog();
                let lines: Vec<&str> = log.lines().collect();
                panic!(
                    "Postfix queue not empty after {timeout:?}:\n{}\nmaillog (end):\n{}",
                    self.postqueue("-p"),
                    lines[lines.len().saturating_sub(40)..].join("\n")
                );
            }
            if last_flush.is_none_or(|t| t.elapsed() > Duration::from_secs(2)) {
                self.flush();
                last_flush = Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Postfix's log so far (`maillog_file`).
    pub(crate) fn maillog(&self) -> String {
        fs::read(self.dir.path().join("maillog"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    fn postqueue(&self, arg: &str) -> String {
        let out = Command::new(POSTQUEUE)
            .arg("-c")
            .arg(self.config_dir())
            .arg(arg)
            .stdin(Stdio::null())
            .output()
            .expect("run postqueue");
        assert!(
            out.status.success(),
            "postqueue {arg} failed ({:?}): {}{}\nmaillog:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.maillog()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        // Orderly stop: the master process terminates its children; `postfix stop` waits for
        // it (up to 5 s, then kills the process group).
        let _ = Command::new(POSTFIX)
            .arg("-c")
            .arg(self.config_dir())
            .arg("stop")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Names that go into Postfix tables unquoted: no whitespace, no `$`, no regexp/table syntax.
fn check_name(s: &str) {
    assert!(
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"@.-_+=".contains(&b)),
        "unsupported name for the Postfix configuration: {s:?}"
    );
}

fn main_cf(root: &Path, local_domains: &[&str]) -> String {
    let r = root.display();
    format!(
        "\
compatibility_level = 3.6
queue_directory = {r}/spool
data_directory = {r}/data
# No syslog: Postfix 3.4+ logs through its postlogd service to this file, which must be
# under one of maillog_file_prefixes (default /var, /dev/stdout).
maillog_file = {r}/maillog
maillog_file_prefixes = {r}
myhostname = postfix.test
mydomain = postfix.test
myorigin = postfix.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
# Accept mail for the local domains only (no permit_mynetworks: a typo in a test's recipient
# domain is refused at RCPT instead of being discarded silently).
relay_domains = {domains}
smtpd_relay_restrictions = reject_unauth_destination
# Local domains -> discard:, journal address or domain -> SMTP to the archive.
transport_maps = texthash:{r}/etc/transport
# Anything else (e.g. Postfix's own notices to postmaster) bounces instead of waiting for DNS.
default_transport = error:this test Postfix delivers nowhere else
smtp_dns_support_level = disabled
# The archive has a self-signed certificate: encrypt when offered, accept any certificate.
smtp_tls_security_level = may
smtp_tls_loglevel = 1
# Keep the bytes: no Date:/Message-ID:/From: added to mail from 127.0.0.1 (the default treats
# clients on inet_interfaces as local submission), no 8-bit to quoted-printable conversion,
# no folding of lines over 998 bytes, big messages allowed.
local_header_rewrite_clients =
disable_mime_output_conversion = yes
smtp_line_length_limit = 0
message_size_limit = 104857600
mailbox_size_limit = 0
# Retry deferred mail within seconds (the archive may not be up yet).
minimal_backoff_time = 2s
maximal_backoff_time = 4s
queue_run_delay = 2s
smtp_connect_timeout = 2s
",
        domains = local_domains.join(" ")
    )
}

/// Debian's master.cf without chroot (a chroot would be the private queue directory, which
/// lacks the files that Debian copies into /var/spool/postfix) and with the SMTP server on
/// 127.0.0.1:`port`.
fn master_cf(port: u16) -> String {
    format!(
        "\
127.0.0.1:{port} inet n - n - - smtpd
pickup     unix  n - n 60    1 pickup
cleanup    unix  n - n -     0 cleanup
qmgr       unix  n - n 300   1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n -     - trivial-rewrite
bounce     unix  - - n -     0 bounce
defer      unix  - - n -     0 bounce
trace      unix  - - n -     0 bounce
verify     unix  - - n -     1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -     - proxymap
proxywrite unix  - - n -     1 proxymap
smtp       unix  - - n -     - smtp
relay      unix  - - n -     - smtp
showq      unix  n - n -     - showq
error      unix  - - n -     - error
retry      unix  - - n -     - error
discard    unix  - - n -     - discard
anvil      unix  - - n -     1 anvil
scache     unix  - - n -     1 scache
postlog    unix-dgram n - n - 1 postlogd
"
    )
}

/// A minimal SMTP client: EHLO, MAIL, RCPT..., DATA with the message dot-stuffed, QUIT.
/// Returns the first unexpected reply.
fn smtp_send(port: u16, from: &str, to: &[&str], message: &[u8]) -> Result<(), String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("connect to SMTP 127.0.0.1:{port}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let mut reply = |expect: &str, after: &str| -> Result<(), String> {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = r
                .read_line(&mut line)
                .map_err(|e| format!("after {after}: {e}"))?;
            if n == 0 {
                return Err(format!("connection closed after {after}: {all}"));
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                break;
            }
        }
        if all.starts_with(expect) {
            Ok(())
        } else {
            Err(format!("{after}: expected {expect}, got {all}"))
        }
    };
    // Writes bytes; returns the first line for error messages.
    let mut command = |bytes: &[u8]| -> String {
        w.write_all(bytes).unwrap();
        String::from_utf8_lossy(bytes.split(|&b| b == b'\r').next().unwrap()).into_owned()
    };
    reply("220", "greeting")?;
    reply("250", &command(b"EHLO client.test\r\n"))?;
    let utf8 = if from.is_ascii() && to.iter().all(|t| t.is_ascii()) {
        ""
    } else {
        " SMTPUTF8"
    };
    let body = if message.is_ascii() {
        ""
    } else {
        " BODY=8BITMIME"
    };
    reply(
        "250",
        &command(format!("MAIL FROM:<{from}>{body}{utf8}\r\n").as_bytes()),
    )?;
    for t in to {
        reply("250", &command(format!("RCPT TO:<{t}>\r\n").as_bytes()))?;
    }
    reply("354", &command(b"DATA\r\n"))?;
    command(&dot_stuff(message));
    reply("250", "the message")?;
    reply("221", &command(b"QUIT\r\n"))
}

/// The DATA payload: a `.` doubled at the start of every line, then the end marker.
fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut line_start = true;
    for &b in message {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Postfix's own `smtp-sink` as the archive stand-in: it dumps each received transaction to a
/// file (smtp-sink's `X-Mail-Args:`/`X-Rcpt-Args:` lines, then the message with LF line ends).
struct Sink {
    child: Child,
    dir: tempfile::TempDir,
}

/// One transaction as smtp-sink dumped it.
struct Dumped {
    mail_from: String,
    rcpt_to: Vec<String>,
    /// The message as received (LF line ends), smtp-sink's own `Received:` removed.
    message: String,
}

impl Sink {
    fn start(port: u16) -> Sink {
        assert!(
            Path::new(SMTP_SINK).exists(),
            "smtp-sink (from Postfix) is needed: {INSTALL}"
        );
        let dir = tempfile::tempdir().unwrap();
        // smtp-sink must drop root (`-u postfix`) and then create its dump files here.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let child = Command::new(SMTP_SINK)
            // -8: no 8BITMIME, so Postfix would convert 8-bit mail if it were allowed to.
            .args(["-8", "-u", "postfix", "-d"])
            .arg(dir.path().join("%H%M%S."))
            .arg(format!("127.0.0.1:{port}"))
            .arg("16")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run smtp-sink");
        let sink = Sink { child, dir };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(5), "smtp-sink not up");
            std::thread::sleep(Duration::from_millis(20));
        }
        sink
    }

    /// The transactions received so far, waiting up to 5 s for at least `at_least`.
    fn received(&self, at_least: usize) -> Vec<Dumped> {
        let start = Instant::now();
        loop {
            let mut files: Vec<PathBuf> = fs::read_dir(self.dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            let dumps: Vec<Dumped> = files
                .iter()
                .map(|f| parse_dump(&String::from_utf8_lossy(&fs::read(f).unwrap())))
                .collect();
            // A dump is complete with the empty line after the message.
            let complete = files
                .iter()
                .all(|f| fs::read(f).unwrap().ends_with(b"\n\n"));
            if (dumps.len() >= at_least && complete) || start.elapsed() > Duration::from_secs(5) {
                return dumps;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_dump(text: &str) -> Dumped {
    let mut mail_from = String::new();
    let mut rcpt_to = Vec::new();
    let mut rest = text;
    while let Some(line_end) = rest.find('\n') {
        let line = &rest[..line_end];
        if !line.starts_with("X-") {
            break;
        }
        // "<addr> ORCPT=... NOTIFY=..." -> addr
        let addr = |v: &str| {
            v.split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(['<', '>'])
                .to_string()
        };
        if let Some(v) = line.strip_prefix("X-Mail-Args: ") {
            mail_from = addr(v);
        } else if let Some(v) = line.strip_prefix("X-Rcpt-Args: ") {
            rcpt_to.push(addr(v));
        }
        rest = &rest[line_end + 1..];
    }
    let (received, message) = split_first_header(rest);
    assert!(received.contains("by smtp-sink"), "{text}");
    // The dump format ends every transaction with an empty line.
    let message = message.strip_suffix('\n').unwrap_or(message).to_string();
    Dumped {
        mail_from,
        rcpt_to,
        message,
    }
}

/// Splits off the first header field (with its continuation lines).
fn split_first_header(text: &str) -> (&str, &str) {
    let mut end = text.find('\n').map_or(text.len(), |i| i + 1);
    while text[end..].starts_with([' ', '\t']) {
        end += text[end..].find('\n').map_or(text.len() - end, |i| i + 1);
    }
    text.split_at(end)
}

#[test]
fn a_private_postfix_relays_journal_copies() {
    let relay_port = free_port();
    let sink = Sink::start(relay_port);
    let journal = Journal::BccMaps {
        journal_domain: "journal.test".into(),
        journal_local: "journal".into(),
    };
    let postfix = Postfix::start(relay_port, journal.clone(), &["example.test"]);
    // No Date: or Message-ID: (Postfix must not add them), dotted lines, 8-bit text, a long line.
    let long_line = "x".repeat(1500);
    let message = format!(
        "From: Alice <alice@example.test>\r\n\
         To: Bob <bob@example.test>\r\n\
         Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         Grüße, Bob.\r\n\
         .a line that starts with a dot\r\n\
         ..and one with two\r\n\
         .\r\n\
         {long_line}\r\n"
    );
    // carol is a Bcc recipient: only in the envelope.
    postfix.send(
        "alice@example.test",
        &["bob@example.test", "carol@example.test"],
        message.as_bytes(),
    );
    postfix.wait_empty(Duration::from_secs(15));

    let dumps = sink.received(1);
    assert_eq!(dumps.len(), 1, "one journal copy\n{}", postfix.maillog());
    let d = &dumps[0];
    assert_eq!(d.mail_from, "alice@example.test");
    let mut rcpt = d.rcpt_to.clone();
    rcpt.sort();
    let mut expected: Vec<String> = ["alice", "bob", "carol"]
        .iter()
        .map(|u| journal.address_for(&format!("{u}@example.test")))
        .collect();
    expected.sort();
    assert_eq!(
        rcpt,
        [
            "journal+alice=example.test@journal.test",
            "journal+bob=example.test@journal.test",
            "journal+carol=example.test@journal.test"
        ]
    );
    assert_eq!(rcpt, expected);
    // Postfix puts its Received: on top; the rest is the message as sent.
    let (received, rest) = split_first_header(&d.message);
    assert!(
        received.starts_with("Received: ") && received.contains("(Postfix)"),
        "{received}"
    );
    assert_eq!(rest, message.replace("\r\n", "\n"));

    // The users' own copies were thrown away, nothing went anywhere else.
    let log = postfix.maillog();
    for u in ["bob", "carol"] {
        assert!(
            log.lines().any(|l| l.contains("postfix/discard[")
                && l.contains(&format!("to=<{u}@example.test>"))
                && l.contains("status=sent")),
            "{log}"
        );
    }
    assert!(!log.contains("status=bounced"), "{log}");
    // A recipient outside the local domains is refused at RCPT.
    let refused = smtp_send(
        postfix.smtp_port(),
        "alice@example.test",
        &["dave@elsewhere.test"],
        b"Subject: x\r\n\r\nx\r\n",
    );
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.contains("Relay access denied")),
        "{refused:?}"
    );
}

#[test]
fn a_private_postfix_with_always_bcc_retries_until_the_archive_is_up() {
    // The archive is not listening yet: Postfix defers, then delivers after a flush.
    let relay_port = free_port();
    let journal = Journal::AlwaysBcc("archive@journal.test".into());
    let postfix = Postfix::start(relay_port, journal.clone(), &["example.test"]);
    let message =
        "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: hi\r\n\r\nhello\r\n";
    postfix.send(
        "alice@example.test",
        &["bob@example.test", "carol@example.test"],
        message.as_bytes(),
    );
    let start = Instant::now();
    while !postfix.maillog().contains("status=deferred") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no deferral:\n{}",
            postfix.maillog()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(postfix.queued(), 1);

    let sink = Sink::start(relay_port);
    postfix.wait_empty(Duration::from_secs(15));
    let dumps = sink.received(1);
    assert_eq!(dumps.len(), 1, "{}", postfix.maillog());
    assert_eq!(dumps[0].mail_from, "alice@example.test");
    assert_eq!(dumps[0].rcpt_to, [journal.address_for("bob@example.test")]);
    assert_eq!(dumps[0].rcpt_to, ["archive@journal.test"]);
    let (_, rest) = split_first_header(&dumps[0].message);
    assert_eq!(rest, message.replace("\r\n", "\n"));
}
