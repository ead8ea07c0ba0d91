//! Text files in whatever encoding they came in.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE};

use crate::{Failure, fail};

/// Decodes a text file: a byte-order mark decides, else UTF-8 if it is valid, else UTF-16 if
/// every other byte is NUL, else the legacy charset `arkiv_message::charset::guess` (Firefox's
/// detector) finds. A file with NUL bytes otherwise is binary, not text.
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
    Ok(arkiv_message::charset::guess(data, None).0)
}

fn binary() -> Result<String, Failure> {
    fail("a binary file, not text")
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
        // A Shift_JIS text file (as CPython's codec writes it).
        let sjis = "来週の会議では、新しいソフトウェアのパッケージについて説明します。";
        let bytes = b"\x97\x88\x8fT\x82\xcc\x89\xef\x8bc\x82\xc5\x82\xcd\x81A\x90V\x82\xb5\x82\xa2\x83\\\x83t\x83g\x83E\x83F\x83A\x82\xcc\x83p\x83b\x83P\x81[\x83W\x82\xc9\x82\xc2\x82\xa2\x82\xc4\x90\xe0\x96\xbe\x82\xb5\x82\xdc\x82\xb7\x81B";
        assert_eq!(decode(bytes).unwrap(), sjis);
    }
}
