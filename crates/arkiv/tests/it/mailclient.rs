//! The IMAP and POP3 clients against a real Dovecot, and against hostile fake servers.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use arkiv_corpus::dovecot::{Dovecot, DovecotOptions};
use arkiv_mailclient::imap::ImapSession;
use arkiv_mailclient::pop3::Pop3Session;
use arkiv_mailclient::{Credentials, Endpoint, ErrorKind, Security, Trust};

use crate::support::cpython_email_data;

pub fn dovecot(users: &[(&str, &str)], master: Option<(&str, &str)>) -> Dovecot {
    Dovecot::start(&DovecotOptions {
        users: users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect(),
        master: master.map(|(u, p)| (u.to_string(), p.to_string())),
        mail_root: None,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

pub fn endpoint(d: &Dovecot, security: Security, trust: Trust) -> Endpoint {
    let port = match security {
        Security::Tls => d.imaps_port,
        _ => d.imap_port,
    };
    let mut ep = Endpoint::new("127.0.0.1", port, security);
    ep.trust = trust;
    ep.timeout = Duration::from_secs(20);
    ep
}

fn login(user: &str, password: &str) -> Credentials {
    Credentials::Login {
        user: user.into(),
        password: password.into(),
    }
}

/// Real messages written by others, with CRLF line ends (Dovecot serves LF files as CRLF).
pub fn real_messages(n: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(cpython_email_data())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("msg_"))
        .collect();
    files.sort();
    for p in files.into_iter().take(n) {
        let raw = std::fs::read(&p).unwrap();
        out.push((
            p.file_name().unwrap().to_string_lossy().into_owned(),
            crlf(&raw),
        ));
    }
    out
}

pub fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 20);
    for (i, b) in raw.iter().enumerate() {
        if *b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*b);
    }
    out
}

#[test]
fn imap_client_reads_every_folder_of_dovecot_byte_for_byte() {
    let d = dovecot(&[("alice", "alice-pw")], None);
    let msgs = real_messages(20);
    for (i, (_, bytes)) in msgs.iter().enumerate() {
        let folder: &[&str] = match i % 3 {
            0 => &[],
            1 => &["Sent"],
            _ => &["Projekte", "Entwürfe"],
        };
        d.add_message("alice", folder, bytes, if i % 2 == 0 { "S" } else { "" });
    }
    // Modified UTF-7 on disk for the non-ASCII name, as Dovecot stores it.
    let utf8_dir = d.folder_dir("alice", &["Projekte", "Entwürfe"]);
    let utf7_dir = d.folder_dir("alice", &["Projekte", "Entw&APw-rfe"]);
    std::fs::rename(&utf8_dir, &utf7_dir).unwrap();
    d.own_mail().unwrap();

    for (security, trust) in [
        (Security::Tls, Trust::pin(&d.fingerprint).unwrap()),
        (Security::StartTls, Trust::Any),
        (Security::Plain, Trust::Verify),
    ] {
        let mut s = ImapSession::connect(&endpoint(&d, security, trust)).unwrap();
        assert_eq!(s.is_tls(), security != Security::Plain);
        s.login(&login("alice", "alice-pw")).unwrap();
        let folders = s.list().unwrap();
        let names: Vec<&str> = folders.iter().map(|f| f.name.as_str()).collect();
        assert!(names.contains(&"INBOX"), "{names:?}");
        assert!(names.contains(&"Projekte/Entwürfe"), "{names:?}");
        let sent = folders.iter().find(|f| f.name == "Sent").unwrap();
        assert_eq!(sent.special_use(), Some("\\Sent"));
        let mut got = Vec::new();
        for f in folders.iter().filter(|f| f.selectable()) {
            let st = s.examine(&f.raw).unwrap();
            assert!(st.uid_validity.is_some());
            let list = s.message_list().unwrap();
            assert_eq!(list.len() as u32, st.messages);
            let uids: Vec<u32> = list.iter().map(|m| m.uid).collect();
            let mut stream = s.fetch_bodies(&uids, 10 << 20).unwrap();
            while let Some(m) = stream.next_message().unwrap() {
                got.push(m.bytes);
            }
            assert!(stream.missing().is_empty());
        }
        let mut want: Vec<Vec<u8>> = msgs.iter().map(|(_, b)| b.clone()).collect();
        want.sort();
        got.sort();
        assert_eq!(got.len(), want.len());
        assert!(got == want, "every message byte for byte");
        s.logout();
    }
}

#[test]
fn imap_master_user_reads_a_mailbox_and_wrong_logons_are_clear() {
    let d = dovecot(
        &[("alice", "alice-pw"), ("bob", "bob-pw")],
        Some(("archiver", "master-pw")),
    );
    d.add_message("bob", &[], b"Subject: for bob\r\n\r\nhello\r\n", "S");
    let ep = endpoint(&d, Security::Tls, Trust::pin(&d.fingerprint).unwrap());
    let mut s = ImapSession::connect(&ep).unwrap();
    s.login(&Credentials::Plain {
        authzid: Some("bob".into()),
        user: "archiver".into(),
        password: "master-pw".into(),
    })
    .unwrap();
    s.examine(b"INBOX").unwrap();
    let list = s.message_list().unwrap();
    let mut st = s.fetch_bodies(&[list[0].uid], 1 << 20).unwrap();
    assert_eq!(
        st.next_message().unwrap().unwrap().bytes,
        b"Subject: for bob\r\n\r\nhello\r\n"
    );
    drop(st);
    s.logout();

    let mut s = ImapSession::connect(&ep).unwrap();
    let e = s.login(&login("alice", "wrong")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication, "{e}");
    assert!(e.to_string().contains("alice"), "{e}");

    // The self-signed certificate is refused by default, with the fingerprint to pin.
    let e = ImapSession::connect(&endpoint(&d, Security::Tls, Trust::Verify))
        .err()
        .expect("untrusted");
    assert_eq!(e.kind(), ErrorKind::Certificate, "{e}");
    assert!(e.to_string().contains(&d.fingerprint), "{e}");
    // A pin of another certificate is refused too.
    let other = "00".repeat(32);
    let e = ImapSession::connect(&endpoint(&d, Security::Tls, Trust::pin(&other).unwrap()))
        .err()
        .expect("wrong pin");
    assert_eq!(e.kind(), ErrorKind::Certificate, "{e}");
}

