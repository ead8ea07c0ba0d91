//! Mail in every charset a real mailbox holds (issue 14). Python's email package writes one
//! message per charset (`charsets.py`) and reads it back: the oracle. Arkiv must show the
//! subject, sender name and attachment name Python reads, and find a word of the subject and
//! one of the body. Mislabelled mail is archived byte for byte, flagged, and still found.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::Env;

/// The messages and the manifest, written once per test run.
fn corpus() -> &'static (PathBuf, Value) {
    static CORPUS: OnceLock<(PathBuf, Value)> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/charsets.py");
        let out = Command::new("python3")
            .arg(&script)
            .arg(&dir)
            .output()
            .expect("python3 writes the charset corpus: apt-get install -y python3");
        assert!(
            out.status.success(),
            "charsets.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let manifest = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap())
            .expect("manifest.json");
        (dir, manifest)
    })
}

/// Imports the message `name` into a fresh archive; returns the environment, the import
/// report and the message as `ls --json` lists it.
fn archived(name: &str) -> (Env, Value, Value, Value) {
    let (dir, manifest) = corpus();
    let want = manifest[name].clone();
    assert!(want.is_object(), "{name} is not in the corpus");
    let env = Env::new();
    let file = dir.join(format!("{name}.eml"));
    let report = env.import(&["eml", file.to_str().unwrap(), "--user", "alice"]);
    assert_eq!(report["archived"], 1, "{name}: {report}");
    let listing = env.json(&["ls", "alice", "--recursive", "--json"]);
    let msg = listing
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["messages"].as_array().unwrap().clone())
        .next()
        .unwrap_or_else(|| panic!("{name}: not listed: {listing}"));
    // Byte for byte, whatever its charset.
    let id = msg["id"].as_str().unwrap();
    assert_eq!(
        env.ok(&["cat", id]),
        std::fs::read(&file).unwrap(),
        "{name}"
    );
    (env, report, msg, want)
}

fn hits(env: &Env, query: &str) -> u64 {
    env.json(&["search", query, "--user", "alice", "--json"])["total"]
        .as_u64()
        .unwrap()
}

/// A correctly labelled message: no guess, Python's reading, found by its words.
fn check(name: &str) {
    let (env, report, msg, want) = archived(name);
    assert_eq!(report["charset_guessed"], 0, "{name}: {report}");
    assert_eq!(msg["problem"], Value::Null, "{name}");
    assert_eq!(
        msg["subject"].as_str().unwrap(),
        want["subject"].as_str().unwrap().trim(),
        "{name}: subject"
    );
    let from = msg["from"].as_str().unwrap();
    assert_eq!(
        from,
        format!(
            "{} <sender@example.com>",
            want["from_name"].as_str().unwrap()
        ),
        "{name}: sender"
    );
    assert_eq!(
        msg["attachments"][0].as_str().unwrap(),
        want["filename"].as_str().unwrap(),
        "{name}: attachment name"
    );
    let s = want["subject_word"].as_str().unwrap();
    let b = want["body_word"].as_str().unwrap();
    assert_eq!(
        hits(&env, &format!("subject:{s}")),
        1,
        "{name}: subject word {s}"
    );
    assert_eq!(
        hits(&env, &format!("bcontent:{b}")),
        1,
        "{name}: body word {b}"
    );
    assert_eq!(
        hits(
            &env,
            &format!("filename:\"{}\"", want["filename"].as_str().unwrap())
        ),
        1,
        "{name}: file name"
    );
}

/// A mislabelled message: archived, flagged with what was guessed, and still right.
fn check_mislabelled(name: &str) {
    let (env, report, msg, want) = archived(name);
    assert_eq!(report["charset_guessed"], 1, "{name}: {report}");
    let flag = msg["problem"].as_str().unwrap_or_default();
    assert!(flag.starts_with("charset: "), "{name}: not flagged: {msg}");
    let ls = String::from_utf8_lossy(&env.ok(&["ls", "alice", "--recursive"])).into_owned();
    assert!(ls.contains("[charset guessed]"), "{name}: {ls}");
    assert_eq!(
        msg["subject"].as_str().unwrap(),
        want["subject"].as_str().unwrap(),
        "{name}: subject ({flag})"
    );
    let s = want["subject_word"].as_str().unwrap();
    let b = want["body_word"].as_str().unwrap();
    assert_eq!(
        hits(&env, &format!("subject:{s}")),
        1,
        "{name}: subject word {s}"
    );
    assert_eq!(
        hits(&env, &format!("bcontent:{b}")),
        1,
        "{name}: body word {b}"
    );
}

macro_rules! charsets {
    ($($test:ident => $name:literal,)*) => {$(
        #[test]
        fn $test() {
            check($name);
        }
    )*};
}

