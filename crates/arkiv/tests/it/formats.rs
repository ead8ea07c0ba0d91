//! Each file format's folder structure becomes the archive's folder structure.

use std::collections::BTreeMap;
use std::fs;

use crate::support::{Env, cpython_email_data, distinct};

fn cpython_messages() -> Vec<Vec<u8>> {
    let dir = cpython_email_data();
    let mut v: Vec<Vec<u8>> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| fs::read(p).unwrap())
        .filter(|b| b.ends_with(b"\n") && !b.is_empty())
        .collect();
    v.sort();
    v
}

/// Writes an mbox the way Python's `mailbox` module does (mboxo quoting), via Python itself.
fn python_mbox(path: &std::path::Path, msgs: &[Vec<u8>]) {
    let dir = path.parent().unwrap().join("py-src");
    fs::create_dir_all(&dir).unwrap();
    for (i, m) in msgs.iter().enumerate() {
        fs::write(dir.join(format!("{i:04}")), m).unwrap();
    }
    let script = "import mailbox, os, sys\nbox = mailbox.mbox(sys.argv[2])\nfor f in sorted(os.listdir(sys.argv[1])):\n    box.add(open(os.path.join(sys.argv[1], f), 'rb').read())\nbox.flush()\n";
    let st = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&dir)
        .arg(path)
        .status()
        .expect("python3");
    assert!(st.success());
}

#[test]
fn mbox_written_by_python_is_archived_exactly() {
    let env = Env::new();
    let msgs = cpython_messages();
    // Python's writer mangles body lines starting with "From " to ">From " (mboxo); those messages
    // cannot come back unmangled from any mbox reader, so compare only the others exactly.
    // Messages that start with their own From_ line are taken by Python as the separator.
    let clean: Vec<Vec<u8>> = msgs
        .iter()
        .filter(|m| !m.windows(6).any(|w| w == b"\nFrom ") && !m.starts_with(b"From "))
        .cloned()
        .collect();
    let mbox = env.path("py.mbox");
    python_mbox(&mbox, &clean);
    let r = env.import(&[
        "mbox",
        mbox.to_str().unwrap(),
        "--user",
        "alice",
        "--mbox-format",
        "mboxo",
    ]);
    assert_eq!(r["failed"].as_array().unwrap().len(), 0);
    let got = env.contents("alice");
    let have = distinct(got["py"].iter().map(|x| x.1.clone()).collect());
    // Python's mbox writer turns CRLF into LF; compare after the same normalisation.
    let want = distinct(
        clean
            .iter()
            .map(|m| {
                String::from_utf8_lossy(m)
                    .replace("\r\n", "\n")
                    .into_bytes()
            })
            .collect(),
    );
    let have_n: Vec<Vec<u8>> = distinct(
        have.iter()
            .map(|m| {
                String::from_utf8_lossy(m)
                    .replace("\r\n", "\n")
                    .into_bytes()
            })
            .collect(),
    );
    assert_eq!(have_n.len(), want.len());
    assert_eq!(have_n, want);
}

#[test]
fn mboxrd_with_crlf_round_trips_every_byte() {
    let env = Env::new();
    let mut msgs = cpython_messages();
    msgs.push(
        b"From: a@b\r\nSubject: quoting\r\n\r\nFrom here\r\n>From there\r\n>>From everywhere\r\n"
            .to_vec(),
    );
    let mut file = Vec::new();
    for m in &msgs {
        file.extend_from_slice(b"From sender@example.com Thu Jan  1 00:00:00 2015\r\n");
        for line in m.split_inclusive(|&b| b == b'\n') {
            let stripped: &[u8] = &line[line.iter().take_while(|&&b| b == b'>').count()..];
            if stripped.starts_with(b"From ") {
                file.push(b'>');
            }
            file.extend_from_slice(line);
        }
        file.extend_from_slice(b"\r\n");
    }
    let dir = env.path("boxes/sub");
    fs::create_dir_all(&dir).unwrap();
    fs::write(env.path("boxes/Inbox.mbox"), &file).unwrap();
    fs::write(dir.join("Old.mbox"), &file).unwrap();
    env.import(&[
        "mbox",
        env.path("boxes").to_str().unwrap(),
        "--user",
        "alice",
        "--folder",
        "Mail",
    ]);
    let got = env.contents("alice");
    let want = distinct(msgs.clone());
    for folder in ["Mail/Inbox", "Mail/sub/Old"] {
        let have = distinct(got[folder].iter().map(|x| x.1.clone()).collect());
        assert_eq!(have, want, "{folder}");
    }
}

