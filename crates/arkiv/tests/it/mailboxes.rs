//! Archiving from a real Dovecot with `arkiv import imap|pop3`: every folder byte for byte,
//! re-runs, moves, deletion rules, `kill -9`, cut connections, and the failures an
//! administrator meets.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arkiv_corpus::dovecot::Dovecot;
use serde_json::Value;

use crate::mailclient::{dovecot, real_messages};
use crate::support::Env;

fn arkiv(env: &Env, args: &[&str], password: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arkiv"))
        .arg("--data")
        .arg(env.data())
        .args(args)
        .env("ARKIV_SOURCE_PASSWORD", password)
        .env_remove("ARKIV_DATA")
        .env_remove("ARKIV_KEY_FILE")
        .output()
        .expect("run arkiv")
}

/// `arkiv import imap` against `d` over TLS with the pinned certificate, as alice into alice.
fn imap(env: &Env, d: &Dovecot, extra: &[&str]) -> (i32, Value) {
    let port = d.imaps_port.to_string();
    let mut args = vec![
        "import",
        "imap",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--fingerprint",
        &d.fingerprint,
        "--login",
        "alice",
        "--timeout",
        "20",
        "--json",
    ];
    if !extra.iter().any(|a| *a == "--multi-user" || *a == "--user") {
        args.extend_from_slice(&["--user", "alice", "--folder", "Mail"]);
    }
    args.extend_from_slice(extra);
    let out = arkiv(env, &args, "alice-pw");
    let code = out.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        Value::String(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    });
    (code, v)
}

/// Every message of alice's archive: folder → sorted bytes.
fn archived(env: &Env) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut out: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for (folder, msgs) in env.contents("alice") {
        if msgs.is_empty() {
            continue;
        }
        let mut v: Vec<Vec<u8>> = msgs.into_iter().map(|(_, b)| b).collect();
        v.sort();
        out.insert(folder, v);
    }
    out
}

fn folder<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["folders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no folder {name} in {report}"))
}

/// A message with raw UTF-8 in its headers (no encoded words), as some mailers send.
const EIGHT_BIT: &[u8] = "From: Jörg Müller <joerg@example.com>\r\nTo: alice@example.com\r\nSubject: Grüße aus Köln\r\nDate: Tue, 1 Oct 2024 10:00:00 +0200\r\nMessage-ID: <8bit@example.com>\r\n\r\nSchöne Grüße\r\n".as_bytes();

#[test]
fn imap_archives_every_folder_byte_for_byte_and_a_rerun_reads_nothing() {
    let env = Env::new();
    let d = dovecot(&[("alice", "alice-pw")], None);
    let msgs = real_messages(30);
    let mut want: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for (i, (_, bytes)) in msgs.iter().enumerate() {
        let (f, path): (&[&str], &str) = match i % 4 {
            0 => (&[], "Mail/INBOX"),
            1 => (&["Sent"], "Mail/Sent"),
            2 => (&["Projekte", "Vertr&AOQ-ge"], "Mail/Projekte/Verträge"),
            _ => (&["Projekte"], "Mail/Projekte"),
        };
        d.add_message("alice", f, bytes, "S");
        want.entry(path.into()).or_default().push(bytes.clone());
    }
    d.add_message("alice", &[], EIGHT_BIT, "S");
    want.entry("Mail/INBOX".into())
        .or_default()
        .push(EIGHT_BIT.to_vec());
    // Left out by default: trash and drafts.
    d.add_message("alice", &["Trash"], b"Subject: deleted\r\n\r\nx\r\n", "S");
    d.add_message("alice", &["Drafts"], b"Subject: draft\r\n\r\nx\r\n", "");
    for v in want.values_mut() {
        v.sort();
    }

    let (code, r) = imap(&env, &d, &[]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["import"]["archived"], 31, "{r}");
    assert_eq!(folder(&r, "Sent")["sent"], true);
    assert!(
        archived(&env) == want,
        "every message byte for byte in its folder"
    );
    // The 8-bit header was read as UTF-8: searchable by its words.
    let found = env.json(&["search", "--json", "Köln", "--user", "alice"]);
    assert_eq!(found["total"], 1, "{found}");

    // A re-run reads nothing: every folder is unchanged.
    let t = Instant::now();
    let (code, r) = imap(&env, &d, &[]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["import"]["messages"], 0, "{r}");
    for f in r["folders"].as_array().unwrap() {
        assert_eq!(f["fetched"], 0, "{f}");
    }
    assert!(
        r["log"]
            .to_string()
            .contains("unchanged since the last run"),
        "{}",
        r["log"]
    );
    assert!(t.elapsed() < Duration::from_secs(10));

    // A new message: only it is read.
    d.add_message("alice", &["Sent"], b"Subject: one more\r\n\r\nnew\r\n", "S");
    let (code, r) = imap(&env, &d, &[]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["import"]["messages"], 1, "{r}");
    assert_eq!(folder(&r, "Sent")["archived"], 1, "{r}");
}

