//! Outlook `.msg` files ([MS-OXMSG]): a compound file (read with `cfb`) whose streams are
//! MAPI properties. Text comes from the subject, sender, recipients, body (or HTML body),
//! attachment names and the attachments' own contents, recursively.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

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

/// A string property (`001F` UTF-16LE, else `001E` 8-bit) of the storage at `dir`.
fn string(ctx: &Ctx, cfb: &mut Cfb, dir: &Path, tag: &str) -> Option<String> {
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
    Some(
        encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(&b)
            .0
            .trim_end_matches('\0')
            .to_string(),
    )
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
    // Subject, sender, display To/Cc.
    for tag in ["0037", "0C1A", "0C1F", "0E04", "0E03"] {
        if let Some(s) = string(ctx, cfb, dir, tag)
            && !s.is_empty()
        {
            ctx.newline();
            ctx.push(&s);
        }
    }
    for r in children(cfb, dir, "__recip_version1.0_") {
        for tag in ["3001", "39FE", "3003"] {
            if let Some(s) = string(ctx, cfb, &r, tag) {
                ctx.newline();
                ctx.push(&s);
            }
        }
    }
    ctx.newline();
    match string(ctx, cfb, dir, "1000") {
        Some(body) if !body.trim().is_empty() => ctx.push(&body),
        _ => {
            let html = stream(ctx, cfb, &dir.join("__substg1.0_10130102"))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .or_else(|| string(ctx, cfb, dir, "1013"));
            if let Some(h) = html {
                ctx.push(&mail_parser::decoders::html::html_to_text(&h));
            }
        }
    }
    for a in children(cfb, dir, "__attach_version1.0_") {
        if ctx.full() {
            break;
        }
        let name = string(ctx, cfb, &a, "3707").or_else(|| string(ctx, cfb, &a, "3704"));
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
