//! Attachment payloads, regenerated from a seed whenever they are needed (so a shared
//! attachment costs a few bytes of bookkeeping, never a copy of its contents).
//!
//! Binary kinds carry real file signatures and structure around incompressible random bytes,
//! the way real PDFs, JPEGs and Office files behave for compression and deduplication; text
//! kinds (CSV, plain text, iCalendar) are compressible.

use crate::Profile;
use crate::rng::{Rng, exp, mix};
use crate::text::{self, Lang};

/// Maximum attachment size.
pub(crate) const MAX_SIZE: usize = 10 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Pdf,
    Jpeg,
    Docx,
    Xlsx,
    Csv,
    Txt,
    Ics,
    /// A sender's logo (PNG), attached inline to many of their messages.
    Logo,
    /// A forwarded message (`message/rfc822`), rendered from the seed.
    Message,
}

impl Kind {
    pub(crate) fn mime(self) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Jpeg => "image/jpeg",
            Kind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Kind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Kind::Csv => "text/csv",
            Kind::Txt => "text/plain",
            Kind::Ics => "text/calendar",
            Kind::Logo => "image/png",
            Kind::Message => "message/rfc822",
        }
    }
}

/// A handle from which an attachment is regenerated: same handle, same bytes.
#[derive(Clone, Debug)]
pub(crate) struct Attachment {
    pub(crate) kind: Kind,
    pub(crate) seed: u64,
    /// Raw (decoded) size in bytes; approximate for structured kinds.
    pub(crate) size: usize,
    pub(crate) name: String,
}

/// A fresh attachment for the given profile.
pub(crate) fn new_attachment(rng: &mut Rng, profile: Profile) -> Attachment {
    let kind = match profile {
        Profile::AttachmentHeavy => {
            const KINDS: [Kind; 8] = [
                Kind::Pdf,
                Kind::Jpeg,
                Kind::Docx,
                Kind::Xlsx,
                Kind::Csv,
                Kind::Txt,
                Kind::Ics,
                Kind::Message,
            ];
            KINDS[rng.weighted(&[30, 20, 13, 10, 9, 6, 7, 5])]
        }
        Profile::TextOnly => [Kind::Csv, Kind::Txt, Kind::Ics][rng.weighted(&[4, 4, 2])],
    };
    let seed = rng.next_u64();
    let document = matches!(kind, Kind::Pdf | Kind::Jpeg | Kind::Docx | Kind::Xlsx);
    let size = match (profile, kind) {
        (Profile::TextOnly, _) => rng.range(400, 4000),
        // The long tail: scans, photo series and slide decks of 1-8 MB (rarely up to the
        // 10 MB cap), about 1 in 400 documents.
        _ if document && rng.chance(0.0025) => {
            if rng.chance(0.08) {
                rng.range(8 << 20, MAX_SIZE)
            } else {
                (f64::from(1u32 << 20) * exp(rng.f64() * std::f64::consts::LN_2 * 3.0)) as usize
            }
        }
        (_, Kind::Pdf) => rng.log_normal(48_000.0, 0.8, 2_000, MAX_SIZE),
        (_, Kind::Jpeg) => rng.log_normal(56_000.0, 0.7, 3_000, MAX_SIZE),
        (_, Kind::Docx) => rng.log_normal(32_000.0, 0.8, 6_000, MAX_SIZE),
        (_, Kind::Xlsx) => rng.log_normal(26_000.0, 0.8, 6_000, MAX_SIZE),
        (_, Kind::Csv) => rng.log_normal(8_000.0, 1.0, 300, 2 << 20),
        (_, Kind::Txt) => rng.log_normal(4_000.0, 0.8, 200, 1 << 20),
        (_, Kind::Ics) => rng.range(900, 2_500),
        (_, Kind::Logo) => rng.range(3_000, 12_000),
        (_, Kind::Message) => rng.range(1_500, 6_000),
    };
    let name = file_name(rng, kind);
    Attachment {
        kind,
        seed,
        size,
        name,
    }
}

