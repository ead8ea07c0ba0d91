//! Text of real documents written by other programs (see `fixtures/SOURCES.md`), compared with
//! what independent tools extract from the same files: `pdftotext` (poppler-utils), `odt2txt`,
//! `catdoc` (RTF), and a few lines of Python reading the OOXML parts with the standard library.
//! A missing tool fails the test with the command that installs it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use arkiv_extract::{Kind, Limits, extract};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn ours(name: &str) -> String {
    let kind = Kind::detect(Some(name), "").expect("known extension");
    let data = std::fs::read(fixture(name)).unwrap();
    let x = extract(kind, &data, &Limits::default()).unwrap_or_else(|f| panic!("{name}: {f}"));
    assert!(x.problems.is_empty(), "{name}: {:?}", x.problems);
    x.text
}

fn tool(program: &str, args: &[&str], package: &str) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} is needed as the oracle ({e}): apt-get install -y {package}")
        });
    assert!(out.status.success(), "{program} {args:?} failed: {:?}", out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Lower-case words of at least three letters/digits.
fn words(s: &str) -> BTreeSet<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(|w| w.to_lowercase())
        .collect()
}

/// Most of the oracle's words are in ours, and most of ours are in the oracle's.
fn agree(name: &str, ours: &str, oracle: &str, min: f64) {
    let (a, b) = (words(ours), words(oracle));
    assert!(
        b.len() >= 3,
        "{name}: the oracle found almost nothing: {oracle:?}"
    );
    let found = b.intersection(&a).count() as f64;
    let recall = found / b.len() as f64;
    let precision = found / a.len().max(1) as f64;
    let missing: Vec<_> = b.difference(&a).take(20).collect();
    let extra: Vec<_> = a.difference(&b).take(20).collect();
    assert!(
        recall >= min && precision >= min,
        "{name}: recall {recall:.2}, precision {precision:.2}\n missing {missing:?}\n extra {extra:?}"
    );
}

#[test]
fn pdf_matches_pdftotext() {
    for f in ["pdflatex-outline.pdf", "libreoffice-multilang.pdf"] {
        let oracle = tool(
            "pdftotext",
            &["-enc", "UTF-8", fixture(f).to_str().unwrap(), "-"],
            "poppler-utils",
        );
        // Known limit: pdf-extract gives right-to-left words in the order the PDF draws
        // them (LibreOffice draws Arabic reversed); pdftotext reorders them. That costs
        // the multilingual file its two Arabic words.
        let min = if f.contains("multilang") { 0.85 } else { 0.9 };
        agree(f, &ours(f), &oracle, min);
    }
    let multi = ours("libreoffice-multilang.pdf");
    for w in ["Hello World", "Привет, мир", "你好世界", "こんにちは世界"] {
        assert!(multi.contains(w), "{w}: {multi:?}");
    }
}

#[test]
fn encrypted_pdfs() {
    // An empty user password opens the file without asking: it is read.
    let t = ours("encrypted-aes256-empty-password.pdf");
    assert!(t.contains("encryption test"), "{t:?}");
    // A real password: a clear failure, never garbage.
    let data = std::fs::read(fixture("encrypted-rc4-user-password.pdf")).unwrap();
    let e = extract(Kind::Pdf, &data, &Limits::default()).unwrap_err();
    assert!(e.0.contains("encrypted"), "{e}");
}

#[test]
fn opendocument_matches_odt2txt() {
    for f in [
        "openoffice-serious-poem.odt",
        "libreoffice-lpod-styles.odt",
        "libreoffice-cell-formats.ods",
        "openoffice-columns-lorem.odp",
        "openoffice-numbered-list.odp",
    ] {
        let oracle = tool(
            "odt2txt",
            &["--encoding=UTF-8", fixture(f).to_str().unwrap()],
            "odt2txt",
        );
        agree(f, &ours(f), &oracle, 0.9);
    }
    let poem = ours("openoffice-serious-poem.odt");
    assert!(
        poem.contains("The boy stood    on the burning deck"),
        "text:s c=3 is 3 spaces: {poem:?}"
    );
}

#[test]
fn rtf_matches_catdoc() {
    for f in [
        "libreoffice-lpod-styles.rtf",
        "outlook-fromhtml-welcome.rtf",
        "outlook-fromtext-aspose.rtf",
    ] {
        let oracle = tool(
            "catdoc",
            &["-d", "utf-8", fixture(f).to_str().unwrap()],
            "catdoc",
        );
        let min = if f.contains("fromtext") { 1.0 } else { 0.85 };
        if words(&oracle).len() >= 3 {
            agree(f, &ours(f), &oracle, min);
        }
    }
    assert!(
        ours("outlook-fromtext-aspose.rtf").contains("This message is created by Aspose.Email")
    );
    assert!(ours("libreoffice-lpod-styles.rtf").contains("Bis repetitae"));
}

/// The text of OOXML parts by Python's standard library: every `w:t`/`a:t` element, and for
/// workbooks the shared strings and inline strings.
const OOXML_ORACLE: &str = r#"
import re, sys, zipfile
import xml.etree.ElementTree as ET
z = zipfile.ZipFile(sys.argv[1])
out = []
for n in sorted(z.namelist()):
    if not n.endswith('.xml'):
        continue
    keep = (n.startswith('word/') and re.search(r'(document|header\d*|footer\d*|footnotes|endnotes)\.xml$', n)) \
        or re.match(r'ppt/(slides/slide|notesSlides/notesSlide)\d+\.xml$', n) \
        or n == 'xl/sharedStrings.xml' or n.startswith('xl/worksheets/sheet')
    if not keep:
        continue
    for el in ET.fromstring(z.read(n)).iter():
        tag = el.tag.rsplit('}', 1)[-1]
        if tag == 't' and el.text:
            out.append(el.text)
        elif tag == 'v' and n.startswith('xl/worksheets') and el.text and not re.fullmatch(r'\d+', el.text):
            out.append(el.text)