charsets! {
    charset_utf_8 => "utf_8",
    charset_iso_2022_jp => "iso_2022_jp",
    charset_iso_2022_jp_2 => "iso_2022_jp_2",
    charset_iso_2022_jp_cp50220_windows_31j => "iso_2022_jp_cp50220",
    charset_shift_jis => "shift_jis",
    charset_shift_jis_8bit => "shift_jis_8bit",
    charset_shift_jis_windows_31j => "shift_jis_windows_31j",
    charset_cp932 => "cp932",
    charset_euc_jp => "euc_jp",
    charset_gb2312 => "gb2312",
    charset_gbk => "gbk",
    charset_gb18030 => "gb18030",
    charset_hz_gb_2312 => "hz_gb_2312",
    charset_big5 => "big5",
    charset_big5_hkscs => "big5_hkscs",
    charset_euc_kr => "euc_kr",
    charset_ks_c_5601_1987 => "ks_c_5601_1987",
    charset_iso_2022_kr => "iso_2022_kr",
    charset_tis_620 => "tis_620",
    charset_windows_874 => "windows_874",
    charset_koi8_r => "koi8_r",
    charset_koi8_u => "koi8_u",
    charset_ibm866 => "ibm866",
    charset_iso_8859_5 => "iso_8859_5",
    charset_windows_1251 => "windows_1251",
    charset_iso_8859_1 => "iso_8859_1",
    charset_iso_8859_15 => "iso_8859_15",
    charset_windows_1252 => "windows_1252",
    charset_iso_8859_2 => "iso_8859_2",
    charset_windows_1250 => "windows_1250",
    charset_iso_8859_3 => "iso_8859_3",
    charset_iso_8859_4 => "iso_8859_4",
    charset_iso_8859_13 => "iso_8859_13",
    charset_windows_1257 => "windows_1257",
    charset_iso_8859_7 => "iso_8859_7",
    charset_windows_1253 => "windows_1253",
    charset_iso_8859_8 => "iso_8859_8",
    charset_windows_1255 => "windows_1255",
    charset_iso_8859_6 => "iso_8859_6",
    charset_windows_1256 => "windows_1256",
    charset_iso_8859_9 => "iso_8859_9",
    charset_windows_1254 => "windows_1254",
    charset_iso_8859_10 => "iso_8859_10",
    charset_iso_8859_14 => "iso_8859_14",
    charset_iso_8859_16 => "iso_8859_16",
    charset_windows_1258 => "windows_1258",
    charset_utf_7 => "utf_7",
}

#[test]
fn charset_mislabelled_utf_8_is_shift_jis() {
    check_mislabelled("mislabelled_utf_8_is_shift_jis");
}

#[test]
fn charset_unknown_label_is_gbk() {
    check_mislabelled("unknown_label_is_gbk");
}

#[test]
fn charset_unlabelled_8bit_koi8_r() {
    check_mislabelled("unlabelled_8bit_koi8_r");
}

#[test]
fn charset_unlabelled_8bit_euc_kr() {
    check_mislabelled("unlabelled_8bit_euc_kr");
}

#[test]
fn charset_us_ascii_label_is_utf_8() {
    check_mislabelled("us_ascii_label_is_utf_8");
}

#[test]
fn charset_latin_1_label_is_utf_8() {
    check_mislabelled("latin_1_label_is_utf_8");
}

/// German users write umlauts as `ue`, `oe`, `ae` (and `ß` as `ss`): both spellings find the
/// message, and the transliteration does not make unrelated words meet.
#[test]
fn umlauts_found_by_their_transliteration() {
    let env = Env::new();
    let dir = env.path("de");
    std::fs::create_dir_all(&dir).unwrap();
    let msg = |n: u32, subject: &str, body: &str| {
        std::fs::write(
            dir.join(format!("{n}.eml")),
            format!(
                "From: a@example.com\r\nSubject: {subject}\r\nMessage-ID: <de{n}@x>\r\n\
                 MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
            ),
        )
        .unwrap();
    };
    msg(
        1,
        "Neue Version",
        "Das Format wird unterstützt. Viele Grüße, Jürgen Müller",
    );
    msg(
        2,
        "Alte Version",
        "Das Format wurde unterstuetzt. Gruesse, Juergen Mueller",
    );
    msg(3, "Andere", "Die Ubung ist vorbei.");
    env.import(&["eml", dir.to_str().unwrap(), "--user", "alice"]);
    assert_eq!(hits(&env, "unterstuetzt"), 2);
    assert_eq!(
        hits(&env, "unterstützt"),
        1,
        "the umlaut matches only the umlaut and its folding"
    );
    assert_eq!(hits(&env, "unterstutzt"), 1);
    assert_eq!(hits(&env, "gruesse"), 2);
    assert_eq!(hits(&env, "grüsse"), 1);
    assert_eq!(hits(&env, "\"viele gruesse\""), 1);
    assert_eq!(hits(&env, "mueller"), 2);
    assert_eq!(hits(&env, "müller"), 1);
    assert_eq!(hits(&env, "unterstue*"), 2);
    assert_eq!(hits(&env, "uebung"), 0, "`Ubung` is no `Übung`");
}