#[test]
fn thunderbird_profile_keeps_its_folder_tree() {
    let env = Env::new();
    let msgs = cpython_messages();
    let mbox = |ms: &[Vec<u8>]| -> Vec<u8> {
        let mut f = Vec::new();
        for m in ms {
            f.extend_from_slice(b"From - Thu Jan  1 00:00:00 2015\n");
            f.extend_from_slice(m);
            f.extend_from_slice(b"\n");
        }
        f
    };
    // This writer does not quote, so only messages without From_-like lines are usable.
    let clean: Vec<Vec<u8>> = msgs
        .into_iter()
        .filter(|m| {
            !m.windows(6).any(|w| w == b"\nFrom ")
                && !m.starts_with(b"From ")
                && !m.contains(&b'\r')
        })
        .take(9)
        .collect();
    let root = env.path("profile");
    let lf = root.join("Mail/Local Folders");
    fs::create_dir_all(lf.join("Inbox.sbd/Projects.sbd")).unwrap();
    fs::write(root.join("prefs.js"), "// prefs").unwrap();
    fs::write(lf.join("Inbox"), mbox(&clean[0..3])).unwrap();
    fs::write(lf.join("Inbox.msf"), "// mork index, ignored").unwrap();
    fs::write(lf.join("Inbox.sbd/Projects"), mbox(&clean[3..6])).unwrap();
    fs::write(lf.join("Inbox.sbd/Projects.sbd/Alpha"), mbox(&clean[6..9])).unwrap();
    env.import(&[
        "thunderbird",
        root.to_str().unwrap(),
        "--user",
        "alice",
        "--folder",
        "TB",
    ]);
    let got = env.contents("alice");
    let folders: BTreeMap<&str, &[Vec<u8>]> = [
        ("TB/Local Folders/Inbox", &clean[0..3]),
        ("TB/Local Folders/Inbox/Projects", &clean[3..6]),
        ("TB/Local Folders/Inbox/Projects/Alpha", &clean[6..9]),
    ]
    .into_iter()
    .collect();
    for (f, want) in folders {
        let have = distinct(
            got.get(f)
                .unwrap_or_else(|| panic!("{f} missing in {:?}", got.keys()))
                .iter()
                .map(|x| x.1.clone())
                .collect(),
        );
        assert_eq!(have, distinct(want.to_vec()), "{f}");
    }
}

#[test]
fn eml_options_recursion_and_extensions() {
    let env = Env::new();
    let src = env.path("eml");
    fs::create_dir_all(src.join("a/b")).unwrap();
    fs::write(src.join("1.eml"), b"Subject: one\n\nbody\n").unwrap();
    fs::write(src.join("a/2.EML"), b"Subject: two\n\nbody\n").unwrap();
    fs::write(src.join("a/b/3.msgtxt"), b"Subject: three\n\nbody\n").unwrap();
    fs::write(src.join("a/b/ignored.doc"), b"not mail").unwrap();
    env.import(&[
        "eml",
        src.to_str().unwrap(),
        "--user",
        "alice",
        "--no-recursive",
    ]);
    let got = env.contents("alice");
    assert_eq!(got["eml"].len(), 1);
    assert!(!got.contains_key("eml/a"));
    env.import(&[
        "eml",
        src.to_str().unwrap(),
        "--user",
        "alice",
        "--extensions",
        "eml,msgtxt",
        "--folder",
        "all",
    ]);
    let got = env.contents("alice");
    assert_eq!(got["all"].len(), 1);
    assert_eq!(got["all/a"].len(), 1);
    assert_eq!(got["all/a/b"][0].1, b"Subject: three\n\nbody\n");
}
