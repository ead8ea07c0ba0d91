//! Office Open XML (DOCX, XLSX, PPTX) and OpenDocument (ODT, ODS, ODP): ZIP files of XML.
//! The text is in a few known elements; everything is read with `quick-xml`, and every
//! member through the ZIP-bomb guard of [`Ctx::read_member`].

use std::io::Cursor;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::{Ctx, Failure, Kind, fail};

type Zip<'d> = zip::ZipArchive<Cursor<&'d [u8]>>;

pub(crate) fn extract(ctx: &mut Ctx, kind: Kind, data: &[u8]) -> Result<(), Failure> {
    let mut zip = zip::ZipArchive::new(Cursor::new(data)).or_else(|e| {
        fail(format!(
            "not a valid {} file (ZIP container: {e})",
            kind.name()
        ))
    })?;
    if zip.len() as u64 > ctx.limits.max_members {
        return fail(format!("{} file with {} parts", kind.name(), zip.len()));
    }
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    match kind {
        Kind::Docx => {
            let mut parts = vec!["word/document.xml".to_string()];
            for prefix in [
                "word/header",
                "word/footer",
                "word/footnotes",
                "word/endnotes",
            ] {
                parts.extend(sorted(&names, prefix));
            }
            for part in parts {
                let xml = member(ctx, &mut zip, &part, kind)?;
                walk(ctx, &xml, &WORD)?;
            }
        }
        Kind::Pptx => {
            let slides = sorted(&names, "ppt/slides/slide");
            if slides.is_empty() {
                return fail("not a valid PPTX file (no slides)");
            }
            for part in slides
                .into_iter()
                .chain(sorted(&names, "ppt/notesSlides/notesSlide"))
            {
                let xml = member(ctx, &mut zip, &part, kind)?;
                walk(ctx, &xml, &DRAWING)?;
                ctx.newline();
            }
        }
        Kind::Xlsx => {
            let shared = if names.iter().any(|n| n == "xl/sharedStrings.xml") {
                let xml = member(ctx, &mut zip, "xl/sharedStrings.xml", kind)?;
                shared_strings(ctx, &xml)?
            } else {
                Vec::new()
            };
            let sheets = sorted(&names, "xl/worksheets/sheet");
            if sheets.is_empty() {
                return fail("not a valid XLSX file (no worksheets)");
            }
            for part in sheets {
                let xml = member(ctx, &mut zip, &part, kind)?;
                sheet(ctx, &xml, &shared)?;
            }
        }
        Kind::OpenDocument => {
            let xml = member(ctx, &mut zip, "content.xml", kind)?;
            walk(ctx, &xml, &ODF)?;
        }
        _ => unreachable!("not an office kind"),
    }
    Ok(())
}

/// Members named `prefix<number>.xml`, in number order (slide2 before slide10).
fn sorted(names: &[String], prefix: &str) -> Vec<String> {
    let mut v: Vec<(u64, String)> = names
        .iter()
        .filter_map(|n| {
            let rest = n.strip_prefix(prefix)?.strip_suffix(".xml")?;
            let num = if rest.is_empty() {
                0
            } else {
                rest.parse().ok()?
            };
            Some((num, n.clone()))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}

fn member(ctx: &mut Ctx, zip: &mut Zip, name: &str, kind: Kind) -> Result<String, Failure> {
    let Some(i) = zip.index_for_name(name) else {
        return fail(format!("not a valid {} file (no {name})", kind.name()));
    };
    let bytes = ctx.read_member(zip, i)?;
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => crate::text::decode(e.as_bytes()),
    }
}

/// Which elements carry text, and which end a paragraph.
struct Rules {
    /// Text is taken only inside these elements (local names); `None`: all text.
    text_in: Option<&'static [&'static str]>,
    /// Elements whose end (or empty form) is a line break.
    breaks: &'static [&'static str],
    tabs: &'static [&'static str],
    /// Elements that stand for a space (ODF `text:s`).
    spaces: &'static [&'static str],
    /// Elements whose text is never taken (field codes, deleted text).
    skip: &'static [&'static str],
}

const WORD: Rules = Rules {
    text_in: Some(&["t"]),
    breaks: &["p", "br", "cr"],
    tabs: &["tab"],
    spaces: &[],
    skip: &["instrText", "delText"],
};

const DRAWING: Rules = Rules {
    text_in: Some(&["t"]),
    breaks: &["p", "br"],
    tabs: &["tab"],
    spaces: &[],
    skip: &[],
};

const ODF: Rules = Rules {
    text_in: None,
    breaks: &["p", "h", "line-break", "list-item"],
    tabs: &["tab", "table-cell"],
    spaces: &["s"],
    skip: &["annotation-end", "script", "binary-data"],
};

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn xml_error(e: impl std::fmt::Display) -> Failure {
    Failure(format!("damaged XML inside the document: {e}"))
}

/// The text of an entity or character reference (`&amp;`, `&#233;`, `&#xE9;`).
fn resolve_ref(name: &str) -> Option<String> {
    if let Some(num) = name.strip_prefix('#') {
        let n = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => num.parse().ok(),
        };
        n.and_then(char::from_u32).map(String::from)
    } else {
        quick_xml::escape::resolve_predefined_entity(name).map(str::to_string)
    }
}

/// Appends an entity or character reference.
fn push_ref(ctx: &mut Ctx, name: &str) {
    if let Some(s) = resolve_ref(name) {
        ctx.push(&s);
    }
}

