//! Plain text of RTF documents.
//!
//! Hand-written, because no maintained crate reads RTF's code pages (`\ansicpg`, `\'hh`),
//! Unicode escapes (`\uN` with `\ucN` fallbacks) and ignorable destinations together. It is a
//! single pass with an explicit group stack (no recursion), so hostile nesting cannot
//! overflow the stack.

use arkiv_message::charset::{self, Charset};

use crate::{Ctx, Failure, fail};

/// Destinations whose contents are not document text.
const SKIP: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "object",
    "objdata",
    "themedata",
    "colorschememapping",
    "datastore",
    "latentstyles",
    "xmlnstbl",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "fldinst",
    "filetbl",
    "revtbl",
    "userprops",
    "header",
    "footer",
    "headerl",
    "headerr",
    "headerf",
    "footerl",
    "footerr",
    "footerf",
    "bkmkstart",
    "bkmkend",
    "xe",
    "tc",
];

#[derive(Clone, Copy)]
struct State {
    skip: bool,
    /// Characters to skip after `\uN` (`\ucN`).
    uc: usize,
}

pub(crate) fn extract(ctx: &mut Ctx, data: &[u8]) -> Result<(), Failure> {
    if !data.starts_with(b"{\\rtf") {
        return fail("not an RTF file");
    }
    let mut enc: Charset = charset::windows_1252();
    let mut stack: Vec<State> = Vec::new();
    let mut st = State { skip: false, uc: 1 };
    // Characters still to skip after a `\u` escape.
    let mut pending_skip = 0usize;
    // Bytes of `\'hh` escapes in a row, decoded together (multi-byte code pages).
    let mut bytes: Vec<u8> = Vec::new();
    let mut i = 0;
    let mut steps = 0u32;
    let flush = |ctx: &mut Ctx, bytes: &mut Vec<u8>, enc: Charset| {
        if !bytes.is_empty() {
            ctx.push(&enc.decode(bytes).0);
            bytes.clear();
        }
    };
    while i < data.len() {
        steps = steps.wrapping_add(1);
        if steps.is_multiple_of(65536) {
            ctx.check_time()?;
            if ctx.full() {
                return Ok(());
            }
        }
        let b = data[i];
        match b {
            b'{' => {
                flush(ctx, &mut bytes, enc);
                if stack.len() >= 4096 {
                    return fail("RTF groups nested too deeply");
                }
                stack.push(st);
                i += 1;
            }
            b'}' => {
                flush(ctx, &mut bytes, enc);
                st = stack.pop().unwrap_or(st);
                pending_skip = 0;
                i += 1;
            }
            b'\\' => {
                i += 1;
                let Some(&c) = data.get(i) else { break };
                if c.is_ascii_alphabetic() {
                    let start = i;
                    while i < data.len() && data[i].is_ascii_alphabetic() && i - start < 32 {
                        i += 1;
                    }
                    let word = std::str::from_utf8(&data[start..i]).unwrap_or("");
                    let pstart = i;
                    if i < data.len() && data[i] == b'-' {
                        i += 1;
                    }
                    while i < data.len() && data[i].is_ascii_digit() && i - pstart < 10 {
                        i += 1;
                    }
                    let param: Option<i64> = std::str::from_utf8(&data[pstart..i])
                        .ok()
                        .and_then(|p| p.parse().ok());
                    if i < data.len() && data[i] == b' ' {
                        i += 1;
                    }
                    if word != "u" {
                        flush(ctx, &mut bytes, enc);
                    }
                    if pending_skip > 0 && word != "u" {
                        // A control word in the fallback of `\u` counts as one character.
                        pending_skip -= 1;
                        continue;
                    }
                    control(ctx, &mut st, &mut enc, &mut pending_skip, word, param);
                } else {
                    i += 1;
                    match c {
                        b'\'' => {
                            let hex = data.get(i..i + 2).and_then(|h| std::str::from_utf8(h).ok());
                            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                                i += 2;
                                if pending_skip > 0 {
                                    pending_skip -= 1;
                                } else if !st.skip {
                                    bytes.push(v);
                                }
                            }
                        }
                        b'*' => st.skip = true,
                        b'~' if !st.skip => ctx.push("\u{a0}"),
                        b'_' if !st.skip => ctx.push("-"),
                        b'\\' | b'{' | b'}' if !st.skip => {
                            flush(ctx, &mut bytes, enc);
                            ctx.push_char(c as char);
                        }
                        b'\n' | b'\r' if !st.skip => ctx.newline(),
                        _ => {}
                    }
                }
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                if pending_skip > 0 {
                    pending_skip -= 1;
                } else if !st.skip {
                    if b < 0x80 {
                        flush(ctx, &mut bytes, enc);
                        ctx.push_char(b as char);
                    } else {
                        bytes.push(b);
                    }
                }
                i += 1;
            }
        }
    }
    flush(ctx, &mut bytes, enc);
    Ok(())
}

