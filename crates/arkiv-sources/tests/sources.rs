//! Integration tests of `arkiv-sources` with real messages written by other people (CPython's
//! email test corpus) and with Python's `mailbox` module as an independent mbox writer.
//!
//! Needs `python3` with its standard test package. Missing pieces make the tests fail with
//! the command that installs them; they never pass silently.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use arkiv_sources::{
    Error, FileSource, MboxFormat, SourceFailure, SourceItem, SourceKind, SourceMessage,
    SourceOptions, open,
};

const INSTALL_HINT: &str = "install Python 3 with its test package: `apt-get install -y python3 \
                            libpython3-testsuite` (Debian: the `test` package is in libpython3.X-testsuite)";

const FROM_LINE: &[u8] = b"From arkiv@example.invalid Thu Jan  1 00:00:00 2024";

// ---------------------------------------------------------------------------------------------
// Helpers

/// CPython's `test/test_email/data` directory.
fn cpython_data_dir() -> PathBuf {
    let out = Command::new("python3")
        .args([
            "-c",
            "import test.test_email, os; print(os.path.join(os.path.dirname(test.test_email.__file__), 'data'))",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "python3 has no test.test_email ({}); {INSTALL_HINT}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(dir.is_dir(), "{} is missing; {INSTALL_HINT}", dir.display());
    dir
}

/// The `msg_*.txt` messages of CPython's corpus, sorted by name.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = cpython_data_dir();
    let mut msgs: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("msg_") && name.ends_with(".txt")
        })
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&p).unwrap(),
            )
        })
        .collect();
    msgs.sort();
    assert!(
        msgs.len() >= 40,
        "expected ~47 msg_*.txt in {}, found {}; {INSTALL_HINT}",
        dir.display(),
        msgs.len()
    );
    msgs
}

/// Corpus messages that end with a newline (mbox cannot represent the others exactly), plus
/// variants with every kind of From line in their body.
fn mbox_safe_messages() -> Vec<Vec<u8>> {
    let mut msgs: Vec<Vec<u8>> = corpus()
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| m.ends_with(b"\n"))
        .collect();
    assert!(msgs.len() >= 40);
    let extra: Vec<Vec<u8>> = msgs
        .iter()
        .take(5)
        .map(|m| {
            let mut m = m.clone();
            m.extend_from_slice(b"\nFrom the body\n>From quoted once\n>>From quoted twice\n\nFrom x Thu Jan  1 00:00:00 2024\n\n");
            m
        })
        .collect();
    msgs.extend(extra);
    msgs
}

/// Writes `msgs` as an mboxrd file: `>` is added to every line matching `^>*From `.
fn write_mboxrd(msgs: &[Vec<u8>], eol: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for msg in msgs {
        assert!(msg.ends_with(b"\n"));
        out.extend_from_slice(FROM_LINE);
        out.extend_from_slice(eol);
        for line in msg.split_inclusive(|b| *b == b'\n') {
            let quotes = line.iter().take_while(|b| **b == b'>').count();
            if line[quotes..].starts_with(b"From ") {
                out.push(b'>');
            }
            out.extend_from_slice(line);
        }
        out.extend_from_slice(eol);
    }
    out
}

fn to_crlf(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + msg.len() / 20);
    for (i, b) in msg.iter().enumerate() {
        if *b == b'\n' && (i == 0 || msg[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*b);
    }
    out
}

fn opts() -> SourceOptions {
    SourceOptions::default()
}

fn items(
    kind: SourceKind,
    path: &Path,
    opts: &SourceOptions,
) -> (Vec<SourceMessage>, Vec<SourceFailure>) {
    let source = open(kind, path, opts).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let total = source.total_bytes();
    let (mut msgs, mut fails, mut consumed) = (Vec::new(), Vec::new(), 0);
    for item in source {
        match item {
            SourceItem::Message(m) => {
                consumed += m.input_len;
                msgs.push(m);
            }
            SourceItem::Failed(f) => {
                consumed += f.input_len;
                fails.push(f);
            }
        }
    }
    assert_eq!(
        consumed, total,
        "input_len of all items must add up to total_bytes"
    );
    (msgs, fails)
}

