//! Outlook `.msg` files ([MS-OXMSG]): a compound file (read with `cfb`) whose streams are
//! MAPI properties. Text comes from the subject, sender, recipients, body (or HTML body),
//! attachment names and the attachments' own contents, recursively.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use arkiv_message::charset::{self, Charset};

use crate::{Ctx, Failure, Kind, fail};

type Cfb<'d> = cfb::CompoundFile<Cursor<&'d [u8]>>;

pub(crate) fn extract(ctx: &mut Ctx, data: &[u8], depth: u32) -> Result<(), Failure> {
    let mut cfb = cfb::CompoundFile::open(Cursor::new(data))
        .or_else(|e| fail(format!("not a valid Outlook MSG file: {e}")))?;
    if !cfb.exists("/__properties_version1.0")
        && !cfb.exists("/__substg1.0_0037001F")
        && !cfb.exists("/__substg1.0_0037001E")
    {
        return fail("not an Outlook message (a compound file without message properties)");
    }
    message(ctx, &mut cfb, Path::new("/"), depth)
}

/// The charset of a message's 8-bit strings and HTML body: `PR_INTERNET_CPID` (0x3FDE), else
/// `PR_MESSAGE_CODEPAGE` (0x3FFD), from the storage's property stream ([MS-OXMSG] 2.4: a
/// header of 32 bytes for the top-level message, 24 for an embedded one, then 16-byte
/// entries of tag, flags and an 8-byte value).
fn codepage(ctx: &Ctx, cfb: &mut Cfb, dir: &Path) -> Option<Charset> {
    let props = stream(ctx, cfb, &dir.join("__properties_version1.0"))?;
    let header = if dir == Path::new("/") { 32 } else { 24 };
    let find = |id: u32| {
        props.get(header..)?.chunks_exact(16).find_map(|e| {
            let tag = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
            (tag == (id << 16 | 0x0003)).then(|| u32::from_le_bytes([e[8], e[9], e[10], e[11]]))
        })
    };
    [0x3FDE, 0x3FFD]
        .into_iter()
        .filter_map(find)
        .filter_map(|cp| u16::try_from(cp).ok())
        .find_map(charset::codepage)
}

/// A string property (`001F` UTF-16LE, else `001E` 8-bit in `cs`, or guessed without one)
/// of the storage at `dir`.
fn string(ctx: &Ctx, cfb: &mut Cfb, dir: &Path, tag: &str, cs: Option<Charset>) -> Option<String> {
    if let Some(b) = stream(ctx, cfb, &dir.join(format!("__substg1.0_{tag}001F"))) {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return Some(
            String::from_utf16_lossy(&units)
                .trim_end_matches('\0')
                .to_string(),
        );
    }
    let b = stream(ctx, cfb, &dir.join(format!("__substg1.0_{tag}001E")))?;
    let text = match cs {
        Some(cs) => cs.decode(&b).0,
        None => charset::decode_unlabelled(&b).into_owned(),
    };
    Some(text.trim_end_matches('\0').to_string())
}

fn stream(ctx: &Ctx, cfb: &mut Cfb, path: &Path) -> Option<Vec<u8>> {
    if !cfb.is_stream(path) {
        return None;
    }
    let mut s = cfb.open_stream(path).ok()?;
    let mut out = Vec::new();
    s.by_ref()
        .take(ctx.limits.max_input_bytes)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

fn children(cfb: &Cfb, dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = cfb
        .read_storage(dir)
        .map(|entries| {
            entries
                .filter(|e| e.is_storage() && e.name().starts_with(prefix))
                .map(|e| e.path().to_path_buf())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn message(ctx: &mut Ctx, cfb: &mut Cfb, dir: &Path, depth: u32) -> Result<(), Failure> {
    if depth > ctx.limits.max_depth {
        return fail("messages nested too deeply");
    }
    ctx.check_time()?;
    let cs = codepage(ctx, cfb, dir);
    // Subject, sender, display To/Cc.
    for tag in ["0037", "0C1A", "0C1F", "0E04", "0E03"] {
        if let Some(s) = string(ctx, cfb, dir, tag, cs)
            && !s.is_empty()
        {
            ctx.newline();
            ctx.push(&s);
        }
    }
    for r in children(cfb, dir, "__recip_version1.0_") {
        for tag in ["3001", "39FE", "3003"] {
            if let Some(s) = string(ctx, cfb, &r, tag, cs) {
                ctx.newline();
                ctx.push(&s);
            }
        }
    }
    ctx.newline();
    match string(ctx, cfb, dir, "1000", cs) {
        Some(body) if !body.trim().is_empty() => ctx.push(&body),
        _ => {
            let html = stream(ctx, cfb, &dir.join("__substg1.0_10130102"))
                .map(|b| match cs {
                    Some(cs) => cs.decode(&b).0,
                    None => charset::decode_unlabelled(&b).into_owned(),
                })
                .or_else(|| string(ctx, cfb, dir, "1013", cs));
            if let Some(h) = html {
                ctx.push(&mail_parser::decoders::html::html_to_text(&h));
            }
        }
    }
    for a in children(cfb, dir, "__attach_version1.0_") {
        if ctx.full() {
            break;
        }
        let name = string(ctx, cfb, &a, "3707", cs).or_else(|| string(ctx, cfb, &a, "3704", cs));
        if let Some(n) = &name {
            ctx.newline();
            ctx.push(n);
        }
        let embedded = a.join("__substg1.0_3701000D");
        if cfb.is_storage(&embedded) {
            if let Err(f) = message(ctx, cfb, &embedded, depth + 1) {
                ctx.note(name.as_deref().unwrap_or("attached message"), f);
            }
            continue;
        }
        let Some(kind) = Kind::detect(name.as_deref(), "") else {
            continue;
        };
        if let Some(bytes) = stream(ctx, cfb, &a.join("__substg1.0_37010102")) {
            ctx.newline();
            // One unreadable attachment does not spoil the message.
            if let Err(f) = ctx.extract(kind, &bytes, depth + 1) {
                ctx.note(name.as_deref().unwrap_or("attachment"), f);
            }
        }
    }
    Ok(())
}
