//! The SMTP journal receiver (A7) with real senders: swaks and raw conversations (TLS, AUTH,
//! PIPELINING, BDAT, 8-bit and SMTPUTF8, size limits, odd bytes, clients that stop or
//! misbehave), Postfix journaling into it, and `kill -9` while Postfix sends.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::postfix::{Journal, Postfix};
use crate::server::Server;
use crate::support::Env;

const MTA_PW: &str = "Journal-Sender-2026x";

/// Users with addresses (alice@example.com comes with [`Env::new`]), and `mta`, the one account that may send journal mail with AUTH.
fn journal_env(max_mb: u64) -> Env {
    let env = Env::new();
    env.ok(&["user", "add", "bob", "--email", "bob@example.com"]);
    env.ok(&["user", "add", "mta", "--password", MTA_PW]);
    env.set_config("auth_users = []", "auth_users = [\"mta\"]");
    env.set_config("max_message_mb = 50", &format!("max_message_mb = {max_mb}"));
    env.set_config(
        "journal_report_recipients = []",
        "journal_report_recipients = [\"journal@arkiv.test\"]",
    );
    env
}

fn start(env: &Env, extra: &[&str]) -> Server {
    let mut args = vec![
        "--listen-smtp",
        "127.0.0.1:0",
        "--listen-smtps",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Server::start_with(env, &args)
}

fn swaks(args: &[&str]) -> String {
    let out = Command::new("swaks").args(args).output().expect(
        "swaks is missing: apt-get install -y swaks libnet-ssleay-perl libauthen-sasl-perl",
    );
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !text.contains("Can't locate") && !text.contains("not available"),
        "swaks lacks a perl module: apt-get install -y libnet-ssleay-perl libauthen-sasl-perl\n{text}"
    );
    text
}

