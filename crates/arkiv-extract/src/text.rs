//! Text files in whatever encoding they came in.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, WINDOWS_1252};

use crate::{Failure, fail};

/// Decodes a text file: a byte-order mark decides, else UTF-8 if it is valid, else UTF-16 if
/// every other byte is NUL, else Windows-1252 (the usual 8-bit encoding of mail attachments).
/// A file with NUL bytes otherwise is binary, not text.
pub(crate) fn decode(data: &[u8]) -> Result<String, Failure> {
    if let Some((enc, bom)) = Encoding::for_bom(data) {
        return Ok(enc.decode_without_bom_handling(&data[bom..]).0.into_owned());
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if s.contains('\0') {
            return binary();
        }
        return Ok(s.to_string());
    }
    let head = &data[..data.len().min(8192)];
    let zeros = |start: usize| {
        head.iter()
            .skip(start)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let half = head.len() / 2;
    if half >= 2 && zeros(1) * 10 >= half * 9 && zeros(0) * 10 < half {
        return Ok(UTF_16LE.decode_without_bom_handling(data).0.into_owned());
    }
    if half >= 2 && zeros(0) * 10 >= half * 9 && zeros(1) * 10 < half {
        return Ok(UTF_16BE.decode_without_bom_handling(data).0.into_owned());
    }
    if head.contains(&0) {
        return binary();
    }
    Ok(WINDOWS_1252
        .decode_without_bom_handling(data)
        .0
        .into_owned())
}

fn binary() -> Result<String, Failure> {
    fail("a binary file, not text")
}

/// Decodes bytes in a Windows code page (`\ansicpg` of RTF, 8-bit strings of MSG files).
pub(crate) fn codepage(cp: u16) -> &'static Encoding {
    let label = match cp {
        65001 => "utf-8",
        874 => "windows-874",
        932 => "shift_jis",
        936 => "gbk",
        949 => "euc-kr",
        950 => "big5",
        1250..=1258 => {
            return Encoding::for_label(format!("windows-{cp}").as_bytes()).unwrap_or(WINDOWS_1252);
        }
        10000 => "macintosh",
        20866 => "koi8-r",
        28591 => "iso-8859-1",
        28592 => "iso-8859-2",
        28605 => "iso-8859-15",
        _ => return WINDOWS_1252,
    };
    Encoding::for_label(label.as_bytes()).unwrap_or(WINDOWS_1252)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(decode("Grüße".as_bytes()).unwrap(), "Grüße");
        assert_eq!(decode(b"Gr\xfc\xdfe").unwrap(), "Grüße");
        let utf16: Vec<u8> = "Grüße, Welt"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(decode(&utf16).unwrap(), "Grüße, Welt");
        let mut bom = vec![0xff, 0xfe];
        bom.extend(&utf16);
        assert_eq!(decode(&bom).unwrap(), "Grüße, Welt");
        assert!(decode(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff").is_err());
        assert_eq!(codepage(1251).name(), "windows-1251");
        assert_eq!(codepage(932).name(), "Shift_JIS");
    }
}