fn control(
    ctx: &mut Ctx,
    st: &mut State,
    enc: &mut Charset,
    pending_skip: &mut usize,
    word: &str,
    param: Option<i64>,
) {
    if SKIP.contains(&word) {
        st.skip = true;
        return;
    }
    match word {
        "ansicpg" => {
            if let Some(cp) = param.and_then(|p| u16::try_from(p).ok()) {
                *enc = charset::codepage(cp).unwrap_or(charset::windows_1252());
            }
        }
        "mac" => *enc = charset::codepage(10000).unwrap_or(charset::windows_1252()),
        "uc" => st.uc = param.unwrap_or(1).clamp(0, 16) as usize,
        _ if st.skip => {}
        "u" => {
            if let Some(p) = param {
                let cp = if p < 0 { p + 65536 } else { p } as u32;
                ctx.push_char(char::from_u32(cp).unwrap_or('\u{fffd}'));
                *pending_skip = st.uc;
            }
        }
        "par" | "line" | "row" | "sect" | "page" => ctx.newline(),
        "tab" | "cell" => ctx.push("\t"),
        "emdash" => ctx.push("—"),
        "endash" => ctx.push("–"),
        "bullet" => ctx.push("•"),
        "lquote" => ctx.push("‘"),
        "rquote" => ctx.push("’"),
        "ldblquote" => ctx.push("“"),
        "rdblquote" => ctx.push("”"),
        "emspace" | "enspace" | "qmspace" => ctx.push(" "),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::{Kind, Limits, extract};

    fn rtf(s: &[u8]) -> String {
        extract(Kind::Rtf, s, &Limits::default()).unwrap().text
    }

    #[test]
    fn text_code_pages_and_unicode() {
        let doc =
            br"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0 Times;}}{\colortbl;\red0\green0\blue0;}
{\*\generator Riched20}\f0 Gr\'fc\'dfe aus K\'f6ln\par
Caf\u233?s and \u-3913?\u-3912? done\tab x\par
{\*\unknowndest hidden text}{\field{\*\fldinst HYPERLINK x}{\fldrslt shown}}}";
        let t = rtf(doc);
        assert!(t.contains("Grüße aus Köln\n"), "{t:?}");
        assert!(t.contains("Cafés and \u{f0b7}\u{f0b8} done\tx"), "{t:?}");
        assert!(t.contains("shown") && !t.contains("hidden") && !t.contains("HYPERLINK"));
        assert!(!t.contains("Times") && !t.contains("Riched"), "{t:?}");
        let cyr = rtf(br"{\rtf1\ansi\ansicpg1251 \'cf\'f0\'e8\'e2\'e5\'f2}");
        assert_eq!(cyr, "Привет");
    }

    #[test]
    fn hostile_rtf_is_bounded() {
        let mut deep = b"{\\rtf1 ".to_vec();
        deep.extend(std::iter::repeat_n(b'{', 100_000));
        assert!(extract(Kind::Rtf, &deep, &Limits::default()).is_err());
        assert!(extract(Kind::Rtf, b"not rtf", &Limits::default()).is_err());
        let t = rtf(b"{\\rtf1 \\'zz\\u99999999999 \\");
        assert!(t.len() < 16);
    }
}