#[test]
fn imap_moves_between_server_folders_move_in_the_archive() {
    let env = Env::new();
    let d = dovecot(&[("alice", "alice-pw")], None);
    let a = d.add_message("alice", &["Work"], b"Subject: a\r\n\r\nmove me\r\n", "S");
    let b = d.add_message("alice", &["Work"], b"Subject: b\r\n\r\ncopy me\r\n", "S");
    let c = d.add_message("alice", &[], b"Subject: c\r\n\r\nto sent\r\n", "S");
    let (code, r) = imap(&env, &d, &[]);
    assert_eq!(
        (code, &r["import"]["archived"]),
        (0, &Value::from(3)),
        "{r}"
    );

    // a moves Work -> Done; b is copied to Done; c moves INBOX -> Sent.
    let done = d.create_folder("alice", &["Done"]);
    std::fs::rename(&a, done.join("cur").join(a.file_name().unwrap())).unwrap();
    std::fs::copy(&b, done.join("cur").join("copy:2,S")).unwrap();
    let sent = d.create_folder("alice", &["Sent"]);
    std::fs::rename(&c, sent.join("cur").join(c.file_name().unwrap())).unwrap();
    d.own_mail().unwrap();

    let (code, r) = imap(&env, &d, &[]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["import"]["moved"], 1, "only a moved: {r}");
    let got = archived(&env);
    let subjects = |f: &str| -> Vec<String> {
        got.get(f)
            .map(|v| {
                v.iter()
                    .map(|b| String::from_utf8_lossy(&b[..12]).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(subjects("Mail/Done"), ["Subject: a\r\n", "Subject: b\r\n"]);
    assert_eq!(
        subjects("Mail/Work"),
        ["Subject: b\r\n"],
        "the copy's original stays"
    );
    // Into a sent folder is not a move: archived again (its message type differs).
    assert_eq!(subjects("Mail/Sent"), ["Subject: c\r\n"]);
    assert_eq!(subjects("Mail/INBOX"), ["Subject: c\r\n"]);
}

#[test]
fn deletion_rules_delete_exactly_what_they_should() {
    let env = Env::new();
    let d = dovecot(&[("alice", "alice-pw")], None);
    let old = d.add_message("alice", &[], b"Subject: old\r\n\r\nx\r\n", "S");
    let year_ago = std::time::SystemTime::now() - Duration::from_secs(400 * 86400);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(year_ago)
        .unwrap();
    d.add_message("alice", &[], b"Subject: young\r\n\r\nx\r\n", "S");
    d.add_message("alice", &[], b"Subject: flagged\r\n\r\nx\r\n", "FS");
    d.add_message("alice", &["Work"], b"Subject: unread\r\n\r\nx\r\n", "");
    let on_server = || {
        walk(&d.maildir("alice"))
            .into_iter()
            .filter(|p| p.contains("/cur/"))
            .count()
    };
    assert_eq!(on_server(), 4);

    // Default: never.
    let (code, r) = imap(&env, &d, &["--skip-unread"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["deleted"], 0);
    assert_eq!(folder(&r, "Work")["waitingUnread"], 1, "{r}");
    // Not yet a year after archiving: nothing.
    let (_, r) = imap(&env, &d, &["--skip-unread", "--delete", "after:1y"]);
    assert_eq!(r["deleted"], 0, "{r}");
    // The dry run tells what "older than 6 months" would delete: only the old one.
    let (_, p) = imap(
        &env,
        &d,
        &["--skip-unread", "--delete", "older:6m", "--dry-run"],
    );
    assert_eq!(p["toDelete"], 1, "{p}");
    let (_, r) = imap(&env, &d, &["--skip-unread", "--delete", "older:6m"]);
    assert_eq!(r["deleted"], 1, "{r}");
    assert_eq!(on_server(), 3);
    // Immediately: everything archived, but never the flagged one nor the unread one that
    // was not archived.
    let (_, r) = imap(&env, &d, &["--skip-unread", "--delete", "immediately"]);
    assert_eq!(r["deleted"], 1, "only 'young': {r}");
    assert_eq!(on_server(), 2);
    // Everything deleted is in the archive.
    let subjects: Vec<String> = archived(&env)
        .values()
        .flatten()
        .map(|b| {
            String::from_utf8_lossy(b)
                .lines()
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    assert!(!subjects.contains(&"Subject: unread".to_string()));
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

fn fill(d: &Dovecot, n: usize) -> usize {
    let spec = arkiv_corpus::CorpusSpec {
        messages: n,
        seed: 7,
        users: 3,
        duplicate_ratio: 0.0,
        profile: arkiv_corpus::Profile::TextOnly,
    };
    let mut count = 0;
    for m in arkiv_corpus::generate(&spec) {
        let folders: Vec<&str> = m.folder.split('/').filter(|s| *s != "Inbox").collect();
        d.add_message("alice", &folders, &m.bytes, "S");
        count += 1;
    }
    count
}

fn total_archived(env: &Env) -> (usize, usize) {
    let all: Vec<Vec<u8>> = archived(env).into_values().flatten().collect();
    let mut distinct = all.clone();
    distinct.sort();
    distinct.dedup();
    (all.len(), distinct.len())
}

#[test]
fn kill_9_during_an_imap_run_resumes_without_loss_or_duplicate() {
    let env = Env::new();
    let d = dovecot(&[("alice", "alice-pw")], None);
    let n = fill(&d, 1500);
    let port = d.imaps_port.to_string();
    for delay_ms in [300u64, 700, 1200] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_arkiv"))
            .arg("--data")
            .arg(env.data())
            .args([
                "import",
                "imap",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--fingerprint",
                &d.fingerprint,
                "--login",
                "alice",
                "--user",
                "alice",
                "--folder",
                "Mail",
            ])
            .env("ARKIV_SOURCE_PASSWORD", "alice-pw")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    let (code, r) = imap(&env, &d, &[]);
    assert_eq!(code, 0, "{r}");
    let (all, distinct) = total_archived(&env);
    assert_eq!(all, distinct, "no duplicate placements");
    assert_eq!(all, n, "nothing lost");
    let v = env.json(&["verify", "--json"]);
    assert_eq!(v["clean"], true, "{v}");
}

/// A proxy in front of Dovecot that cuts the first connection after `cut_after` bytes from
/// the server (in the middle of a FETCH) and passes later ones through.
fn cutting_proxy(target: u16, cut_after: u64) -> (u16, Arc<AtomicU64>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let cuts = Arc::new(AtomicU64::new(0));
    let cuts2 = cuts.clone();
    std::thread::spawn(move || {
        for (i, client) in l.incoming().enumerate() {
            let Ok(client) = client else { return };
            let server = TcpStream::connect(("127.0.0.1", target)).unwrap();
            let limit = if i == 0 { cut_after } else { u64::MAX };
            let (mut c1, mut s1) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c1, &mut s1);
            });
            let cuts = cuts2.clone();
            let (mut c2, mut s2) = (client, server);
            std::thread::spawn(move || {
                let mut sent = 0u64;
                let mut buf = [0u8; 16384];
                loop {
                    let n = match s2.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if sent + n as u64 > limit {
                        let keep = (limit - sent) as usize;
                        let _ = c2.write_all(&buf[..keep]);
                        cuts.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    sent += n as u64;
                    if c2.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = c2.shutdown(std::net::Shutdown::Both);
                let _ = s2.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (port, cuts)
}

#[test]
fn a_connection_cut_in_the_middle_of_a_fetch_resumes_cleanly() {
    let env = Env::new();
    let d = dovecot(&[("alice", "alice-pw")], None);
    let n = fill(&d, 300);
    let (port, cuts) = cutting_proxy(d.imap_port, 200_000);
    let port = port.to_string();
    let out = arkiv(
        &env,
        &[
            "import",
            "imap",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--security",
            "plain",
            "--login",
            "alice",
            "--user",
            "alice",
            "--folder",
            "Mail",
            "--json",
        ],
        "alice-pw",
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cuts.load(Ordering::SeqCst), 1, "the connection was cut");
    assert_eq!(out.status.code(), Some(0), "{r}");
    assert!(
        r["log"].to_string().contains("connected again"),
        "{}",
        r["log"]
    );
    let (all, distinct) = total_archived(&env);
    assert_eq!((all, distinct), (n, n), "nothing lost, nothing twice");
}

#[test]
fn failures_an_administrator_meets_are_clear() {
    let env = Env::new();
    let d = dovecot(&[("alice", "alice-pw")], None);
    d.add_message("alice", &[], b"Subject: x\r\n\r\nx\r\n", "S");
    let port = d.imaps_port.to_string();
    let base = [
        "import",
        "imap",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--login",
        "alice",
        "--user",
        "alice",
    ];
    let run = |extra: &[&str], pw: &str| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        let out = arkiv(&env, &a, pw);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Untrusted (self-signed) certificate: refused, with the fingerprint to pin.
    let (code, err) = run(&[], "alice-pw");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("not trusted") && err.contains(&d.fingerprint),
        "{err}"
    );
    // Wrong password.
    let (code, err) = run(&["--fingerprint", &d.fingerprint], "wrong");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("logon") && err.contains("alice"), "{err}");
    // Mailbox gone (the account was removed on the server).
    d.remove_user("alice");
    let (code, err) = run(&["--fingerprint", &d.fingerprint], "alice-pw");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("logon"), "{err}");
    // STARTTLS asked of a port that speaks TLS from the first byte: a clear protocol error.
    let (code, err) = run(
        &[
            "--security",
            "starttls",
            "--ignore-certificate",
            "--timeout",
            "5",
        ],
        "alice-pw",
    );
    assert_eq!(code, Some(1), "{err}");
    // Server gone.
    let mut d = d;
    d.stop();
    let (code, err) = run(&["--fingerprint", &d.fingerprint], "alice-pw");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot connect"), "{err}");
}

#[test]
fn pop3_and_multidrop_and_master_user() {
    let env = Env::new();
    env.ok(&["user", "add", "bob", "--email", "bob@example.com"]);
    env.ok(&["user", "add", "catchall"]);
    let d = dovecot(
        &[("alice", "alice-pw"), ("journal", "journal-pw")],
        Some(("archiver", "master-pw")),
    );
    for i in 0..5 {
        d.add_message(
            "journal",
            &[],
            format!("From: alice@example.com\r\nTo: bob@example.com\r\nSubject: j{i}\r\n\r\nx\r\n")
                .as_bytes(),
            "",
        );
    }
    d.add_message(
        "journal",
        &[],
        b"From: stranger@elsewhere.org\r\nTo: nobody@elsewhere.org\r\nSubject: unknown\r\n\r\nx\r\n",
        "",
    );
    let port = d.pop3s_port.to_string();
    let pop = |extra: &[&str]| {
        let mut a = vec![
            "import",
            "pop3",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--fingerprint",
            &d.fingerprint,
            "--login",
            "journal",
            "--multi-user",
            "--unknown-user",
            "catchall",
            "--json",
        ];
        a.extend_from_slice(extra);
        let out = arkiv(&env, &a, "journal-pw");
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), v)
    };
    let (code, r) = pop(&[]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["import"]["messages"], 6, "{r}");
    let ls = |u: &str| env.json(&["search", "--json", "--user", u, "subject:j*"])["total"].clone();
    assert_eq!(ls("alice"), 5, "the sender's archive");
    assert_eq!(ls("bob"), 5, "the recipient's archive");
    let unknown = env.json(&["search", "--json", "--user", "catchall", "unknown"]);
    assert_eq!(unknown["total"], 1, "{unknown}");
    // Re-run: UIDL says nothing is new. Then delete what is archived.
    let (_, r) = pop(&[]);
    assert_eq!(r["import"]["messages"], 0, "{r}");
    let (_, r) = pop(&["--delete", "immediately"]);
    assert_eq!(r["deleted"], 6, "{r}");
    let (_, r) = pop(&[]);
    assert_eq!(r["folders"][0]["onServer"], 0, "{r}");

    // A master user reads alice's mailbox (SASL PLAIN with an authorization identity).
    d.add_message("alice", &[], b"Subject: via master\r\n\r\nx\r\n", "S");
    let iport = d.imaps_port.to_string();
    let out = arkiv(
        &env,
        &[
            "import",
            "imap",
            "--host",
            "127.0.0.1",
            "--port",
            &iport,
            "--fingerprint",
            &d.fingerprint,
            "--master-user",
            "archiver",
            "--login",
            "alice",
            "--user",
            "alice",
            "--json",
        ],
        "master-pw",
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{r}");
    assert_eq!(r["import"]["archived"], 1, "{r}");
    assert!(
        r["mailbox"]
            .as_str()
            .unwrap()
            .contains("alice (as archiver)"),
        "{r}"
    );
}
