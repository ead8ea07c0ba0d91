//! Attachment contents in the index (C4): real documents attached to messages, the settings
//! switch with "please rebuild", and hostile attachments handled by the sandbox process.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{Env, sorted_subjects};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../arkiv-extract/tests/fixtures")
}

/// Writes one message per file into `dir`, each with that file attached (built by Python's
/// `email` package, so the MIME is not ours).
fn messages_with(dir: &Path, files: &[PathBuf]) {
    std::fs::create_dir_all(dir).unwrap();
    let script = r#"
import sys, os, mimetypes, email.message
out = sys.argv[1]
for i, f in enumerate(sys.argv[2:]):
    m = email.message.EmailMessage()
    m['From'] = 'bob@example.org'
    m['To'] = 'alice@example.com'
    m['Subject'] = 'fixture ' + os.path.basename(f)
    m['Date'] = 'Mon, 02 Mar 2026 10:00:00 +0000'
    m.set_content('please find the file attached')
    ctype = mimetypes.guess_type(f)[0] or 'application/octet-stream'
    main, sub = ctype.split('/')
    m.add_attachment(open(f, 'rb').read(), maintype=main, subtype=sub, filename=os.path.basename(f))
    open(os.path.join(out, '%03d.eml' % i), 'wb').write(bytes(m))
"#;
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).arg(dir).args(files);
    let out = cmd
        .output()
        .expect("python3 is needed: apt-get install -y python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn subjects(env: &Env, query: &str) -> Vec<String> {
    let v = env.json(&["search", "--json", "--limit", "100", "--", query]);
    sorted_subjects(&v)
        .into_iter()
        .map(|s| s.trim_start_matches("fixture ").to_string())
        .collect()
}

fn index_status(env: &Env) -> Vec<String> {
    let v = env.json(&["indexes", "--json"]);
    v["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn attachment_contents_are_found_after_switching_them_on() {
    let env = Env::new();
    let files: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "md"))
        .collect();
    messages_with(&env.path("docs"), &files);
    env.import(&["eml", env.path("docs").to_str().unwrap(), "--user", "alice"]);

    // The manual's default: file names only.
    assert!(subjects(&env, "Huardest").is_empty());
    assert_eq!(
        subjects(&env, "filename:pdflatex"),
        ["pdflatex-outline.pdf"]
    );
    assert_eq!(index_status(&env), ["ok"]);
    let v = env.json(&["indexes", "--json"]);
    assert_eq!(v["attachmentsIndexed"], Value::Array(vec![]));

    // Contents on: the index says "please rebuild"; new mail is read at once.
    env.set_config("groups = []", "groups = [\"all\"]");
    assert_eq!(index_status(&env), ["please rebuild"]);
    let one = fixtures().join("openoffice-serious-poem.odt");
    messages_with(&env.path("new"), &[one]);
    let r = env.import(&[
        "eml",
        env.path("new").to_str().unwrap(),
        "--user",
        "alice",
        "--folder",
        "new",
    ]);
    assert_eq!(r["attachments_read"], 1, "{r}");
    assert_eq!(
        subjects(&env, "\"burning deck\""),
        ["openoffice-serious-poem.odt"]
    );
    assert!(
        subjects(&env, "Huardest").is_empty(),
        "older mail waits for the rebuild"
    );

    // The rebuild applies the settings to everything.
    env.ok(&["reindex", "--needed"]);
    assert_eq!(index_status(&env), ["ok"]);
    let cases: &[(&str, &[&str])] = &[
        ("Huardest", &["pdflatex-outline.pdf"]),
        ("\"Привет, мир\"", &["libreoffice-multilang.pdf"]),
        ("asdfzxcv", &["encrypted-aes256-empty-password.pdf"]),
        ("acontent:malesuada", &["word-paras-and-tables.docx"]),
        ("Шаблон", &["excel-two-sheets-cyrillic.xlsx"]),
        ("acontent:typefaces", &["powerpoint-type-design.pptx"]),
        ("\"Group test text\"", &["powerpoint-group-and-table.pptx"]),
        ("Tsvey", &["openoffice-numbered-list.odp"]),
        ("Suspendisse", &["openoffice-columns-lorem.odp"]),
        (
            "\"Bis repetitae\"",
            &["libreoffice-lpod-styles.odt", "libreoffice-lpod-styles.rtf"],
        ),
        (
            "acontent:Boomerang",
            &["outlook-fromhtml-welcome.rtf", "outlook-welcome.msg"],
        ),
        (
            "acontent:aspose",
            &["aspose-ascii.msg", "outlook-fromtext-aspose.rtf"],
        ),
        (
            "\"burning deck\"",
            &["openoffice-serious-poem.odt", "openoffice-serious-poem.odt"],
        ),
        // Words of the body are not attachment contents.
        ("acontent:please", &[]),
    ];
    for (q, want) in cases {
        assert_eq!(subjects(&env, q), *want, "{q}");
    }
    // The password-protected PDF is recorded, not guessed at.
    assert_eq!(
        subjects(&env, "has:unreadable-attachment"),
        ["encrypted-rc4-user-password.pdf"]
    );
}