/// The logo a sender attaches to their messages: the same for every message of theirs.
pub(crate) fn logo(corpus_seed: u64, person: usize) -> Attachment {
    let seed = mix(corpus_seed, 0x6c6f_676f_0000_0000 | person as u64);
    let mut rng = Rng::new(seed);
    Attachment {
        kind: Kind::Logo,
        seed,
        size: rng.range(3_000, 12_000),
        name: ["logo.png", "image001.png", "signature.png"][rng.below(3)].to_string(),
    }
}

fn file_name(rng: &mut Rng, kind: Kind) -> String {
    let n = rng.range(1, 9999);
    let word = text::pseudo_word(rng);
    let year = rng.range(2015, 2024);
    let ext = match kind {
        Kind::Pdf => "pdf",
        Kind::Jpeg => {
            return [
                "IMG_{n}.jpg",
                "photo_{w}.jpg",
                "Foto {n}.jpeg",
                "写真_{n}.jpg",
            ][rng.weighted(&[50, 25, 15, 10])]
            .replace("{n}", &n.to_string())
            .replace("{w}", word);
        }
        Kind::Docx => "docx",
        Kind::Xlsx => "xlsx",
        Kind::Csv => "csv",
        Kind::Txt => "txt",
        Kind::Ics => return "invite.ics".to_string(),
        Kind::Logo => "png",
        Kind::Message => return "Forwarded message.eml".to_string(),
    };
    let stem = match rng.weighted(&[20, 15, 12, 10, 8, 5, 5, 5, 5]) {
        0 => format!("Report_Q{}_{year}", rng.range(1, 4)),
        1 => format!("{word}_{n}"),
        2 => format!("Invoice-{year}-{n:05}"),
        3 => format!("{} {word} v{}", capitalize(word), rng.range(1, 9)),
        4 => format!("Angebot_{n}"),
        5 => format!("Präsentation {word}"),
        6 => format!("résumé_{word}"),
        7 => format!("Отчёт_{n}"),
        _ => format!("会議資料_{n}"),
    };
    format!("{stem}.{ext}")
}

fn capitalize(w: &str) -> String {
    let mut s = w.to_string();
    s[..1].make_ascii_uppercase();
    s
}

fn random_bytes(rng: &mut Rng, n: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + n, 0);
    rng.fill(&mut out[start..]);
}

/// Writes the raw bytes of `a` (any kind but `Message`) into `out` (cleared first).
pub(crate) fn payload(a: &Attachment, out: &mut Vec<u8>) {
    out.clear();
    let mut rng = Rng::new(a.seed);
    match a.kind {
        Kind::Pdf => pdf(&mut rng, a.size, out),
        Kind::Jpeg => {
            out.extend_from_slice(
                b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00",
            );
            // A quantization table marker, then "entropy-coded" (random) data.
            out.extend_from_slice(b"\xFF\xDB\x00\x43\x00");
            random_bytes(&mut rng, 64, out);
            out.extend_from_slice(b"\xFF\xDA\x00\x0C\x03\x01\x00\x02\x11\x03\x11\x00\x3F\x00");
            random_bytes(&mut rng, a.size.saturating_sub(out.len() + 2), out);
            out.extend_from_slice(b"\xFF\xD9");
        }
        Kind::Docx | Kind::Xlsx => office(&mut rng, a.kind, a.size, out),
        Kind::Logo => {
            out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
            let mut ihdr = Vec::from(*b"IHDR");
            ihdr.extend_from_slice(&200u32.to_be_bytes());
            ihdr.extend_from_slice(&60u32.to_be_bytes());
            ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
            png_chunk(&ihdr, out);
            let mut idat = Vec::from(*b"IDAT");
            random_bytes(&mut rng, a.size.saturating_sub(57), &mut idat);
            png_chunk(&idat, out);
            png_chunk(b"IEND", out);
        }
        Kind::Csv => csv(&mut rng, a.size, out),
        Kind::Txt => {
            let mut s = String::new();
            let lang = if rng.chance(0.8) {
                Lang::En
            } else {
                Lang::pick(&mut rng)
            };
            text::paragraphs(&mut rng, lang, a.size, &mut s);
            out.extend_from_slice(s.as_bytes());
        }
        Kind::Ics => ics(&mut rng, out),
        Kind::Message => unreachable!("forwarded messages are rendered, not generated"),
    }
}