print('\n'.join(out))
"#;

#[test]
fn office_open_xml_matches_python() {
    for f in [
        "word-paras-and-tables.docx",
        "word-hyperlink-fragments.docx",
        "excel-utf8-multilang.xlsx",
        "excel-two-sheets-cyrillic.xlsx",
        "powerpoint-type-design.pptx",
        "powerpoint-group-and-table.pptx",
    ] {
        let oracle = tool(
            "python3",
            &["-c", OOXML_ORACLE, fixture(f).to_str().unwrap()],
            "python3",
        );
        agree(f, &ours(f), &oracle, 0.95);
    }
    let docx = ours("word-paras-and-tables.docx");
    for w in [
        "Donec semper facilisis metus finibus malesuada",
        "Text after",
        "Left-side",
        "Copyright",
    ] {
        assert!(docx.contains(w), "{w}: {docx:?}");
    }
    assert!(ours("excel-two-sheets-cyrillic.xlsx").contains("Шаблон сценария"));
    assert!(ours("powerpoint-group-and-table.pptx").contains("Group test text"));
}

#[test]
fn outlook_msg() {
    let t = ours("outlook-welcome.msg");
    for w in [
        "Welcome to your new Outlook.com account",
        "no-reply@microsoft.com",
        "devices.png",
    ] {
        assert!(t.contains(w), "{w}: {t:?}");
    }
    let t = ours("aspose-ascii.msg");
    assert!(t.contains("creating an outlook message file"), "{t:?}");
    assert!(
        t.contains("This message is created by Aspose.Email"),
        "{t:?}"
    );
}

#[test]
fn truncated_and_wrong_files_fail_clearly() {
    let limits = Limits::default();
    for f in [
        "word-paras-and-tables.docx",
        "libreoffice-lpod-styles.odt",
        "pdflatex-outline.pdf",
        "outlook-welcome.msg",
        "excel-utf8-multilang.xlsx",
    ] {
        let data = std::fs::read(fixture(f)).unwrap();
        let kind = Kind::detect(Some(f), "").unwrap();
        for cut in [0, 10, data.len() / 3, data.len() / 2, data.len() - 7] {
            // Never a panic; either a clear failure or whatever text the part holds.
            if let Err(e) = extract(kind, &data[..cut], &limits) {
                assert!(!e.0.is_empty());
            }
        }
    }
    // A PDF named .docx.
    let pdf = std::fs::read(fixture("pdflatex-outline.pdf")).unwrap();
    let e = extract(Kind::Docx, &pdf, &limits).unwrap_err();
    assert!(e.0.contains("not a valid DOCX"), "{e}");
}

#[test]
fn zip_members_bombs_and_nesting() {
    use std::io::Write;
    let mut limits = Limits::default();
    let zip = |files: &[(&str, &[u8])]| {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (n, d) in files {
            w.start_file(*n, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(d).unwrap();
        }
        w.finish().unwrap().into_inner()
    };
    let odt = std::fs::read(fixture("openoffice-serious-poem.odt")).unwrap();
    let bomb = vec![b'0'; 50 << 20];
    let z = zip(&[
        ("notes/readme.txt", b"wombat inside".as_slice()),
        ("bomb.txt", &bomb),
        ("poem.odt", &odt),
    ]);
    let x = extract(Kind::Zip, &z, &limits).unwrap();
    assert!(
        x.text.contains("wombat inside") && x.text.contains("burning deck"),
        "{x:?}"
    );
    assert!(x.text.contains("bomb.txt"), "member names are text too");
    assert_eq!(x.problems.len(), 1, "{:?}", x.problems);
    assert!(x.problems[0].contains("zip bomb"), "{:?}", x.problems);
    // Nested deeper than allowed: the inner levels are not read, and that is said.
    let mut nested = zip(&[("deep.txt", b"abyssal".as_slice())]);
    for _ in 0..5 {
        nested = zip(&[("inner.zip", &nested)]);
    }
    limits.max_depth = 3;
    let x = extract(Kind::Zip, &nested, &limits).unwrap();
    assert!(!x.text.contains("abyssal"));
    assert!(
        x.problems.iter().any(|p| p.contains("nested deeper")),
        "{:?}",
        x.problems
    );
    // Output is capped.
    limits.max_output_bytes = 1000;
    let big = "word ".repeat(10_000);
    let x = extract(Kind::Text, big.as_bytes(), &limits).unwrap();
    assert!(x.text.len() <= 1000);
}

/// pdf-extract runs every `Do` XObject as a content stream, pictures too; a picture whose bytes
/// read as an operator without operands made it panic. Pictures are emptied first.
#[test]
fn pdf_with_an_uncompressed_picture() {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    let content = b"BT /F1 12 Tf 72 740 Td (pictures do not stop the text) Tj ET\nq 100 0 0 100 72 300 cm /Im1 Do Q";
    let mut picture = b"y\x83 0 c re h m l S ".repeat(20);
    picture.truncate(12 * 4 * 3);
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>".to_vec(),
        [format!("<< /Length {} >>\nstream\n", content.len()).as_bytes(), content, b"\nendstream"].concat(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
        [
            format!("<< /Type /XObject /Subtype /Image /Width 12 /Height 4 /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length {} >>\nstream\n", picture.len()).as_bytes(),
            &picture,
            b"\nendstream",
        ]
        .concat(),
    ];
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(o);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in &offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    let x = extract(Kind::Pdf, &pdf, &Limits::default()).unwrap();
    assert!(x.text.contains("pictures do not stop the text"), "{x:?}");
}
