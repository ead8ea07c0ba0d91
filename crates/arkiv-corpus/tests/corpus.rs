//! Integration tests of the generated corpus: determinism, the advertised mix, and that every
//! message parses as valid MIME in a real parser (Python's `email` package).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use arkiv_corpus::{
    CorpusSpec, GeneratedMessage, Profile, generate, users, write_maildir_tree, write_mbox_tree,
};

fn spec(messages: usize, profile: Profile) -> CorpusSpec {
    CorpusSpec {
        messages,
        profile,
        ..CorpusSpec::default()
    }
}

fn collect(spec: &CorpusSpec) -> Vec<GeneratedMessage> {
    generate(spec).collect()
}

#[test]
fn same_spec_same_bytes_other_seed_other_bytes() {
    for profile in [Profile::TextOnly, Profile::AttachmentHeavy] {
        let a = collect(&spec(300, profile));
        let b = collect(&spec(300, profile));
        assert_eq!(a.len(), 300);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.bytes, y.bytes);
            assert_eq!(
                (x.user, &x.folder, x.duplicate_of),
                (y.user, &y.folder, y.duplicate_of)
            );
        }
        let c = collect(&CorpusSpec {
            seed: 43,
            ..spec(300, profile)
        });
        let same = a.iter().zip(&c).filter(|(x, y)| x.bytes == y.bytes).count();
        assert_eq!(same, 0, "seed 43 repeats messages of seed 42");
    }
}

#[test]
fn pinned_first_message_digest() {
    // If this changes, every corpus changes: benchmark results are no longer comparable.
    // Update deliberately, never by accident.
    let first = generate(&spec(1, Profile::TextOnly))
        .next()
        .expect("one message");
    let digest = first.bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    eprintln!(
        "first message: {} bytes, fnv1a {digest:016x}",
        first.bytes.len()
    );
    assert_eq!(
        digest,
        PINNED_DIGEST,
        "{}",
        String::from_utf8_lossy(&first.bytes)
    );
}

const PINNED_DIGEST: u64 = 0x01cd_4245_b1f5_15d2;

#[test]
fn users_are_unique_example_com_mailboxes() {
    let spec = CorpusSpec::default();
    let us = users(&spec);
    assert_eq!(us.len(), 20);
    let logins: HashSet<&str> = us.iter().map(|u| u.login.as_str()).collect();
    assert_eq!(logins.len(), 20);
    for u in &us {
        assert!(u.login.is_ascii() && u.login.contains('.'), "{u:?}");
        assert_eq!(u.email, format!("{}@example.com", u.login));
    }
    assert!(
        us.iter().any(|u| !u.full_name.is_ascii()),
        "no non-ASCII names: {us:?}"
    );
}

#[test]
fn duplicate_ratio_is_respected_and_duplicates_are_exact_copies() {
    let msgs = collect(&spec(2000, Profile::TextOnly));
    let dups: Vec<(usize, &GeneratedMessage)> = msgs
        .iter()
        .enumerate()
        .filter(|(_, m)| m.duplicate_of.is_some())
        .collect();
    let ratio = dups.len() as f64 / msgs.len() as f64;
    eprintln!("duplicate ratio {ratio:.3}");
    assert!((ratio - 0.10).abs() <= 0.03, "duplicate ratio {ratio}");
    let mut other_user = 0;
    for (i, d) in dups {
        let o = d.duplicate_of.unwrap();
        assert!(o < i);
        let orig = &msgs[o];
        assert!(orig.duplicate_of.is_none());
        assert_eq!(orig.bytes, d.bytes, "duplicate {i} of {o} differs");
        assert_ne!(
            (orig.user, &orig.folder),
            (d.user, &d.folder),
            "duplicate {i} in same folder"
        );
        other_user += usize::from(orig.user != d.user);
    }
    assert!(other_user > 0, "no duplicate in another user's mailbox");
    // Message-IDs are unique among originals.
    let mut ids = HashSet::new();
    for m in msgs.iter().filter(|m| m.duplicate_of.is_none()) {
        let id = header(&m.bytes, "Message-ID").expect("Message-ID");
        assert!(id.starts_with('<') && id.ends_with("@example.com>"), "{id}");
        assert!(ids.insert(id.clone()), "duplicate Message-ID {id}");
    }
}