/// A real Office Open XML file: a ZIP with the document's XML (a few paragraphs, or a sheet of
/// words and numbers) and an embedded picture of random bytes that makes up the size, the way
/// real documents are mostly pictures. Members are stored uncompressed: deflate output depends
/// on the encoder's version, and the corpus must stay the same forever.
fn office(rng: &mut Rng, kind: Kind, size: usize, out: &mut Vec<u8>) {
    let lang = if rng.chance(0.8) {
        Lang::En
    } else {
        Lang::pick(rng)
    };
    let mut text = String::new();
    let target = rng.range(600, 3000);
    text::paragraphs(rng, lang, target, &mut text);
    let (types, main, xml, media) = if kind == Kind::Docx {
        let mut body = String::new();
        for para in text.split('\n').filter(|p| !p.trim().is_empty()) {
            body.push_str("<w:p><w:r><w:t xml:space=\"preserve\">");
            body.push_str(&xml_escape(para));
            body.push_str("</w:t></w:r></w:p>");
        }
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
            "word/document.xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document \
                 xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
            ),
            "word/media/image1.jpeg",
        )
    } else {
        let mut rows = String::new();
        for (r, line) in text
            .split(['.', '\n'])
            .filter(|l| !l.trim().is_empty())
            .enumerate()
        {
            rows.push_str(&format!("<row r=\"{}\">", r + 1));
            for (c, word) in line.split_whitespace().take(8).enumerate() {
                let col = (b'A' + c as u8) as char;
                rows.push_str(&format!(
                    "<c r=\"{col}{}\" t=\"inlineStr\"><is><t>{}</t></is></c>",
                    r + 1,
                    xml_escape(word)
                ));
            }
            rows.push_str(&format!(
                "<c r=\"I{}\"><v>{}</v></c></row>",
                r + 1,
                rng.range(1, 100_000)
            ));
        }
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml",
            "xl/worksheets/sheet1.xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet \
                 xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>{rows}</sheetData></worksheet>"
            ),
            "xl/media/image1.png",
        )
    };
    let content_types = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
         <Override PartName=\"/{main}\" ContentType=\"{types}\"/></Types>"
    );
    let mut picture = Vec::new();
    let overhead = content_types.len() + xml.len() + 400;
    random_bytes(rng, size.saturating_sub(overhead).max(64), &mut picture);
    zip_stored(
        &[
            ("[Content_Types].xml", content_types.as_bytes()),
            (main, xml.as_bytes()),
            (media, &picture),
        ],
        out,
    );
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A ZIP file of stored (uncompressed) members.
fn zip_stored(members: &[(&str, &[u8])], out: &mut Vec<u8>) {
    let mut central = Vec::new();
    for (name, data) in members {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let len = (data.len() as u32).to_le_bytes();
        let name_len = (name.len() as u16).to_le_bytes();
        // Local header: version 2.0, no flags, stored, 1980-01-01 00:00.
        out.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00");
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&len);
        out.extend_from_slice(&len);
        out.extend_from_slice(&name_len);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00");
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&len);
        central.extend_from_slice(&len);
        central.extend_from_slice(&name_len);
        // Extra and comment lengths, disk, internal and external attributes.
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = (out.len() as u32).to_le_bytes();
    let cd_len = (central.len() as u32).to_le_bytes();
    let n = (members.len() as u16).to_le_bytes();
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
    out.extend_from_slice(&n);
    out.extend_from_slice(&n);
    out.extend_from_slice(&cd_len);
    out.extend_from_slice(&cd_offset);
    out.extend_from_slice(&[0, 0]);
}