fn python(scenario: &str, srv: &Server, out: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/smtp_server.py");
    let o = Command::new("python3")
        .arg(script)
        .args([
            scenario,
            "127.0.0.1",
            &srv.smtp.to_string(),
            &srv.smtps.to_string(),
            "mta",
            MTA_PW,
            out.to_str().unwrap(),
        ])
        .output()
        .expect("python3 is missing: apt-get install -y python3");
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Every archived message of the archives named: subject → (folder, bytes) list.
fn archived(env: &Env, archives: &[&str]) -> BTreeMap<String, Vec<(String, Vec<u8>)>> {
    let mut out: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    for a in archives {
        for (folder, msgs) in env.contents(a) {
            for (_, bytes) in msgs {
                let subject = String::from_utf8_lossy(&bytes)
                    .lines()
                    .find_map(|l| l.strip_prefix("Subject: ").map(str::to_string))
                    .unwrap_or_default();
                out.entry(subject)
                    .or_default()
                    .push((format!("{a}/{folder}"), bytes));
            }
        }
    }
    out
}

/// The id of the one message in `folder` with this subject.
fn id_of(env: &Env, folder: &str, subject: &str) -> String {
    let listing = env.json(&["ls", folder, "--json"]);
    listing
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["messages"].as_array().unwrap().iter())
        .find(|m| m["subject"].as_str() == Some(subject))
        .unwrap_or_else(|| panic!("{subject} not in {folder}: {listing}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn senders_over_tls_with_auth_pipelining_bdat_and_odd_bytes() {
    let env = journal_env(1);
    let srv = start(&env, &[]);
    let port = srv.smtp.to_string();
    let server = format!("127.0.0.1:{port}");

    // swaks: STARTTLS, AUTH PLAIN and LOGIN, PIPELINING; a wrong password is refused.
    let over_tls = |password: &str, rest: &[&str]| {
        let mut args = vec![
            "--server",
            &server,
            "--tls",
            "--auth-user",
            "mta",
            "--auth-password",
            password,
        ];
        args.extend_from_slice(rest);
        swaks(&args)
    };
    let ok = over_tls(
        MTA_PW,
        &[
            "--auth",
            "PLAIN",
            "--pipeline",
            "--from",
            "alice@example.com",
            "--to",
            "bob@example.com",
            "--header",
            "Subject: swaks plain auth",
        ],
    );
    assert!(ok.contains("250 2.0.0 Ok: archived"), "{ok}");
    let ok = over_tls(
        MTA_PW,
        &[
            "--auth",
            "LOGIN",
            "--from",
            "someone@outside.test",
            "--to",
            "journal+bob=example.com@arkiv.test",
            "--header",
            "Subject: swaks login auth",
        ],
    );
    assert!(ok.contains("250 2.0.0 Ok: archived"), "{ok}");
    let ok = over_tls(
        MTA_PW,
        &[
            "--from",
            "someone@outside.test",
            "--to",
            "nobody@nowhere.test",
            "--header",
            "Subject: swaks unknown",
        ],
    );
    assert!(ok.contains("250 2.0.0 Ok: archived"), "{ok}");
    let bad = over_tls(
        "not-the-password",
        &["--auth", "PLAIN", "--to", "bob@example.com"],
    );
    assert!(bad.contains("535 5.7.8"), "{bad}");
    // No TLS: no message, no password.
    let plain = swaks(&["--server", &server, "--to", "bob@example.com"]);
    assert!(plain.contains("530 5.7.0 Must issue a STARTTLS"), "{plain}");

    let out = tempfile::tempdir().unwrap();
    let r = python("protocol", &srv, out.path());
    let code = |k: &str| r[k].as_str().unwrap_or_default()[..3].to_string();
    assert_eq!(code("plain_mail"), "530", "{r}");
    assert_eq!(code("plain_auth"), "538", "{r}");
    assert_eq!(code("untrusted_mail"), "530", "{r}");
    assert_eq!(code("wrong_password"), "535", "{r}");
    assert_eq!(code("auth"), "235", "{r}");
    assert_eq!(code("size_refused"), "552", "{r}");
    let ehlo = r["ehlo_tls"].to_string();
    for ext in [
        "SIZE 1048576",
        "8BITMIME",
        "SMTPUTF8",
        "PIPELINING",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "AUTH PLAIN LOGIN",
    ] {
        assert!(ehlo.contains(ext), "{ext} not offered: {ehlo}");
    }
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    let bdat: Vec<&str> = r["bdat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(bdat[0].starts_with("250 2.0.0 10 octets"), "{bdat:?}");
    assert!(bdat[2].starts_with("250 2.0.0 Ok: archived"), "{bdat:?}");
    assert!(code("odd_bytes") == "250", "{r}");
    assert_eq!(code("too_big"), "552", "{r}");
    assert_eq!(code("after_too_big"), "250", "{r}");
    assert_eq!(
        r["pipelined"][3].as_str().unwrap()[..3].to_string(),
        "250",
        "{r}"
    );
    assert_eq!(code("implicit_auth"), "235", "{r}");
    assert_eq!(code("implicit"), "250", "{r}");
    assert_eq!(code("journal_report"), "250", "{r}");
    assert_eq!(code("forged_report"), "250", "{r}");
    assert_eq!(code("stale_chunk"), "250", "{r}");
    assert_eq!(code("rset"), "250", "{r}");
    assert_eq!(code("after_rset"), "250", "{r}");
    assert_eq!(code("big_chunk"), "250", "{r}");
    assert_eq!(code("after_big_chunk"), "250", "{r}");

    // The counters, by reason, in the status.
    let status = srv.ok("/api/invoke/GetSmtpReceiverStatus", "");
    let st = &status;
    assert_eq!(st["accepted"], 11, "{status}");
    for why in [
        "wrong password",
        "no TLS",
        "too large",
        "too large (SIZE)",
        "AUTH without TLS",
        "not trusted",
    ] {
        assert!(
            st["refused"][why].as_u64().unwrap_or(0) >= 1,
            "{why}: {status}"
        );
    }
    assert_eq!(
        st["deferred"]["connection lost during a message"], 1,
        "{status}"
    );
    let conf = srv.ok("/api/invoke/GetServiceConfiguration", "");
    assert_eq!(conf["smtpReceiver"]["accepted"], 11, "{conf}");
    let (_, log) = srv.stop();
    let got = archived(&env, &["alice", "bob", "journal"]);
    // Each message the raw client kept is archived byte for byte, where its envelope says.
    for name in [
        "bdat",
        "odd_bytes",
        "pipelined",
        "implicit",
        "journal_original",
        "after_rset",
        "forged_report",
        "after_big_chunk",
    ] {
        let want = std::fs::read(out.path().join(format!("{name}.eml"))).unwrap();
        let hits: Vec<&(String, Vec<u8>)> =
            got.values().flatten().filter(|(_, b)| *b == want).collect();
        assert!(
            !hits.is_empty(),
            "{name} was not archived byte for byte; got {:?}",
            got.keys()
        );
    }
    // Assignment by envelope: BDAT went to alice and bob (bob only in the envelope), the
    // implicit-TLS one (a recipient of no user) to the journal archive.
    let folders = |s: &str| -> Vec<String> {
        let mut f: Vec<String> = got
            .get(s)
            .map(|v| v.iter().map(|x| x.0.clone()).collect())
            .unwrap_or_default();
        f.sort();
        f
    };
    assert_eq!(folders("BDAT chunks"), ["alice/Received", "bob/Received"]);
    // Postfix always_bcc: the recipient is no user's; the header recipients stand in.
    assert_eq!(folders("implicit tls"), ["alice/Received"]);
    // No address of a user anywhere: the journal archive keeps it.
    assert_eq!(folders("swaks unknown"), ["journal/Unassigned"]);
    assert_eq!(folders("swaks plain auth"), ["alice/Sent", "bob/Received"]);
    // The journal address with the original recipient in its extension.
    assert_eq!(folders("swaks login auth"), ["bob/Received"]);
    // A chunk dropped by RSET is in no message.
    assert!(
        !got.values().flatten().any(|(_, b)| b.starts_with(b"stale")),
        "a reset chunk was kept"
    );
    // Refused or unfinished messages are nowhere.
    assert!(
        !got.contains_key("too big") && !got.contains_key("never finished"),
        "{:?}",
        got.keys()
    );
    // The journal report: its original for alice and for bob (Bcc), the report itself not.
    assert_eq!(
        folders("journal original"),
        ["alice/Received", "bob/Received"]
    );
    // A report to any other address is kept as it is: its "original" reaches no one.
    assert_eq!(folders("forged report"), ["journal/Unassigned"]);
    assert!(!got.contains_key("forged original"), "{:?}", got.keys());
    let id = id_of(&env, "bob/Received", "journal original");
    let e = env.json(&["cat", &id, "--envelope"]);
    assert_eq!(e["journal_report"], true, "{e}");
    assert_eq!(e["mail_from"], "carol@partner.test", "{e}");
    assert_eq!(
        e["rcpt_to"],
        serde_json::json!(["alice@example.com", "bob@example.com"])
    );
    // The envelope is kept: MAIL FROM in SMTPUTF8, every RCPT TO, the client, the protocol.
    let id = id_of(&env, "bob/Received", "BDAT chunks");
    let e = env.json(&["cat", &id, "--envelope"]);
    assert_eq!(e["mail_from"], "jörg@exämple.test", "{e}");
    assert_eq!(
        e["rcpt_to"],
        serde_json::json!(["alice@example.com", "bob@example.com"])
    );
    assert_eq!(e["client_ip"], "127.0.0.1");
    assert_eq!(e["protocol"], "ESMTPSA");
    assert_eq!(e["auth_user"], "mta");
    // Sign-ins are audited: the wrong password and the good ones.
    let audit = std::fs::read_to_string(env.data().join("audit.log")).unwrap();
    assert!(audit.contains("smtp logon"), "{audit}");
    assert!(audit.contains("refused logon"), "{audit}");
    // The receiver's settings in force are on record from its start.
    assert!(
        audit.contains("smtp receiver start") && audit.contains("authUsers"),
        "{audit}"
    );
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
}

#[test]
fn hostile_senders_are_cut_off_and_others_still_served() {
    let env = journal_env(50);
    let srv = start(&env, &[]);
    let pid = srv.child.id();
    let rss = || -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("VmRSS:")
                    .map(|v| v.trim().trim_end_matches(" kB").parse().unwrap())
            })
            .unwrap()
    };
    let before = rss();
    let out = tempfile::tempdir().unwrap();
    let r = python("hostile", &srv, out.path());
    let after = rss();
    let code = |k: &str| r[k].as_str().unwrap_or_default()[..3].to_string();
    assert_eq!(code("endless_line"), "500", "{r}");
    assert_eq!(code("after_endless_line"), "250", "{r}");
    assert_eq!(r["rcpt_codes"]["250"], 1000, "{r}");
    assert_eq!(r["rcpt_codes"]["452"], 9000, "{r}");
    assert_eq!(code("many_recipients"), "250", "{r}");
    assert_eq!(code("beside_slow"), "250", "{r}");
    assert!(r["beside_slow_seconds"].as_f64().unwrap() < 5.0, "{r}");
    assert_eq!(code("after_garbage"), "250", "{r}");
    assert_eq!(code("after_storm"), "250", "{r}");
    // The per-address limit (64) turned most of the storm away before TLS or a greeting.
    assert!(r["storm_greeted"].as_u64().unwrap() <= 64, "{r}");
    assert!(
        after < before + 200 * 1024,
        "the server grew from {before} kB to {after} kB"
    );
    srv.stop();
    let got = archived(&env, &["alice", "journal"]);
    for name in [
        "many_recipients",
        "beside_slow",
        "after_garbage",
        "after_storm",
    ] {
        let want = std::fs::read(out.path().join(format!("{name}.eml"))).unwrap();
        assert!(
            got.values().flatten().any(|(_, b)| *b == want),
            "{name} not archived; got {:?}",
            got.keys()
        );
    }
    assert!(!got.contains_key("slow"), "the slow one never finished");
    let id = id_of(&env, "alice/Received", "many recipients");
    let e = env.json(&["cat", &id, "--envelope"]);
    assert_eq!(e["rcpt_to"].as_array().unwrap().len(), 1000, "{e}");
}