/// Counts XML events; every 4096th checks the time limit. True once the output is full.
fn pace(ctx: &Ctx, events: &mut u32) -> Result<bool, Failure> {
    *events = events.wrapping_add(1);
    if events.is_multiple_of(4096) {
        ctx.check_time()?;
        return Ok(ctx.full());
    }
    Ok(false)
}

fn walk(ctx: &mut Ctx, xml: &str, rules: &Rules) -> Result<(), Failure> {
    let mut reader = Reader::from_str(xml);
    let mut inside = 0u32;
    let mut skipping = 0u32;
    let mut events = 0u32;
    loop {
        if pace(ctx, &mut events)? {
            return Ok(());
        }
        match reader.read_event().map_err(xml_error)? {
            Event::Eof => return Ok(()),
            Event::Start(e) => {
                let qname = e.name();
                let name = local(qname.as_ref());
                if rules.skip.contains(&name) {
                    skipping += 1;
                } else if rules.text_in.is_some_and(|t| t.contains(&name)) {
                    inside += 1;
                }
            }
            Event::End(e) => {
                let qname = e.name();
                let name = local(qname.as_ref());
                if rules.skip.contains(&name) {
                    skipping = skipping.saturating_sub(1);
                } else if rules.text_in.is_some_and(|t| t.contains(&name)) {
                    inside = inside.saturating_sub(1);
                }
                if rules.breaks.contains(&name) {
                    ctx.newline();
                } else if rules.tabs.contains(&name) {
                    ctx.push("\t");
                }
            }
            Event::Empty(e) => {
                let qname = e.name();
                let name = local(qname.as_ref());
                if rules.breaks.contains(&name) {
                    ctx.newline();
                } else if rules.tabs.contains(&name) {
                    ctx.push("\t");
                } else if rules.spaces.contains(&name) {
                    let n = e
                        .try_get_attribute("text:c")
                        .ok()
                        .flatten()
                        .and_then(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .ok()?
                                .parse::<usize>()
                                .ok()
                        })
                        .unwrap_or(1)
                        .min(64);
                    ctx.push(&" ".repeat(n));
                }
            }
            Event::Text(t) if skipping == 0 && (rules.text_in.is_none() || inside > 0) => {
                ctx.push(&t.xml10_content());
            }
            Event::CData(t) if skipping == 0 && (rules.text_in.is_none() || inside > 0) => {
                ctx.push(&t.xml10_content());
            }
            Event::GeneralRef(r) if skipping == 0 && (rules.text_in.is_none() || inside > 0) => {
                push_ref(ctx, &r);
            }
            _ => {}
        }
    }
}

/// The shared strings of a workbook, in order (`<si>` elements; phonetic runs left out).
fn shared_strings(ctx: &mut Ctx, xml: &str) -> Result<Vec<String>, Failure> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut in_t, mut in_rph) = (false, false);
    let mut bytes = 0usize;
    loop {
        match reader.read_event().map_err(xml_error)? {
            Event::Eof => return Ok(out),
            Event::Start(e) => match local(e.name().as_ref()) {
                "t" => in_t = true,
                "rPh" => in_rph = true,
                _ => {}
            },
            Event::End(e) => match local(e.name().as_ref()) {
                "t" => in_t = false,
                "rPh" => in_rph = false,
                "si" => {
                    out.push(std::mem::take(&mut cur));
                    if out.len().is_multiple_of(4096) {
                        ctx.check_time()?;
                    }
                }
                _ => {}
            },
            Event::Text(t) if in_t && !in_rph => {
                let s = t.xml10_content();
                bytes += s.len();
                if bytes as u64 > ctx.limits.max_unpacked_bytes {
                    return fail("too many shared strings in the workbook");
                }
                cur.push_str(&s);
            }
            Event::GeneralRef(r) if in_t && !in_rph => {
                cur.push_str(&resolve_ref(&r).unwrap_or_default());
            }
            _ => {}
        }
    }
}

/// One worksheet: cell values, tab-separated, one line per row.
fn sheet(ctx: &mut Ctx, xml: &str, shared: &[String]) -> Result<(), Failure> {
    let mut reader = Reader::from_str(xml);
    let mut cell_type = String::new();
    let (mut in_v, mut in_t) = (false, false);
    let mut value = String::new();
    let mut events = 0u32;
    loop {
        if pace(ctx, &mut events)? {
            return Ok(());
        }
        match reader.read_event().map_err(xml_error)? {
            Event::Eof => return Ok(()),
            Event::Start(e) => match local(e.name().as_ref()) {
                "c" => {
                    cell_type = e
                        .try_get_attribute("t")
                        .ok()
                        .flatten()
                        .and_then(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .ok()
                                .map(|v| v.into_owned())
                        })
                        .unwrap_or_default();
                    value.clear();
                }
                "v" => in_v = true,
                "t" => in_t = true,
                _ => {}
            },
            Event::End(e) => match local(e.name().as_ref()) {
                "v" => in_v = false,
                "t" => in_t = false,
                "c" => {
                    let v = value.trim();
                    if !v.is_empty() {
                        if cell_type == "s" {
                            if let Some(s) = v.parse::<usize>().ok().and_then(|i| shared.get(i)) {
                                ctx.push(s);
                            }
                        } else {
                            ctx.push(v);
                        }
                        ctx.push("\t");
                    }
                }
                "row" => ctx.newline(),
                _ => {}
            },
            Event::Text(t) if in_v || in_t => value.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_v || in_t => {
                value.push_str(&resolve_ref(&r).unwrap_or_default());
            }
            _ => {}
        }
    }
}