fn png_chunk(type_and_data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&((type_and_data.len() - 4) as u32).to_be_bytes());
    out.extend_from_slice(type_and_data);
    out.extend_from_slice(&crc32(type_and_data).to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    !data.iter().fold(!0u32, |c, &b| {
        TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// A minimal but well-formed PDF 1.4: catalog, page, a text content stream with a few words
/// (so text extractors find something) and an uncompressed RGB image of random pixels that
/// makes up the bulk of the size. The xref offsets are exact.
fn pdf(rng: &mut Rng, size: usize, out: &mut Vec<u8>) {
    let mut offsets = Vec::with_capacity(6);
    out.extend_from_slice(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
    let mut obj = |out: &mut Vec<u8>, body: &[u8]| {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    obj(out, b"<< /Type /Catalog /Pages 2 0 R >>");
    obj(out, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    obj(
        out,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R\n   \
          /Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>",
    );
    let mut content = String::from("BT /F1 12 Tf 72 740 Td 14 TL\n");
    for _ in 0..rng.range(3, 12) {
        content.push('(');
        for i in 0..rng.range(5, 10) {
            if i > 0 {
                content.push(' ');
            }
            content.push_str(text::pseudo_word(rng));
        }
        content.push_str(") Tj T*\n");
    }
    content.push_str("ET\nq 468 0 0 300 72 300 cm /Im1 Do Q");
    obj(
        out,
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        )
        .as_bytes(),
    );
    obj(
        out,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    );
    let width = 128;
    let height = (size.saturating_sub(out.len() + 400) / (width * 3)).max(1);
    let len = width * height * 3;
    offsets.push(out.len());
    out.extend_from_slice(
        format!(
            "6 0 obj\n<< /Type /XObject /Subtype /Image /Width {width} /Height {height}\n   \
             /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length {len} >>\nstream\n"
        )
        .as_bytes(),
    );
    random_bytes(rng, len, out);
    out.extend_from_slice(b"\nendstream\nendobj\n");
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for o in &offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
}

fn csv(rng: &mut Rng, size: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(b"date;account;description;quantity;amount;currency\n");
    while out.len() < size {
        let line = format!(
            "{}-{:02}-{:02};ACC-{:04};{} {};{};{}.{:02};{}\n",
            rng.range(2015, 2024),
            rng.range(1, 12),
            rng.range(1, 28),
            rng.range(1, 300),
            text::pseudo_word(rng),
            text::pseudo_word(rng),
            rng.range(1, 500),
            rng.range(0, 99_999),
            rng.range(0, 99),
            ["EUR", "USD", "CHF", "GBP", "JPY"][rng.weighted(&[50, 30, 8, 8, 4])],
        );
        out.extend_from_slice(line.as_bytes());
    }
}

fn ics(rng: &mut Rng, out: &mut Vec<u8>) {
    let day = rng.range(1, 28);
    let month = rng.range(1, 12);
    let year = rng.range(2015, 2024);
    let hour = rng.range(8, 17);
    let mut summary = String::new();
    for i in 0..rng.range(2, 5) {
        if i > 0 {
            summary.push(' ');
        }
        summary.push_str(text::word(rng, Lang::En));
    }
    let s = format!(
        "BEGIN:VCALENDAR\nPRODID:-//Arkiv corpus//EN\nVERSION:2.0\nMETHOD:REQUEST\n\
         BEGIN:VEVENT\nUID:{:016x}@example.com\nDTSTAMP:{year}{month:02}{day:02}T080000Z\n\
         DTSTART:{year}{month:02}{day:02}T{hour:02}0000Z\nDTEND:{year}{month:02}{day:02}T{:02}3000Z\n\
         SUMMARY:{summary}\nLOCATION:Room {}\nDESCRIPTION:{}\nSTATUS:CONFIRMED\n\
         END:VEVENT\nEND:VCALENDAR\n",
        rng.next_u64(),
        hour + 1,
        rng.range(100, 450),
        text::pseudo_word(rng),
    );
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_xref_offsets_point_at_objects() {
        let a = Attachment {
            kind: Kind::Pdf,
            seed: 3,
            size: 20_000,
            name: "x.pdf".into(),
        };
        let mut out = Vec::new();
        payload(&a, &mut out);
        assert!(out.len() > 15_000 && out.len() < 21_000, "{}", out.len());
        let tail = String::from_utf8_lossy(&out[out.len() - 300..]).into_owned();
        let xref: usize = tail
            .split("startxref\n")
            .nth(1)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(out[xref..].starts_with(b"xref\n0 7\n"));
        let table = String::from_utf8_lossy(&out[xref..]).into_owned();
        for (i, line) in table.lines().skip(3).take(6).enumerate() {
            let off: usize = line[..10].parse().unwrap();
            assert!(out[off..].starts_with(format!("{} 0 obj", i + 1).as_bytes()));
        }
    }

    #[test]
    fn png_crc_is_correct() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }
}