/// Starts the archive with its SMTP receiver on `port`, the mail servers of 127.0.0.0/8
/// trusted (Postfix journals without AUTH, over STARTTLS).
fn start_for_postfix(env: &Env, port: u16) -> Server {
    let addr = format!("127.0.0.1:{port}");
    Server::start_with(
        env,
        &[
            "--listen-smtp",
            &addr,
            "--smtp-trusted-network",
            "127.0.0.0/8",
        ],
    )
}

#[test]
fn postfix_journals_into_the_right_archives_with_bcc_recipients() {
    let env = journal_env(50);
    env.ok(&["user", "add", "carol", "--email", "carol@example.com"]);
    let srv = start_for_postfix(&env, crate::postfix::free_port());
    let journal = Journal::BccMaps {
        journal_domain: "arkiv.test".into(),
        journal_local: "journal".into(),
    };
    let pf = Postfix::start(srv.smtp, journal, &["example.com", "partner.test"]);
    // alice writes to bob, with carol as Bcc: the headers show bob only.
    let to_bob = b"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>\r\n\
        Subject: plans with a bcc\r\nMessage-ID: <plans@example.com>\r\n\r\nSee you.\r\n";
    pf.send(
        "alice@example.com",
        &["bob@example.com", "carol@example.com"],
        to_bob,
    );
    // Someone outside writes to alice.
    let inbound = b"From: Dana <dana@partner.test>\r\nTo: alice@example.com\r\n\
        Subject: from outside\r\nMessage-ID: <outside@partner.test>\r\n\r\nHello.\r\n";
    pf.send("dana@partner.test", &["alice@example.com"], inbound);
    pf.wait_empty(Duration::from_secs(60));
    let log = pf.maillog();
    assert!(
        log.contains("Trusted TLS connection established")
            || log.contains("Untrusted TLS connection established")
            || log.contains("Anonymous TLS connection established"),
        "Postfix journals over TLS:\n{log}"
    );
    srv.stop();
    let got = archived(&env, &["alice", "bob", "carol", "journal"]);
    let folders = |s: &str| -> Vec<String> {
        let mut f: Vec<String> = got
            .get(s)
            .map(|v| v.iter().map(|x| x.0.clone()).collect())
            .unwrap_or_default();
        f.sort();
        f
    };
    assert_eq!(
        folders("plans with a bcc"),
        ["alice/Sent", "bob/Received", "carol/Received"],
        "{:?}",
        got.keys()
    );
    assert_eq!(folders("from outside"), ["alice/Received"]);
    // The archived bytes are what Postfix sent on: its Received line on top of the original.
    for (_, bytes) in &got["plans with a bcc"] {
        assert!(
            bytes.starts_with(b"Received: "),
            "{}",
            String::from_utf8_lossy(bytes)
        );
        assert!(bytes.ends_with(&to_bob[to_bob.len() - 60..]));
    }
    let id = id_of(&env, "carol/Received", "plans with a bcc");
    let e = env.json(&["cat", &id, "--envelope"]);
    assert_eq!(e["mail_from"], "alice@example.com", "{e}");
    let rcpt = e["rcpt_to"].to_string();
    assert!(rcpt.contains("journal+carol=example.com@arkiv.test"), "{e}");
}

