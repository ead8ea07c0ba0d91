//! The command line as an administrator meets it: setup, users, errors, help.

use crate::support::{ADMIN_PW, Env};

#[test]
fn init_enforces_the_password_policy_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_arkiv"))
            .arg("--data")
            .arg(dir.path().join("d"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["init", "--admin-password", "short"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10 characters"));
    assert!(!dir.path().join("d/master.redb").exists());
    let out = run(&["init", "--admin-password", ADMIN_PW, "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["recovery_key"].as_str().unwrap().starts_with("ARKIV-"));
    let out = run(&["init", "--admin-password", ADMIN_PW]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds"));
    // Without a terminal and without a password, init says how to give one.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_arkiv"))
        .arg("--data")
        .arg(dir.path().join("e"))
        .arg("init")
        .env_remove("ARKIV_ADMIN_PASSWORD")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--admin-password"));
}

#[test]
fn users_keep_their_archive_when_deleted() {
    let env = Env::new();
    let f = env.path("m.eml");
    std::fs::write(&f, b"Subject: keep me\n\nbody\n").unwrap();
    env.import(&["eml", f.to_str().unwrap(), "--user", "alice"]);
    let dup = env.run(&["user", "add", "ALICE"]);
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let dup_mail = env.run(&["user", "add", "bob", "--email", "Alice@Example.com"]);
    assert!(String::from_utf8_lossy(&dup_mail.stderr).contains("already belongs to user 'alice'"));
    let weak = env.run(&["user", "add", "bob", "--password", "bob-Password-1"]);
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("user name"),
        "{}",
        String::from_utf8_lossy(&weak.stderr)
    );
    env.ok(&[
        "user",
        "add",
        "bob",
        "--full-name",
        "Bob B",
        "--password",
        "Winter-2026y",
    ]);
    let users = env.json(&["user", "list", "--json"]);
    let text = users.to_string();
    assert!(
        !text.contains("argon2"),
        "password hashes never leave the archive"
    );
    assert_eq!(users.as_array().unwrap().len(), 3);
    env.ok(&["user", "delete", "alice"]);
    let users = env.json(&["user", "list", "--json"]);
    assert_eq!(users.as_array().unwrap().len(), 2);
    // The archive stays, with its message.
    assert_eq!(
        env.contents("alice")["m"][0].1,
        b"Subject: keep me\n\nbody\n"
    );
    // Importing for the deleted user is refused; re-creating the user gives the archive back.
    let out = env.run(&["import", "eml", f.to_str().unwrap(), "--user", "alice"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("user 'alice' does not exist"));
    env.ok(&["user", "add", "alice"]);
    let r = env.import(&["eml", f.to_str().unwrap(), "--user", "alice"]);
    assert_eq!(r["already_archived"], 1);
}

#[test]
fn clear_errors_for_bad_arguments() {
    let env = Env::new();
    let out = env.run(&["cat", "banana"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected <store>:<number>"));
    let out = env.run(&["cat", "1:999"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("1:999 does not exist"));
    let out = env.run(&["cat", "9:1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("store 9 does not exist"));
    let out = env.run(&["import", "mbox", "/nonexistent/x.mbox", "--user", "alice"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.mbox"));
    let out = env.run(&["ls", "alice/nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    let other = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_arkiv"))
        .arg("--data")
        .arg(other.path())
        .arg("stats")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("arkiv init"));
    // Unknown configuration keys are reported.
    let cfg = env.data().join("arkiv.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("[storage]", "[storage]\nrolover_messages = 5"),
    )
    .unwrap();
    let out = env.run(&["stats"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("rolover_messages"));
}

#[test]
fn help_teaches() {
    let env = Env::new();
    let out = String::from_utf8(env.ok(&["import", "--help"])).unwrap();
    for word in [
        "mbox",
        "maildir",
        "thunderbird",
        "--multi-user",
        "Exit codes",
        "Examples",
    ] {
        assert!(out.contains(word), "import --help lacks {word}");
    }
    let out = String::from_utf8(env.ok(&["import", "imap", "--help"])).unwrap();
    for word in [
        "ARKIV_SOURCE_PASSWORD",
        "--master-user",
        "--fingerprint",
        "--delete",
        "--dry-run",
        "Exit codes",
        "Examples",
    ] {
        assert!(out.contains(word), "import imap --help lacks {word}");
    }
    let out = String::from_utf8(env.ok(&["--help"])).unwrap();
    assert!(out.contains("verify") && out.contains("ARKIV_DATA"));
}

#[test]
fn nothing_revealing_is_readable_in_the_data_directory() {
    let env = Env::new();
    env.ok(&[
        "user",
        "add",
        "bob",
        "--email",
        "zebracorn.secret@example.org",
    ]);
    let src = env.path("Quarterly Merger Plans");
    std::fs::create_dir_all(&src).unwrap();
    let body = "Attached the numbers. Codeword: PLATYPUSWALTZ.\n".repeat(50);
    let msg = format!(
        "From: Xylophone Quux <xylophone.quux@example.com>\nTo: zebracorn.secret@example.org\nSubject: Hostile takeover of Flumbergast AG\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n{body}--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"flumbergast-valuation.pdf\"\n\nPDFDATA {body}\n--b--\n"
    );
    std::fs::write(src.join("m.eml"), &msg).unwrap();
    env.import(&["eml", src.to_str().unwrap(), "--user", "bob"]);
    let secrets = [
        "Flumbergast",
        "flumbergast-valuation",
        "xylophone.quux",
        "zebracorn",
        "PLATYPUSWALTZ",
        "Quarterly Merger",
        "Xylophone",
    ];
    let mut files = Vec::new();
    fn walk(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out)
            } else {
                out.push(p)
            }
        }
    }
    walk(&env.data(), &mut files);
    // The search index is the documented exception (as in MailStore): derived, rebuildable with
    // `arkiv reindex`, and excluded from backups. Everything else must reveal nothing.
    files.retain(|f| !f.components().any(|c| c.as_os_str() == "index"));
    assert!(files.len() >= 5);
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        for s in secrets {
            assert!(
                !bytes
                    .windows(s.len())
                    .any(|w| w.eq_ignore_ascii_case(s.as_bytes())),
                "{} reveals '{s}'",
                f.display()
            );
        }
    }
    // ... while the archive itself gives everything back.
    let got = env.contents("bob");
    assert_eq!(got["Quarterly Merger Plans"][0].1, msg.as_bytes());
}