#[test]
fn pop3_client_lists_retrieves_and_deletes() {
    let d = dovecot(&[("alice", "alice-pw")], Some(("archiver", "master-pw")));
    let msgs = real_messages(5);
    for (_, b) in &msgs {
        d.add_message("alice", &[], b, "");
    }
    let mut ep = endpoint(&d, Security::Tls, Trust::pin(&d.fingerprint).unwrap());
    ep.port = d.pop3s_port;
    let mut p = Pop3Session::connect(&ep).unwrap();
    p.login(&login("alice", "alice-pw")).unwrap();
    let ids = p.uidl().unwrap();
    assert_eq!(ids.len(), 5);
    let sizes = p.list().unwrap();
    let mut got = Vec::new();
    for (n, size) in &sizes {
        let m = p.retr(*n, size + 1024).unwrap().unwrap();
        got.push(m);
    }
    let mut want: Vec<Vec<u8>> = msgs.iter().map(|(_, b)| b.clone()).collect();
    want.sort();
    got.sort();
    assert!(got == want, "byte for byte through dot-stuffing");
    p.dele(1).unwrap();
    p.quit().unwrap();

    // STLS with the master user, and the deletion took effect.
    let mut ep2 = endpoint(&d, Security::StartTls, Trust::Any);
    ep2.port = d.pop3_port;
    let mut p = Pop3Session::connect(&ep2).unwrap();
    assert!(p.is_tls());
    p.login(&Credentials::Plain {
        authzid: Some("alice".into()),
        user: "archiver".into(),
        password: "master-pw".into(),
    })
    .unwrap();
    let after = p.uidl().unwrap();
    assert_eq!(after.len(), 4);
    assert!(!after.iter().any(|(_, id)| *id == ids[0].1));
    p.quit().unwrap();
}

/// A fake server that greets, accepts any logon and answers every FETCH with `answer`.
fn hostile_imap(answer: &'static [u8], then_stall: bool) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake\r\n")
            .unwrap();
        let mut buf = [0u8; 4096];
        loop {
            let n = match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let line = String::from_utf8_lossy(&buf[..n]).to_string();
            let tag = line.split(' ').next().unwrap_or("*").to_string();
            if line.contains("FETCH") {
                let _ = s.write_all(answer);
                if then_stall {
                    std::thread::sleep(Duration::from_secs(30));
                    return;
                }
                // Keep sending whatever the client still reads.
                let junk = vec![b'x'; 1 << 20];
                for _ in 0..2000 {
                    if s.write_all(&junk).is_err() {
                        return;
                    }
                }
                return;
            }
            let _ = s.write_all(
                format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n* 1 EXISTS\r\n{tag} OK done\r\n")
                    .as_bytes(),
            );
        }
    });
    port
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn fake_session(port: u16, timeout: Duration) -> ImapSession {
    let mut ep = Endpoint::new("127.0.0.1", port, Security::Plain);
    ep.timeout = timeout;
    let mut s = ImapSession::connect(&ep).unwrap();
    s.login(&login("x", "y")).unwrap();
    s.examine(b"INBOX").unwrap();
    s
}

#[test]
fn hostile_imap_answers_are_refused_without_memory_growth() {
    // A 1 GB literal announced for a 2 KB message: refused at the announcement.
    let port = hostile_imap(b"* 1 FETCH (UID 1 BODY[] {1000000000}\r\n", false);
    let mut s = fake_session(port, Duration::from_secs(10));
    let before = rss_kib();
    let t = Instant::now();
    let mut st = s.fetch_bodies(&[1], 64 * 1024).unwrap();
    let e = st.next_message().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("1000000000"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(rss_kib() < before + 20 * 1024, "no memory growth");

    // A line that never ends.
    let port = hostile_imap(b"* 1 FETCH (UID 1 FLAGS (", false);
    let mut s = fake_session(port, Duration::from_secs(10));
    let before = rss_kib();
    let mut st = s.fetch_bodies(&[1], 64 * 1024).unwrap();
    let e = st.next_message().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(rss_kib() < before + 20 * 1024, "no memory growth");

    // A literal that never ends: the timeout, not a hang.
    let port = hostile_imap(b"* 1 FETCH (UID 1 BODY[] {100}\r\nonly this", true);
    let mut s = fake_session(port, Duration::from_secs(2));
    let t = Instant::now();
    let mut st = s.fetch_bodies(&[1], 64 * 1024).unwrap();
    let e = st.next_message().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(t.elapsed() < Duration::from_secs(10));

    // Garbage instead of a greeting.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        std::thread::sleep(Duration::from_secs(2));
    });
    let mut ep = Endpoint::new("127.0.0.1", port, Security::Plain);
    ep.timeout = Duration::from_secs(5);
    let e = ImapSession::connect(&ep).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
}