#[test]
fn postfix_always_bcc_assigns_by_the_headers() {
    let env = journal_env(50);
    env.ok(&["user", "add", "carol", "--email", "carol@example.com"]);
    let srv = start_for_postfix(&env, crate::postfix::free_port());
    let pf = Postfix::start(
        srv.smtp,
        Journal::AlwaysBcc("journal@arkiv.test".into()),
        &["example.com", "partner.test"],
    );
    let m = b"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>\r\n\
        Subject: always bcc\r\nMessage-ID: <always@example.com>\r\n\r\nHi.\r\n";
    pf.send(
        "alice@example.com",
        &["bob@example.com", "carol@example.com"],
        m,
    );
    let nobody = b"From: x@partner.test\r\nTo: y@partner.test\r\n\
        Subject: between strangers\r\n\r\nHi.\r\n";
    pf.send("x@partner.test", &["y@partner.test"], nobody);
    pf.wait_empty(Duration::from_secs(60));
    srv.stop();
    let got = archived(&env, &["alice", "bob", "carol", "journal"]);
    let mut f: Vec<String> = got["always bcc"].iter().map(|x| x.0.clone()).collect();
    f.sort();
    // With one journal address for every copy, Bcc recipients cannot be known (the README
    // says so and shows recipient_bcc_maps for them): carol is not among them.
    assert_eq!(f, ["alice/Sent", "bob/Received"]);
    let f: Vec<String> = got["between strangers"]
        .iter()
        .map(|x| x.0.clone())
        .collect();
    assert_eq!(f, ["journal/Unassigned"]);
}