/// A PDF whose one page unpacks to 1 GiB of zeros, and one whose text takes far too long.
fn hostile_pdfs(dir: &Path) {
    let script = r#"
import sys, os, zlib, email.message
def pdf(objs):
    out = b"%PDF-1.4\n"; offs = []
    for i, o in enumerate(objs):
        offs.append(len(out)); out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
    x = len(out); out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offs: out += b"%010d 00000 n \n" % o
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)
head = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"]
font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
c = zlib.compressobj(9)
zeros = b"".join(c.compress(b"\0" * (1 << 20)) for _ in range(1024)) + c.flush()
bomb = pdf(head + [b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(zeros) + zeros + b"\nendstream", font])
ops = b"BT /F1 12 Tf " + b"1 0 0 1 10 10 Tm (slowpoke) Tj " * 600000 + b"ET"
slow = pdf(head + [b"<< /Length %d >>\nstream\n" % len(ops) + ops + b"\nendstream", font])
for name, data in [("bomb.pdf", bomb), ("slow.pdf", slow)]:
    m = email.message.EmailMessage()
    m['From'] = 'mallory@example.net'; m['To'] = 'alice@example.com'; m['Subject'] = 'hostile ' + name
    m.set_content('hostile attachment')
    m.add_attachment(data, maintype='application', subtype='pdf', filename=name)
    open(os.path.join(sys.argv[1], name + '.eml'), 'wb').write(bytes(m))
"#;
    std::fs::create_dir_all(dir).unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hostile_attachments_cannot_stop_archiving() {
    let env = Env::new();
    // Contents on; a tight time limit so the slow file is stopped quickly.
    env.set_config("groups = []", "groups = [\"pdf\", \"archives\"]");
    env.set_config("timeout_seconds = 20", "timeout_seconds = 1");
    hostile_pdfs(&env.path("hostile"));
    let started = std::time::Instant::now();
    let r = env.import(&[
        "eml",
        env.path("hostile").to_str().unwrap(),
        "--user",
        "alice",
    ]);
    assert!(
        started.elapsed().as_secs() < 60,
        "bounded time: {:?}",
        started.elapsed()
    );
    assert_eq!(r["archived"], 2, "{r}");
    assert_eq!(r["failed"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(r["attachments_unreadable"], 2, "{r}");
    let why: Vec<String> = r["unreadable_examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}", f["origin"], f["reason"]))
        .collect();
    assert_eq!(why.len(), 2, "{why:?}");
    let bomb = why.iter().find(|w| w.contains("bomb.pdf")).unwrap();
    assert!(
        bomb.contains("stopped"),
        "the sandbox ran out of memory: {bomb}"
    );
    let slow = why.iter().find(|w| w.contains("slow.pdf")).unwrap();
    assert!(
        slow.contains("longer than 1 s") || slow.contains("stopped"),
        "the sandbox overran its time: {slow}"
    );
    // Both are archived, searchable by everything else, and marked.
    assert_eq!(
        subjects(&env, "hostile"),
        ["hostile bomb.pdf", "hostile slow.pdf"]
    );
    assert_eq!(
        subjects(&env, "has:unreadable-attachment"),
        ["hostile bomb.pdf", "hostile slow.pdf"]
    );
    let v = env.json(&["verify", "--json"]);
    assert_eq!(v["clean"], true, "{v}");
}

#[test]
fn attachments_over_the_size_limit_are_indexed_by_name() {
    let env = Env::new();
    env.set_config("groups = []", "groups = [\"text\"]");
    env.set_config("max_attachment_mb = 64", "max_attachment_mb = 1");
    let big = env.path("big.txt");
    let mut text = "needle in a haystack ".repeat(1000);
    text.push_str(&"hay ".repeat(600_000));
    std::fs::write(&big, &text).unwrap();
    let small = env.path("small.txt");
    std::fs::write(&small, "a small needle").unwrap();
    messages_with(&env.path("m"), &[big, small]);
    let r = env.import(&["eml", env.path("m").to_str().unwrap(), "--user", "alice"]);
    assert_eq!(r["attachments_read"], 1, "{r}");
    assert_eq!(r["attachments_unreadable"], 1, "{r}");
    let why = r["unreadable_examples"][0]["reason"].as_str().unwrap();
    assert!(
        why.contains("larger than the extraction limit (1 MiB)"),
        "{why}"
    );
    assert_eq!(subjects(&env, "needle"), ["small.txt"]);
    assert_eq!(subjects(&env, "filename:big"), ["big.txt"]);
}

#[test]
fn bad_attachment_settings_are_refused() {
    let env = Env::new();
    env.set_config("groups = []", "groups = [\"pdfs\"]");
    let out = env.run(&["stats"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pdfs") && err.contains("opendocument"),
        "{err}"
    );
}