fn folders_and_bytes(msgs: &[SourceMessage]) -> Vec<(Vec<String>, Vec<u8>)> {
    msgs.iter()
        .map(|m| (m.folder.clone(), m.bytes.clone()))
        .collect()
}

fn folder(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

// ---------------------------------------------------------------------------------------------
// MBOX

#[test]
fn cpython_corpus_round_trips_through_mboxrd_lf_and_crlf() {
    let msgs = mbox_safe_messages();
    let dir = tempfile::tempdir().unwrap();
    for (eol, msgs) in [
        (&b"\n"[..], msgs.clone()),
        (b"\r\n", msgs.iter().map(|m| to_crlf(m)).collect()),
    ] {
        let path = dir.path().join("Inbox.mbox");
        fs::write(&path, write_mboxrd(&msgs, eol)).unwrap();
        for format in [MboxFormat::Auto, MboxFormat::Mboxrd] {
            let (got, fails) = items(
                SourceKind::Mbox,
                &path,
                &SourceOptions {
                    mbox_format: format,
                    ..opts()
                },
            );
            assert!(fails.is_empty(), "{fails:?}");
            assert_eq!(got.len(), msgs.len());
            for (i, (got, want)) in got.iter().zip(&msgs).enumerate() {
                assert_eq!(
                    got.bytes, *want,
                    "message {i} ({format}, eol {eol:?}) differs"
                );
                assert!(got.folder.is_empty());
                assert!(
                    got.origin.contains(&format!("(message {} at byte ", i + 1)),
                    "{}",
                    got.origin
                );
            }
        }
    }
}

#[test]
fn python_mailbox_mbox_agrees_with_mboxo_split() {
    let msgs = mbox_safe_messages();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    for (i, m) in msgs.iter().enumerate() {
        write(&input.join(format!("{i:04}")), m);
    }
    let mbox_path = dir.path().join("python.mbox");
    let expected = dir.path().join("expected");
    let script = r#"
import mailbox, os, sys
src, mbox_path, out = sys.argv[1:4]
box = mailbox.mbox(mbox_path)
for name in sorted(os.listdir(src)):
    with open(os.path.join(src, name), 'rb') as f:
        box.add(f.read())
box.flush()
box.close()
box = mailbox.mbox(mbox_path)
os.makedirs(out)
for i, key in enumerate(box.keys()):
    with open(os.path.join(out, '%04d' % i), 'wb') as f:
        f.write(box.get_bytes(key))
print(len(box))
"#;
    let run = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args([&input, &mbox_path, &expected])
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); {INSTALL_HINT}"));
    assert!(
        run.status.success(),
        "python mailbox failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let count: usize = String::from_utf8_lossy(&run.stdout).trim().parse().unwrap();
    assert_eq!(count, msgs.len());

    let (got, fails) = items(
        SourceKind::Mbox,
        &mbox_path,
        &SourceOptions {
            mbox_format: MboxFormat::Mboxo,
            ..opts()
        },
    );
    assert!(fails.is_empty(), "{fails:?}");
    assert_eq!(
        got.len(),
        count,
        "message count differs from Python's mailbox.mbox"
    );
    for (i, got) in got.iter().enumerate() {
        // Python's get_bytes returns the stored (mangled) form; mboxo unquoting undoes it.
        let python = fs::read(expected.join(format!("{i:04}"))).unwrap();
        let mut unquoted = Vec::new();
        for line in python.split_inclusive(|b| *b == b'\n') {
            unquoted.extend_from_slice(
                line.strip_prefix(b">")
                    .filter(|l| l.starts_with(b"From "))
                    .unwrap_or(line),
            );
        }
        assert_eq!(
            got.bytes, unquoted,
            "message {i} differs from Python's get_bytes"
        );
    }
    // And every message whose body had no ">From " comes back exactly as given to Python
    // (minus a leading From_ line, which Python takes as the envelope).
    let mut exact = 0;
    for (got, orig) in got.iter().zip(&msgs) {
        if !orig.windows(6).any(|w| w == b">From ") && !orig.starts_with(b"From ") {
            assert_eq!(got.bytes, *orig);
            exact += 1;
        }
    }
    assert!(exact >= 40, "only {exact} messages compared exactly");
}

#[test]
fn mbox_directory_maps_files_to_folders_and_reports_non_mbox_files() {
    let msgs = mbox_safe_messages();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Export");
    write(&root.join("Inbox.mbox"), &write_mboxrd(&msgs[0..3], b"\n"));
    write(&root.join("Sent.MBX"), &write_mboxrd(&msgs[3..4], b"\n"));
    write(
        &root.join("Projects/Alpha.mbs"),
        &write_mboxrd(&msgs[4..6], b"\n"),
    );
    write(&root.join("Projects/Empty.mbox"), b"");
    write(&root.join("notes.txt"), b"just some notes\n");
    write(&root.join(".hidden"), b"ignored");

    let (got, fails) = items(SourceKind::Mbox, &root, &opts());
    let want = vec![
        (folder(&["Inbox"]), msgs[0].clone()),
        (folder(&["Inbox"]), msgs[1].clone()),
        (folder(&["Inbox"]), msgs[2].clone()),
        (folder(&["Projects", "Alpha"]), msgs[4].clone()),
        (folder(&["Projects", "Alpha"]), msgs[5].clone()),
        (folder(&["Sent"]), msgs[3].clone()),
    ];
    assert_eq!(folders_and_bytes(&got), want);
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert!(fails[0].origin.ends_with("notes.txt"), "{:?}", fails[0]);
    assert!(
        fails[0].reason.contains("not an mbox file"),
        "{:?}",
        fails[0]
    );
    assert_eq!(fails[0].folder, folder(&["notes.txt"]));

    let source = open(SourceKind::Mbox, &root.join("Inbox.mbox"), &opts()).unwrap();
    assert_eq!(source.root_name(), "Inbox");
    let canonical = fs::canonicalize(root.join("Inbox.mbox")).unwrap();
    assert_eq!(source.source_id(), format!("mbox:{}", canonical.display()));
}

#[test]
fn oversized_message_becomes_a_failure_and_the_rest_is_imported() {
    let msgs = mbox_safe_messages();
    let max = 1000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    fs::write(&path, write_mboxrd(&msgs, b"\n")).unwrap();
    let (got, fails) = items(
        SourceKind::Mbox,
        &path,
        &SourceOptions {
            max_message_bytes: max,
            ..opts()
        },
    );
    let small: Vec<_> = msgs
        .iter()
        .filter(|m| m.len() as u64 <= max)
        .cloned()
        .collect();
    assert!(!small.is_empty() && small.len() < msgs.len());
    assert_eq!(
        got.iter().map(|m| m.bytes.clone()).collect::<Vec<_>>(),
        small
    );
    assert_eq!(fails.len(), msgs.len() - small.len());
    for f in &fails {
        assert!(
            f.reason.contains("more than the limit of 1000 bytes"),
            "{}",
            f.reason
        );
        assert!(f.origin.contains("at byte"), "{}", f.origin);
    }
}

// ---------------------------------------------------------------------------------------------
// EML

#[test]
fn eml_tree_is_walked_in_name_order_with_folders() {
    let c = corpus();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("emls");
    write(&root.join("b.eml"), &c[1].1);
    write(&root.join("a.EML"), &c[0].1);
    write(&root.join("sub/deeper/c.eml"), &c[2].1);
    write(&root.join("sub/d.eml"), &c[3].1);
    write(&root.join("sub/readme.txt"), b"not mail");
    write(&root.join("sub/empty.eml"), b"");
    std::os::unix::fs::symlink(root.join("missing-target"), root.join("sub/zz-broken.eml"))
        .unwrap();

    let (got, fails) = items(SourceKind::Eml, &root, &opts());
    let want = vec![
        (folder(&[]), c[0].1.clone()),
        (folder(&[]), c[1].1.clone()),
        (folder(&["sub"]), c[3].1.clone()),
        (folder(&["sub", "deeper"]), c[2].1.clone()),
    ];
    assert_eq!(folders_and_bytes(&got), want);
    assert!(got[0].origin.ends_with("a.EML"));
    let reasons: Vec<_> = fails
        .iter()
        .map(|f| {
            (
                f.origin.rsplit('/').next().unwrap().to_owned(),
                f.reason.clone(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, "empty.eml");
    assert_eq!(reasons[0].1, "empty file");
    assert_eq!(reasons[1].0, "zz-broken.eml");
    assert!(reasons[1].1.contains("No such file"), "{}", reasons[1].1);

    let flat = SourceOptions {
        recursive: false,
        ..opts()
    };
    let (got, _) = items(SourceKind::Eml, &root, &flat);
    assert_eq!(got.len(), 2);

    let custom = SourceOptions {
        extensions: vec![".TXT".into(), "msg".into()],
        ..opts()
    };
    let (got, _) = items(SourceKind::Eml, &root, &custom);
    assert_eq!(
        folders_and_bytes(&got),
        [(folder(&["sub"]), b"not mail".to_vec())]
    );

    let single = open(SourceKind::Eml, &root.join("sub/d.eml"), &opts()).unwrap();
    assert_eq!(single.root_name(), "d");
    assert_eq!(single.total_bytes(), c[3].1.len() as u64);
    let all: Vec<_> = single.collect();
    assert!(
        matches!(&all[..], [SourceItem::Message(m)] if m.bytes == c[3].1 && m.folder.is_empty())
    );
}

// ---------------------------------------------------------------------------------------------
// Maildir

#[test]
fn maildir_plus_plus_and_fs_layout_tree() {
    let c = corpus();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Maildir");
    let m = |i: usize| c[i].1.clone();
    write(&root.join("new/1700000002.M2.host"), &m(0));
    write(&root.join("cur/1700000001.M1.host:2,S"), &m(1));
    write(&root.join("cur/1700000003.M3.host:2,RS"), &m(2));
    write(&root.join("tmp/1700000009.M9.host"), b"half-delivered");
    fs::create_dir_all(root.join(".Sent/cur")).unwrap();
    write(&root.join(".Sent/new/1700000004.M4.host"), &m(3));
    write(&root.join(".Sent/maildirfolder"), b"");
    write(
        &root.join(".Projects.Alpha/cur/1700000005.M5.host:2,"),
        &m(4),
    );
    write(&root.join(".Entw&APw-rfe/cur/1700000006.M6.host:2,"), &m(5));
    write(&root.join(".R&-D/cur/1700000007.M7.host:2,"), &m(6));
    write(&root.join("Archive/cur/1700000008.M8.host:2,"), &m(7));
    write(&root.join("Archive/2024/new/1700000010.M10.host"), &m(8));
    write(&root.join(".NotAMaildir/readme"), b"x");
    for junk in [
        "dovecot-uidlist",
        "dovecot.index",
        "dovecot.index.log",
        "subscriptions",
        "courierimapuiddb",
    ] {
        write(&root.join(junk), b"junk");
    }
    write(&root.join("courierimapkeywords/:list"), b"junk");

    let (got, fails) = items(SourceKind::Maildir, &root, &opts());
    assert!(fails.is_empty(), "{fails:?}");
    let want = vec![
        (folder(&[]), m(1)),
        (folder(&[]), m(0)),
        (folder(&[]), m(2)),
        (folder(&["Entwürfe"]), m(5)),
        (folder(&["Projects", "Alpha"]), m(4)),
        (folder(&["R&D"]), m(6)),
        (folder(&["Sent"]), m(3)),
        (folder(&["Archive"]), m(7)),
        (folder(&["Archive", "2024"]), m(8)),
    ];
    assert_eq!(folders_and_bytes(&got), want);

    let err = open(SourceKind::Maildir, &root.join("tmp"), &opts())
        .err()
        .expect("tmp is not a maildir");
    assert!(matches!(err, Error::WrongKind { .. }), "{err}");
    assert!(err.to_string().contains("cur"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Thunderbird

#[test]
fn thunderbird_profile_with_sbd_hierarchy() {
    let msgs = mbox_safe_messages();
    let mbox = |range: std::ops::Range<usize>| write_mboxrd(&msgs[range], b"\n");
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("abcd1234.default-release");
    write(&profile.join("prefs.js"), b"user_pref(\"x\", 1);\n");
    let local = profile.join("Mail/Local Folders");
    write(&local.join("Inbox"), &mbox(0..2));
    write(
        &local.join("Inbox.msf"),
        b"// <!-- <mdb:mork:z v=\"1.4\"/> -->\n",
    );
    write(&local.join("Inbox.sbd/Work"), &mbox(2..3));
    write(&local.join("Inbox.sbd/Work.msf"), b"index");
    write(&local.join("Inbox.sbd/Work.sbd/Alpha"), &mbox(3..4));
    write(&local.join("Archives.sbd/2024"), &mbox(4..5));
    write(&local.join("Trash"), b"");
    write(&local.join("msgFilterRules.dat"), b"version=\"9\"\n");
    write(&local.join("popstate.dat"), b"# POP3 State File\n");
    write(&local.join("filterlog.html"), b"<html>");
    write(&local.join("folderTree.json"), b"{}");
    write(&local.join("notes"), b"not an mbox, silently skipped\n");
    write(
        &profile.join("ImapMail/imap.example.com/INBOX"),
        &mbox(5..6),
    );
    write(
        &profile.join("ImapMail/imap.example.com/INBOX.msf"),
        b"index",
    );

    let (got, fails) = items(SourceKind::Thunderbird, &profile, &opts());
    assert!(fails.is_empty(), "{fails:?}");
    let want = vec![
        (
            folder(&["Local Folders", "Archives", "2024"]),
            msgs[4].clone(),
        ),
        (folder(&["Local Folders", "Inbox"]), msgs[0].clone()),
        (folder(&["Local Folders", "Inbox"]), msgs[1].clone()),
        (folder(&["Local Folders", "Inbox", "Work"]), msgs[2].clone()),
        (
            folder(&["Local Folders", "Inbox", "Work", "Alpha"]),
            msgs[3].clone(),
        ),
        (folder(&["imap.example.com", "INBOX"]), msgs[5].clone()),
    ];
    assert_eq!(folders_and_bytes(&got), want);

    // The account directory on its own: the same folders without the account name.
    let (got, _) = items(SourceKind::Thunderbird, &local, &opts());
    assert_eq!(got[0].folder, folder(&["Archives", "2024"]));
    assert_eq!(got.len(), 5);
    let source = open(SourceKind::Thunderbird, &local, &opts()).unwrap();
    assert_eq!(source.root_name(), "Local Folders");

    // One mbox file on its own goes to the root folder.
    let (got, _) = items(
        SourceKind::Thunderbird,
        &local.join("Inbox.sbd/Work"),
        &opts(),
    );
    assert_eq!(folders_and_bytes(&got), [(folder(&[]), msgs[2].clone())]);
}

// ---------------------------------------------------------------------------------------------
// API surface

#[test]
fn missing_root_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    for kind in [
        SourceKind::Eml,
        SourceKind::Mbox,
        SourceKind::Maildir,
        SourceKind::Thunderbird,
    ] {
        let err = open(kind, &missing, &opts())
            .err()
            .expect("missing path must fail");
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&missing.display().to_string()) && text.contains("does not exist"),
            "{text}"
        );
    }
}

#[test]
fn names_parse_and_display() {
    for kind in [
        SourceKind::Eml,
        SourceKind::Mbox,
        SourceKind::Maildir,
        SourceKind::Thunderbird,
    ] {
        assert_eq!(kind.to_string().parse::<SourceKind>().unwrap(), kind);
    }
    for format in [
        MboxFormat::Auto,
        MboxFormat::Mboxo,
        MboxFormat::Mboxrd,
        MboxFormat::Mboxcl,
        MboxFormat::Mboxcl2,
    ] {
        assert_eq!(format.to_string().parse::<MboxFormat>().unwrap(), format);
    }
    assert_eq!("MBOXRD".parse::<MboxFormat>().unwrap(), MboxFormat::Mboxrd);
    assert!(
        "pst"
            .parse::<SourceKind>()
            .unwrap_err()
            .to_string()
            .contains("eml, mbox")
    );
    assert!("mmdf".parse::<MboxFormat>().is_err());
    let d = SourceOptions::default();
    assert!(d.recursive && d.extensions == ["eml"] && d.mbox_format == MboxFormat::Auto);
    assert_eq!(d.max_message_bytes, 256 * 1024 * 1024);
}

#[allow(dead_code)]
fn _assert_send() {
    fn f<T: Send>() {}
    f::<FileSource>()
}
