//! The read-only IMAP service (D3) with a real client: Python's imaplib over STARTTLS and
//! implicit TLS, plus raw TLS sockets for hostile input (`imap_server.py`).

use std::process::Command;

use crate::server::Server;
use crate::support::Env;

const PW: &str = "Silver-Lantern-2026q";

#[test]
fn imaplib_signs_in_only_over_tls_and_hostile_input_is_refused() {
    let env = Env::new();
    // A short idle limit, so that a stalled client is cut off within the test.
    env.set_config("idle_timeout_seconds = 60", "idle_timeout_seconds = 3");
    env.set_config(
        "request_timeout_seconds = 120",
        "request_timeout_seconds = 3",
    );
    let srv = Server::start(&env);
    srv.ok(
        "/api/invoke/CreateUser",
        &format!("userName=carol&privileges=login&password={PW}"),
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/imap_server.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(srv.imap.to_string())
        .arg(srv.imaps.to_string())
        .arg("carol")
        .arg(PW)
        .output()
        .expect("python3 is needed: apt-get install -y python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for check in [
        "LOGIN before TLS is refused",
        "a wrong password is refused",
        "LOGIN after STARTTLS",
        "CREATE is refused: the archive is read-only",
        "AUTHENTICATE PLAIN",
        "huge literal refused at its announcement",
        "the connection goes on",
        "deep nesting refused",
        "others are served while a literal stalls",
        "a literal that never ends is cut off",
        "others are served while a client does not read",
        "a client that never reads is cut off",
    ] {
        assert!(stdout.contains(&format!("ok {check}")), "{check}: {stdout}");
    }
    // The listeners are in the service configuration; logons are audited with their door.
    let conf = srv.ok("/api/invoke/GetServiceConfiguration", "");
    let names: Vec<&str> = conf["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(names.contains(&"IMAP Server (STARTTLS)") && names.contains(&"IMAP Server (SSL)"));
    srv.stop();
    let audit = std::fs::read_to_string(env.data().join("audit.log")).unwrap();
    let logons: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("imap logon") && l.contains("\"via\":\"IMAP\""))
        .collect();
    assert!(
        logons.iter().filter(|l| l.contains("succeeded")).count() >= 2,
        "{logons:?}"
    );
    assert!(
        logons.iter().any(|l| l.contains("refused")),
        "the wrong password is audited: {logons:?}"
    );
}

/// Archives the `.eml`-like files of `dir` into alice's Inbox folder.
fn import_into_alices_inbox(env: &Env, dir: &std::path::Path, extra: &[&str]) {
    let mut args = vec![
        "eml",
        dir.to_str().unwrap(),
        "--user",
        "alice",
        "--folder",
        "Inbox",
    ];
    args.extend_from_slice(extra);
    env.import(&args);
}

/// Gives alice a password and the `login` privilege (IMAP sign-in needs both).
fn let_alice_sign_in(srv: &Server) {
    srv.ok(
        "/api/invoke/SetUserPassword",
        &format!("userName=alice&password={PW}"),
    );
    srv.ok(
        "/api/invoke/SetUserPrivileges",
        "userName=alice&privileges=login",
    );
}

/// A message as mbsync stored it, without the `X-TUID` header mbsync adds to every message it
/// copies (its own bookkeeping: it finds copied messages by it).
fn without_tuid(m: Vec<u8>) -> Vec<u8> {
    let end = m
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or(m.len(), |p| p + 1);
    let Some(at) = m[..end].windows(8).position(|w| w == b"X-TUID: ") else {
        return m;
    };
    if at > 0 && m[at - 1] != b'\n' {
        return m;
    }
    let stop = m[at..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(m.len(), |p| at + p + 1);
    [&m[..at], &m[stop..]].concat()
}

/// Every file of a Maildir tree (`cur` and `new` of every folder), without mbsync's X-TUID.
fn maildir_files(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().map(|e| e.unwrap()) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .parent()
                .and_then(|x| x.file_name())
                .is_some_and(|n| n == "cur" || n == "new")
            {
                out.push(without_tuid(std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// mbsync pulls alice's archive over IMAPS into a Maildir: every file equals an original
/// message byte for byte; a second run fetches nothing; after more mail is archived (and the
/// server restarted: UIDVALIDITY holds) a run fetches only the new mail. bob sees alice's
/// Inbox only while it is granted to him, under Other Users.
#[test]
fn mbsync_copies_an_archive_byte_for_byte_and_then_only_what_is_new() {
    let env = Env::new();
    let data = crate::support::cpython_email_data();
    // The originals (one per distinct message).
    let mut exact: Vec<Vec<u8>> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    exact.sort();
    exact.dedup();
    // As mbsync stores them: a Maildir file has LF line ends (mbsync turns CRLF into LF), and
    // mbsync skips a message whose header has no end ("incomplete header", its own limit:
    // it must insert its X-TUID there). The exact bytes of every message, those included,
    // are checked with imaplib below.
    let lf = |m: &Vec<u8>| {
        let mut out = Vec::with_capacity(m.len());
        for (i, b) in m.iter().enumerate() {
            if !(*b == b'\r' && m.get(i + 1) == Some(&b'\n')) {
                out.push(*b);
            }
        }
        out
    };
    let mut originals: Vec<Vec<u8>> = exact
        .iter()
        .map(lf)
        .filter(|m| m.windows(2).any(|w| w == b"\n\n"))
        .collect();
    originals.sort();
    originals.dedup();
    assert!(originals.len() >= 40, "{}", originals.len());
    import_into_alices_inbox(&env, &data, &["--extensions", "txt"]);
    let srv = Server::start(&env);
    let_alice_sign_in(&srv);
    srv.ok(
        "/api/invoke/CreateUser",
        &format!("userName=bob&privileges=login&password={PW}"),
    );
    let cert = env.data().join("tls/cert.pem");
    let sync = |srv: &Server, user: &str, near: &std::path::Path| {
        std::fs::create_dir_all(near).unwrap();
        let conf = near.with_extension("mbsyncrc");
        std::fs::write(
            &conf,
            format!(
                "IMAPAccount a\nHost localhost\nPort {}\nUser {user}\nPass {PW}\nSSLType IMAPS\nCertificateFile {}\n\n\
                 IMAPStore far\nAccount a\n\n\
                 MaildirStore near\nPath {}/\nInbox {}/INBOX\nSubFolders Verbatim\n\n\
                 Channel c\nFar :far:\nNear :near:\nPatterns *\nCreate Near\nSync Pull\nSyncState *\n",
                srv.imaps,
                cert.display(),
                near.display(),
                near.display()
            ),
        )
        .unwrap();
        let out = Command::new("mbsync")
            .arg("-c")
            .arg(&conf)
            .arg("-a")
            .output()
            .expect("mbsync is needed: apt-get install -y isync");
        assert!(
            out.status.success(),
            "mbsync failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        maildir_files(near)
    };
    let near = env.path("near");
    let first = sync(&srv, "alice", &near);
    let missing: Vec<String> = originals
        .iter()
        .filter(|o| !first.contains(o))
        .map(|o| String::from_utf8_lossy(&o[..o.len().min(300)]).into_owned())
        .collect();
    if !missing.is_empty() {
        let got: Vec<String> = first
            .iter()
            .filter(|f| !originals.contains(f))
            .take(2)
            .map(|o| format!("{o:?}"))
            .collect();
        panic!("not pulled: {missing:#?}\ngot instead: {got:#?}");
    }
    assert_eq!(first.len(), originals.len(), "every message once");
    assert_eq!(first, originals, "byte for byte");
    // Exactly the original bytes over IMAP, for every message (imaplib, BODY.PEEK[]).
    let dump = env.path("fetched");
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import imaplib, ssl, sys, os\n\
             ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
             m = imaplib.IMAP4_SSL('127.0.0.1', int(sys.argv[1]), ssl_context=ctx)\n\
             m.login('alice', sys.argv[2]); m.select('INBOX', readonly=True)\n\
             typ, data = m.uid('FETCH', '1:*', '(BODY.PEEK[])')\n\
             os.makedirs(sys.argv[3]); n = 0\n\
             for item in data:\n\
             \x20   if isinstance(item, tuple):\n\
             \x20       n += 1; open(os.path.join(sys.argv[3], str(n)), 'wb').write(item[1])\n\
             print(n)\n",
        )
        .arg(srv.imaps.to_string())
        .arg(PW)
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut fetched: Vec<Vec<u8>> = std::fs::read_dir(&dump)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    fetched.sort();
    assert_eq!(fetched, exact, "BODY[] is the original, byte for byte");
    // curl, another real client: a folder list, a message by UID (byte for byte), a search.
    let curl = |path: &str| {
        let out = Command::new("curl")
            .args(["-sS", "--insecure", "--user", &format!("alice:{PW}")])
            .arg(format!("imaps://127.0.0.1:{}/{path}", srv.imaps))
            .output()
            .expect("curl is needed: apt-get install -y curl");
        assert!(
            out.status.success(),
            "curl {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let list = String::from_utf8(curl("")).unwrap();
    assert!(list.contains("INBOX"), "{list}");
    let one = curl("INBOX;UID=1");
    assert!(exact.contains(&one), "curl's UID 1 is an original message");
    let found = String::from_utf8(curl("INBOX?TEXT%20test")).unwrap();
    assert!(
        found.starts_with("* SEARCH ") && found.split_whitespace().count() > 2,
        "{found}"
    );
    // Nothing new: nothing fetched, nothing changed.
    let second = sync(&srv, "alice", &near);
    assert_eq!(second, first);
    // bob's own archive is empty and alice's is not his to see.
    let bob = sync(&srv, "bob", &env.path("bob-near"));
    assert!(bob.is_empty(), "{} messages reached bob", bob.len());
    // Granted alice's Inbox, bob finds it under Other Users (the access core decides).
    srv.ok(
        "/api/invoke/SetComplianceConfiguration",
        "config=%7B%22adminArchiveAccess%22%3Atrue%7D&reason=imap%20test",
    );
    srv.ok(
        "/api/invoke/SetUserPrivilegesOnFolder",
        "userName=bob&folder=alice%2FInbox&privileges=read",
    );
    let bob_near = env.path("bob-granted");
    let granted = sync(&srv, "bob", &bob_near);
    assert_eq!(granted, first, "the granted folder, all of it");
    assert!(bob_near.join("Other Users/alice/Inbox").is_dir());
    srv.ok(
        "/api/invoke/SetUserPrivilegesOnFolder",
        "userName=bob&folder=alice%2FInbox&privileges=none",
    );
    let after = sync(&srv, "bob", &env.path("bob-revoked"));
    assert!(after.is_empty(), "taken back: {} messages", after.len());
    srv.stop();

    // New mail, a restart: only it comes.
    let more = env.path("more");
    std::fs::create_dir_all(&more).unwrap();
    let new_mail = b"From: Late <late@example.com>\nSubject: archived later\n\nnew\n".to_vec();
    std::fs::write(more.join("late.eml"), &new_mail).unwrap();
    import_into_alices_inbox(&env, &more, &[]);
    let srv = Server::start(&env);
    let third = sync(&srv, "alice", &near);
    assert_eq!(third.len(), first.len() + 1);
    assert!(third.contains(&new_mail));
    srv.stop();
    let audit = std::fs::read_to_string(env.data().join("audit.log")).unwrap();
    assert!(audit.contains("imap logon"));
}

/// A message with CRLF line ends (lone LFs made CRLF): what Dovecot serves whatever it was
/// given, so the oracle comparison gives Arkiv the same bytes.
fn crlf(m: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(m.len() + m.len() / 20);
    for (i, b) in m.iter().enumerate() {
        if *b == b'\n' && (i == 0 || m[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*b);
    }
    out
}

/// ENVELOPE, BODYSTRUCTURE, BODY and every section of real messages (CPython's email test
/// data and mail-parser's corpus: nested messages, digests, odd headers) are answered as
/// Dovecot answers them for the same messages (`imap_oracle.py`).
#[test]
fn fetch_structure_agrees_with_dovecot() {
    let env = Env::new();
    let mut messages: Vec<Vec<u8>> = Vec::new();
    let data = crate::support::cpython_email_data();
    for e in std::fs::read_dir(&data).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "txt") {
            messages.push(std::fs::read(p).unwrap());
        }
    }
    // mail-parser's corpus; its `malformed/` messages are broken on purpose (boundaries
    // that are prefixes of others, parts without headers): where Arkiv splits those
    // differently from Dovecot the difference is listed as known, not failed.
    let parser = crate::support::files_by_folder(
        &crate::support::mail_parser_resources().join("eml"),
        &["eml"],
    );
    let lenient = env.path("oracle-malformed");
    std::fs::create_dir_all(&lenient).unwrap();
    for (folder, files) in parser {
        for (i, m) in files.iter().enumerate() {
            if folder.contains("malformed") {
                std::fs::write(lenient.join(format!("{i}.eml")), crlf(m)).unwrap();
            }
        }
        messages.extend(files);
    }
    // Messages whose header never ends are left out: Dovecot and Arkiv agree there is no
    // body, but mbsync-style clients cannot add to them either; the byte-exact FETCH of
    // those is checked in the mbsync test.
    let mut messages: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| crlf(m))
        .filter(|m| m.windows(4).any(|w| w == b"\r\n\r\n"))
        .collect();
    messages.sort();
    messages.dedup();
    assert!(messages.len() >= 60, "{}", messages.len());
    let dir = env.path("oracle");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, m) in messages.iter().enumerate() {
        std::fs::write(dir.join(format!("{i:04}.eml")), m).unwrap();
    }
    import_into_alices_inbox(&env, &dir, &[]);
    let dove = crate::mailclient::dovecot(&[("oracle", PW)], None);
    for m in &messages {
        dove.add_message("oracle", &[], m, "S");
    }
    let srv = Server::start(&env);
    let_alice_sign_in(&srv);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/imap_oracle.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(srv.imaps.to_string())
        .arg(dove.imaps_port.to_string())
        .args(["alice", PW, "oracle", PW])
        .arg(&lenient)
        .output()
        .expect("python3 is needed: apt-get install -y python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" 0 differences"), "{stdout}");
    eprintln!("{}", stdout.lines().last().unwrap_or_default());
}

/// SEARCH answers from the index what Arkiv's own search answers for the same criteria (the
/// CLI's `arkiv search`, run on the same archive); ESEARCH, SORT, refusals, and IDLE seeing a
/// message deleted through the Administration API (`imap_search.py`).
#[test]
fn search_agrees_with_arkiv_search_and_idle_sees_deletions() {
    let env = Env::new();
    let data = crate::support::cpython_email_data();
    import_into_alices_inbox(&env, &data, &["--extensions", "txt"]);
    // (IMAP criteria, Arkiv's query for the same)
    let pairs = [
        ("FROM bbb@zzz.org", "from:bbb@zzz.org"),
        ("TEXT test", "test"),
        ("SUBJECT message", "subject:message"),
        ("TO ppp@zzz.org", "to:ppp@zzz.org"),
        ("BODY \"test message\"", "bcontent:\"test message\""),
        (
            "OR FROM bbb@zzz.org SUBJECT lyrics",
            "from:bbb@zzz.org OR subject:lyrics",
        ),
        ("NOT TEXT test", "-test"),
        ("LARGER 2000", "size>2000"),
        ("TEXT test SMALLER 1000", "test size<1000"),
        ("HEADER Subject message", "subject:message"),
    ];
    let mut expected = std::collections::BTreeMap::new();
    for (imap, query) in pairs {
        let v = env.json(&[
            "search",
            "--user",
            "alice",
            "--folder",
            "alice/Inbox",
            "--no-subfolders",
            "--json",
            "--limit",
            "1000",
            "--",
            query,
        ]);
        let mut sizes: Vec<u64> = v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["size"].as_u64().unwrap())
            .collect();
        sizes.sort();
        assert_eq!(sizes.len() as u64, v["total"].as_u64().unwrap());
        expected.insert(imap.to_string(), sizes);
    }
    assert!(
        expected.values().filter(|s| !s.is_empty()).count() >= 8,
        "the queries find something: {expected:?}"
    );
    let srv = Server::start(&env);
    let_alice_sign_in(&srv);
    // bob reaches none of alice's mail by any command: names, UIDs, sequence numbers, search.
    srv.ok(
        "/api/invoke/CreateUser",
        &format!("userName=bob&privileges=login&password={PW}"),
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import imaplib, ssl, sys\n\
             ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
             m = imaplib.IMAP4_SSL('127.0.0.1', int(sys.argv[1]), ssl_context=ctx)\n\
             m.login('bob', sys.argv[2])\n\
             typ, data = m.list(); assert not any(b'alice' in d for d in data if d), data\n\
             for name in ['\"Other Users/alice/Inbox\"', '\"Other Users/alice\"', 'alice/Inbox']:\n\
             \x20   typ, data = m._simple_command('SELECT', name); assert typ == 'NO', (name, typ, data)\n\
             \x20   typ, data = m._simple_command('STATUS', name, '(MESSAGES)'); assert typ == 'NO', (name, typ, data)\n\
             typ, data = m.select('INBOX', readonly=True); assert data == [b'0'], data\n\
             typ, data = m.uid('FETCH', '1:*', '(BODY.PEEK[])'); assert data in ([None], []), data\n\
             typ, data = m.fetch('1:*', '(UID)'); assert data in ([None], []), data\n\
             typ, data = m.uid('SEARCH', 'ALL'); assert data == [b''], data\n\
             typ, data = m.search(None, 'TEXT', 'test'); assert data == [b''], data\n\
             print('bob sees nothing')\n",
        )
        .arg(srv.imaps.to_string())
        .arg(PW)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("bob sees nothing"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/imap_search.py");
    let queries: Vec<&str> = pairs.iter().map(|p| p.0).collect();
    let mut child = Command::new("python3")
        .arg(script)
        .arg(srv.imaps.to_string())
        .args(["alice", PW])
        .arg(serde_json::to_string(&queries).unwrap())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed: apt-get install -y python3");
    // Wait until the client idles, then delete one of alice's messages as an administrator
    // allowed to (compliance), through the Administration API.
    let mut out = String::new();
    {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 {
            out.push_str(&line);
            if line.starts_with("idling") {
                srv.ok(
                    "/api/invoke/SetComplianceConfiguration",
                    "config=%7B%22adminArchiveAccess%22%3Atrue%7D&reason=imap%20test",
                );
                let list = srv.ok("/api/invoke/GetMessages", "folder=alice%2FInbox");
                let id = list
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(|m| m["id"].as_str().map(str::to_string))
                    .unwrap_or_else(|| panic!("a message id: {list}"));
                srv.ok(
                    "/api/invoke/DeleteMessage",
                    &format!("id={id}&reason=imap%20idle%20test"),
                );
            }
            line.clear();
        }
    }
    let status = child.wait().unwrap();
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{out}\n{err}");
    for line in out.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let got: Vec<u64> = v["sizes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_u64().unwrap())
            .collect();
        let criteria = v["criteria"].as_str().unwrap();
        assert_eq!(got, expected[criteria], "{criteria}");
    }
    for check in [
        "ESEARCH MIN MAX COUNT",
        "SORT (SIZE) is by size",
        "another charset is refused",
        "IDLE reports a removed message",
        "the mailbox follows the removal",
    ] {
        assert!(out.contains(&format!("ok {check}")), "{check}: {out}");
    }
}

/// mutt, a terminal mail client, opens the archive's INBOX over IMAPS and reads every message
/// in it (piped out one by one in its batch run, on a pseudo-terminal from `script`).
#[test]
fn mutt_reads_a_folder() {
    let env = Env::new();
    let data = crate::support::cpython_email_data();
    import_into_alices_inbox(&env, &data, &["--extensions", "txt"]);
    let srv = Server::start(&env);
    let_alice_sign_in(&srv);
    let stats = srv.ok("/api/invoke/GetFolderStatistics", "");
    let count = stats
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["folder"].as_str().is_some_and(|f| f.starts_with("alice")))
        .map(|f| f["count"].as_u64().unwrap_or(0))
        .sum::<u64>();
    assert!(count >= 40, "{stats}");
    let out = env.path("mutt-out");
    let rc = env.path("muttrc");
    std::fs::write(
        &rc,
        format!(
            "set imap_user=alice\nset imap_pass=\"{PW}\"\nset certificate_file=\"{}\"\n\
             set ssl_verify_host=no\nset ssl_force_tls=yes\nset header_cache=\"\"\n\
             set wait_key=no\nset pipe_split=yes\nset mail_check=0\nset sort=mailbox-order\n",
            env.data().join("tls/cert.pem").display()
        ),
    )
    .unwrap();
    let mutt = format!(
        "mutt -n -F {} -f imaps://alice@127.0.0.1:{}/INBOX -e 'push \"<tag-pattern>~A<enter><tag-prefix><pipe-entry>cat >> {}<enter><quit>\"'",
        rc.display(),
        srv.imaps,
        out.display()
    );
    // Every message, as archived: each original appears in what mutt piped out.
    let originals: Vec<Vec<u8>> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let lf = |m: &[u8]| -> Vec<u8> { m.iter().copied().filter(|b| *b != b'\r').collect() };
    // mutt is driven by keys pushed into its pseudo-terminal; once, on a loaded machine, its
    // tag-all applied to the current message only (one message piped). The server answers
    // the same every time, so a short read is tried again, at most twice.
    let mut attempt = 0;
    let (run, got, seen) = loop {
        attempt += 1;
        let _ = std::fs::remove_file(&out);
        let run = Command::new("timeout")
            .args(["60", "script", "-qec", &mutt, "/dev/null"])
            .env("TERM", "xterm")
            .output()
            .expect("mutt and script are needed: apt-get install -y mutt bsdutils");
        let got = std::fs::read(&out).unwrap_or_else(|_| {
            panic!(
                "mutt wrote nothing ({}): {}",
                run.status,
                String::from_utf8_lossy(&run.stdout)
            )
        });
        let got = lf(&got);
        let seen = originals
            .iter()
            .filter(|o| {
                let o = lf(o);
                let probe = &o[..o.len().min(200)];
                got.windows(probe.len()).any(|w| w == probe)
            })
            .count();
        if seen > 1 || attempt == 3 {
            break (run, got, seen);
        }
        eprintln!("mutt piped {seen} message(s) on attempt {attempt}; trying again");
    };
    assert!(
        seen >= originals.len() * 9 / 10,
        "mutt read {seen} of {} messages ({} bytes): {}\n---\n{}",
        originals.len(),
        got.len(),
        String::from_utf8_lossy(&got[..got.len().min(400)]),
        String::from_utf8_lossy(&run.stdout[run.stdout.len().saturating_sub(1500)..])
    );
}