/// The unfolded value of the first header `name` (top-level headers only).
fn header(msg: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(msg);
    let head = text.split("\n\n").next()?;
    let mut value: Option<String> = None;
    for line in head.lines() {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push_str(line.trim_start());
                continue;
            }
            return value;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_string());
        }
    }
    value
}

#[test]
fn messages_use_lf_and_end_with_a_newline() {
    for profile in [Profile::TextOnly, Profile::AttachmentHeavy] {
        for m in generate(&spec(300, profile)) {
            assert!(m.bytes.ends_with(b"\n"));
            assert!(!m.bytes.contains(&b'\r'));
            assert!(m.bytes.split(|&b| b == b'\n').all(|l| l.len() <= 998));
        }
    }
}

fn average_size(profile: Profile, messages: usize) -> f64 {
    let start = Instant::now();
    let mut bytes = 0u64;
    for m in generate(&spec(messages, profile)) {
        bytes += m.bytes.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    let avg = bytes as f64 / messages as f64 / 1000.0;
    eprintln!(
        "{profile:?}: {messages} messages, {:.1} MB, average {avg:.1} KB, {:.0} MB/s",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs
    );
    avg
}

#[test]
fn attachment_heavy_average_size() {
    let avg = average_size(Profile::AttachmentHeavy, 3000);
    assert!((35.0..=60.0).contains(&avg), "average {avg} KB");
}

#[test]
fn text_only_average_size() {
    let avg = average_size(Profile::TextOnly, 3000);
    assert!((2.0..=8.0).contains(&avg), "average {avg} KB");
}

/// Runs of base64 lines (76 characters, at least 3 lines) of attachments.
fn base64_blocks(msg: &[u8]) -> Vec<&[u8]> {
    let mut blocks = Vec::new();
    let mut start: Option<usize> = None;
    let mut lines = 0;
    let mut pos = 0;
    for line in msg.split_inclusive(|&b| b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let is_b64 = body.len() == 76
            && body
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
        if is_b64 {
            start.get_or_insert(pos);
            lines += 1;
        } else if let Some(s) = start.take() {
            // Attachments only: the part header right before the block names a file.
            let head = &msg[s.saturating_sub(800)..s];
            let cut = head
                .windows(3)
                .rposition(|w| w == b"\n--")
                .map_or(0, |i| i + 3);
            let head = &head[cut..];
            if lines >= 3 && head.windows(5).any(|w| w == b"name=" || w == b"name*") {
                blocks.push(&msg[s..pos]);
            }
            lines = 0;
        }
        pos += line.len();
    }
    blocks
}

#[test]
fn shared_attachments_recur_across_messages() {
    let msgs = collect(&spec(2000, Profile::AttachmentHeavy));
    let mut seen: HashMap<&[u8], HashSet<usize>> = HashMap::new();
    let mut occurrences = 0usize;
    for (i, m) in msgs
        .iter()
        .enumerate()
        .filter(|(_, m)| m.duplicate_of.is_none())
    {
        for block in base64_blocks(&m.bytes) {
            occurrences += 1;
            seen.entry(block).or_default().insert(i);
        }
    }
    let repeats: usize = seen.values().map(|s| s.len() - 1).sum();
    let shared = seen.values().filter(|s| s.len() > 1).count();
    let share = repeats as f64 / occurrences as f64;
    let with_attachments = msgs
        .iter()
        .filter(|m| m.bytes.windows(23).any(|w| w == b"Content-Disposition: at"))
        .count() as f64
        / msgs.len() as f64;
    eprintln!(
        "{occurrences} base64 blocks, {shared} shared, {repeats} repeats ({:.1}%), {:.1}% of \
         messages with attachments",
        share * 100.0,
        with_attachments * 100.0
    );
    assert!(shared >= 20, "only {shared} attachments recur");
    assert!((0.18..=0.40).contains(&share), "repeat share {share}");
}

const PYTHON_CHECK: &str = r#"
import email, email.policy, os, sys
from email import errors
bad = []
count = parts = 0
for root, dirs, files in os.walk(sys.argv[1]):
    for name in files:
        if ':2,' not in name:
            continue
        path = os.path.join(root, name)
        with open(path, 'rb') as f:
            msg = email.message_from_bytes(f.read(), policy=email.policy.default)
        count += 1
        for h in ('From', 'To', 'Subject', 'Date', 'Message-ID'):
            if msg[h] is None:
                bad.append((path, 'missing ' + h))
        msg['From'].addresses
        msg['Date'].datetime
        str(msg['Subject'])
        for part in msg.walk():
            parts += 1
            for d in part.defects:
                bad.append((path, type(d).__name__ + ': ' + str(d)))
            if part.is_multipart():
                continue
            if part.get_content_type() == 'message/rfc822':
                continue
            part.get_content()
            part.get_payload(decode=True)
            if part.get_filename() is None and part.get_content_disposition() == 'attachment':
                bad.append((path, 'attachment without a file name'))
for b in bad[:20]:
    print(*b)
print(count, parts, len(bad))
sys.exit(1 if bad else 0)
"#;

fn python_check(dir: &Path) -> (usize, usize) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(PYTHON_CHECK)
        .arg(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 is needed to check MIME validity ({e}): apt-get install -y python3")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python's email parser found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nums: Vec<usize> = stdout
        .split_whitespace()
        .rev()
        .take(3)
        .map(|n| n.parse().unwrap())
        .collect();
    (nums[2], nums[1])
}

#[test]
fn every_message_parses_in_pythons_email_package() {
    for (profile, n) in [(Profile::AttachmentHeavy, 600), (Profile::TextOnly, 600)] {
        let dir = tempfile::tempdir().unwrap();
        let spec = CorpusSpec {
            seed: 7,
            ..spec(n, profile)
        };
        let summary = write_maildir_tree(&spec, dir.path()).unwrap();
        assert_eq!(summary.messages, n);
        assert_eq!(summary.files, n);
        let (messages, parts) = python_check(dir.path());
        eprintln!("{profile:?}: python parsed {messages} messages, {parts} parts");
        assert_eq!(messages, n);
    }
}

#[test]
fn maildir_layout() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(300, Profile::TextOnly);
    let summary = write_maildir_tree(&spec, dir.path()).unwrap();
    let msgs = collect(&spec);
    let us = users(&spec);
    assert_eq!(
        summary.duplicates,
        msgs.iter().filter(|m| m.duplicate_of.is_some()).count()
    );
    assert_eq!(
        summary.bytes,
        msgs.iter().map(|m| m.bytes.len() as u64).sum::<u64>()
    );
    for (n, m) in msgs.iter().enumerate() {
        let mut p = dir.path().join(&us[m.user].login);
        if m.folder != "Inbox" {
            p.push(format!(".{}", m.folder.replace('/', ".")));
            assert!(p.join("maildirfolder").exists());
        }
        assert!(p.join("new").is_dir() && p.join("tmp").is_dir());
        let file = p.join("cur").join(format!("{n}.arkiv:2,S"));
        assert_eq!(std::fs::read(&file).unwrap(), m.bytes, "{}", file.display());
    }
}