/// Message numbers of `smtp-source`'s messages archived in alice's Received folder.
fn received_count(env: &Env) -> usize {
    let listing = env.json(&["ls", "alice/Received", "--json"]);
    listing
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["messages"].as_array().unwrap().len())
        .sum()
}

#[test]
fn kill_9_while_postfix_journals_loses_nothing_and_stores_nothing_twice() {
    const N: usize = 10_000;
    let env = journal_env(50);
    let port = crate::postfix::free_port();
    let srv = start_for_postfix(&env, port);
    let pf = Postfix::start(
        port,
        Journal::AlwaysBcc("journal@arkiv.test".into()),
        &["example.com"],
    );
    // smtp-source: 10,000 messages over 20 connections into Postfix, which journals each
    // one to the archive (each copy is distinct: Postfix's Received line names its queue id).
    let mut source = Command::new("/usr/sbin/smtp-source")
        .args([
            "-s",
            "20",
            "-m",
            &N.to_string(),
            "-f",
            "sender@partner.test",
            "-t",
            "alice@example.com",
            "-S",
            "journal crash test",
            &format!("127.0.0.1:{}", pf.smtp_port()),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("smtp-source is missing: apt-get install -y postfix");
    // Kill the archive with SIGKILL once it has acknowledged a good part, mid-stream.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let st = srv.ok("/api/invoke/GetSmtpReceiverStatus", "");
        if st["accepted"].as_u64().unwrap_or(0) >= 1500 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{st}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut srv = srv;
    srv.child.kill().unwrap();
    srv.child.wait().unwrap();
    drop(srv);
    std::thread::sleep(Duration::from_secs(1));
    // Postfix keeps what was not acknowledged and retries; the archive comes back.
    let srv = start_for_postfix(&env, port);
    let status = source.wait().unwrap();
    assert!(status.success(), "smtp-source failed");
    pf.wait_empty(Duration::from_secs(300));
    let st = srv.ok("/api/invoke/GetSmtpReceiverStatus", "");
    srv.stop();
    let log = pf.maillog();
    let deferred = log.matches("status=deferred").count();
    assert!(
        deferred > 0,
        "the kill left nothing for Postfix to retry?\n{st}"
    );
    // Every message exactly once: a copy stored before the kill but not acknowledged was
    // sent again and recognised by its bytes.
    assert_eq!(received_count(&env), N, "{st}");
    let stats = env.json(&["stats", "--json"]);
    let total: u64 = stats["archives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["messages"].as_u64().unwrap())
        .sum();
    assert_eq!(total, N as u64, "{stats}");
    let verify = env.run(&["verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// Unmounts a tmpfs when the test ends, however it ends.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// One message over plain SMTP (the test's network is allowed without TLS): the final reply.
fn smtp_send(port: u16, from: &str, to: &str, message: &[u8]) -> String {
    use std::io::{BufRead, BufReader, Write};
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut reply = || -> String {
        let mut last = String::new();
        loop {
            let mut l = String::new();
            if r.read_line(&mut l).unwrap() == 0 {
                return format!("closed after {last}");
            }
            let done = l.as_bytes().get(3) != Some(&b'-');
            last = l.trim_end().to_string();
            if done {
                return last;
            }
        }
    };
    reply();
    for cmd in [
        "EHLO test.example".to_string(),
        format!("MAIL FROM:<{from}>"),
        format!("RCPT TO:<{to}>"),
        "DATA".into(),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
        let r = reply();
        if !(r.starts_with('2') || r.starts_with('3')) {
            return r;
        }
    }
    w.write_all(message).unwrap();
    w.write_all(b".\r\n").unwrap();
    let last = reply();
    let _ = w.write_all(b"QUIT\r\n");
    last
}

/// A message of about `size` bytes that does not compress: pseudo-random base64 lines.
fn incompressible(n: u32, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: sender@partner.test\r\nTo: alice@example.com\r\nSubject: filler {n}\r\n\
         Message-ID: <filler.{n}@partner.test>\r\n\r\n"
    )
    .into_bytes();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ u64::from(n);
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    while m.len() < size {
        for _ in 0..76 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            m.push(B64[(x % 64) as usize]);
        }
        m.extend_from_slice(b"\r\n");
    }
    m
}

#[test]
fn a_full_disk_defers_and_never_refuses_or_acknowledges_what_it_did_not_keep() {
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
    };
    let data = env.data();
    std::fs::create_dir_all(&data).unwrap();
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=12m", "tmpfs"])
        .arg(&data)
        .output()
        .expect("mount");
    assert!(
        out.status.success(),
        "the full-disk test mounts a tmpfs (root, or CAP_SYS_ADMIN): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _mount = Mount(data.clone());
    std::fs::remove_dir(&data).ok();
    env.ok(&["init", "--admin-password", crate::support::ADMIN_PW]);
    env.ok(&["user", "add", "alice", "--email", "alice@example.com"]);
    let srv = Server::start_with(
        &env,
        &[
            "--listen-smtp",
            "127.0.0.1:0",
            "--smtp-trusted-network",
            "127.0.0.0/8",
            "--smtp-plain-network",
            "127.0.0.0/8",
        ],
    );
    // Fill the disk: every answer is 250 (kept) or 4xx (deferred), never 5xx.
    let mut kept = Vec::new();
    let mut deferred = None;
    for n in 0..200 {
        let m = incompressible(n, 400 * 1024);
        let r = smtp_send(srv.smtp, "sender@partner.test", "alice@example.com", &m);
        assert!(!r.starts_with('5'), "message {n}: {r}");
        if r.starts_with("250") {
            kept.push(m);
        } else {
            assert!(r.starts_with("452 4.3.1"), "message {n}: {r}");
            deferred = Some((m, r));
            break;
        }
    }
    let (again, why) = deferred.expect("12 MB filled up without a deferral");
    assert!(why.contains("disk is full"), "{why}");
    // Room again: the sender's retry is archived.
    let grow = Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(&data)
        .status()
        .unwrap();
    assert!(grow.success());
    let r = smtp_send(srv.smtp, "sender@partner.test", "alice@example.com", &again);
    assert!(r.starts_with("250"), "{r}");
    kept.push(again);
    let st = srv.ok("/api/invoke/GetSmtpReceiverStatus", "");
    assert_eq!(st["deferred"]["disk full"], 1, "{st}");
    let (_, log) = srv.stop();
    assert!(
        log.iter().any(|l| l.contains("No space left on device")),
        "the log says why: {log:?}"
    );
    // Every acknowledged message is there byte for byte, each once; nothing else.
    let got: Vec<Vec<u8>> = env
        .contents("alice")
        .into_values()
        .flatten()
        .map(|(_, b)| b)
        .collect();
    assert_eq!(got.len(), kept.len());
    for m in &kept {
        assert_eq!(got.iter().filter(|g| *g == m).count(), 1);
    }
    let verify = env.run(&["verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