#[test]
fn mbox_round_trip_counts_separators() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(500, Profile::TextOnly);
    let summary = write_mbox_tree(&spec, dir.path()).unwrap();
    assert_eq!(summary.messages, 500);
    let mut files = 0;
    let mut separators = 0;
    let mut quoted = 0;
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            assert_eq!(p.extension().and_then(|e| e.to_str()), Some("mbox"));
            files += 1;
            let data = std::fs::read(&p).unwrap();
            assert!(data.starts_with(b"From ") && data.ends_with(b"\n\n"));
            for line in data.split(|&b| b == b'\n') {
                if line.starts_with(b"From ") {
                    separators += 1;
                    let line = String::from_utf8_lossy(line);
                    // "From addr Www Mmm dd hh:mm:ss yyyy"
                    assert_eq!(line.split_whitespace().count(), 7, "{line}");
                } else if line.starts_with(b">From ") {
                    quoted += 1;
                }
            }
        }
    }
    eprintln!("{files} mbox files, {separators} messages, {quoted} quoted From lines");
    assert_eq!(separators, summary.messages);
    assert_eq!(files, summary.files);
    assert!(
        quoted > 0,
        "no body line needed mboxrd quoting: the test proves little"
    );
    let inbox = dir.path().join(&users(&spec)[0].login).join("Inbox.mbox");
    assert!(inbox.exists(), "{} missing", inbox.display());
}

#[test]
fn corpus_is_send_and_exact_size() {
    fn assert_send<T: Send>(_: &T) {}
    let corpus = generate(&spec(5, Profile::TextOnly));
    assert_send(&corpus);
    assert_eq!(corpus.len(), 5);
    // A corpus can be generated on another thread.
    let n = std::thread::spawn(move || corpus.count()).join().unwrap();
    assert_eq!(n, 5);
}
