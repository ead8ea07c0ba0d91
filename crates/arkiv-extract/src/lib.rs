//! The text of attachments, for the search index (capability C4, manual §5.16).
//!
//! * [`Settings`] says which attachments are read: file-type groups (`text`, `html`, `pdf`,
//!   `office`, `opendocument`, `rtf`, `messages`, `archives`) and other file extensions. The
//!   default reads none: as in the manual, only attachment *names* are indexed until an
//!   administrator switches contents on.
//! * [`extract`] turns one attachment into text, here in this process: PDF (`pdf-extract`),
//!   DOCX/XLSX/PPTX and ODT/ODS/ODP (their XML, read with `quick-xml` from the `zip`
//!   container), RTF (a small reader of our own: no maintained crate does plain-text RTF
//!   with code pages), HTML (mail-parser's converter), text in any common encoding
//!   (`encoding_rs`), attached messages (EML via mail-parser, Outlook MSG via `cfb`) and ZIP
//!   members, recursively.
//! * [`Extractor`] runs [`extract`] in a **sandbox**: a child process (`arkiv extract-worker`)
//!   with an address-space limit, killed when it overruns its time. A hostile file can make
//!   the child loop, exhaust its memory, overflow its stack or panic; archiving goes on and the
//!   outcome is recorded as a [`Failure`].
//!
//! Everything is bounded by [`Limits`]: input size, output size, nesting depth, ZIP members,
//! unpacked bytes and compression ratio (zip bombs), time.

mod msg;
mod office;
mod rtf;
pub mod sandbox;
mod settings;
mod text;

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

pub use sandbox::Extractor;
pub use settings::{GROUPS, Kind, Limits, Settings};

/// Why an attachment's text could not be had. The message is archived and searchable by
/// everything else; the index records that this attachment was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure(pub String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The text of an attachment, and what inside it could not be read (a ZIP member that is a
/// bomb, an unreadable attachment of an attached message): the rest is still indexed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Extracted {
    pub text: String,
    pub problems: Vec<String>,
}

pub type Outcome = Result<Extracted, Failure>;

fn fail<T>(why: impl Into<String>) -> Result<T, Failure> {
    Err(Failure(why.into()))
}

/// Extracts the text of one attachment of the given kind, in this process.
///
/// Panics inside the format readers are caught and reported as failures. Time, memory and
/// stack are not bounded here: for untrusted input use [`Extractor`], which runs this in a
/// sandbox process.
pub fn extract(kind: Kind, data: &[u8], limits: &Limits) -> Outcome {
    if data.len() as u64 > limits.max_input_bytes {
        return fail(format!(
            "larger than the extraction limit ({} MiB)",
            limits.max_input_bytes >> 20
        ));
    }
    let mut ctx = Ctx::new(limits);
    match catch_unwind(AssertUnwindSafe(|| ctx.extract(kind, data, 0))) {
        Ok(Ok(())) => Ok(Extracted {
            text: ctx.out,
            problems: ctx.problems,
        }),
        Ok(Err(f)) => Err(f),
        Err(_) => fail(format!("the {} reader failed on this file", kind.name())),
    }
}

/// The state of one extraction: the text so far and the budgets left.
pub(crate) struct Ctx<'a> {
    limits: &'a Limits,
    pub(crate) out: String,
    truncated: bool,
    problems: Vec<String>,
    unpacked: u64,
    started: Instant,
}

impl<'a> Ctx<'a> {
    fn new(limits: &'a Limits) -> Self {
        Ctx {
            limits,
            out: String::new(),
            truncated: false,
            problems: Vec::new(),
            unpacked: 0,
            started: Instant::now(),
        }
    }

    /// Appends text, up to the output limit (beyond it text is dropped, not an error).
    pub(crate) fn push(&mut self, s: &str) {
        let room = (self.limits.max_output_bytes as usize).saturating_sub(self.out.len());
        if s.len() <= room {
            self.out.push_str(s);
            return;
        }
        self.truncated = true;
        let mut cut = room;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.out.push_str(&s[..cut]);
    }

    pub(crate) fn push_char(&mut self, c: char) {
        let mut b = [0; 4];
        self.push(c.encode_utf8(&mut b));
    }

    /// Ends a line or paragraph (one newline, never several in a row).
    pub(crate) fn newline(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.push("\n");
        }
    }

    /// Records a part that could not be read (the rest of the file still counts).
    pub(crate) fn note(&mut self, what: &str, f: Failure) {
        if self.problems.len() < 10 {
            self.problems.push(format!("{what}: {f}"));
        }
    }

    pub(crate) fn full(&self) -> bool {
        self.truncated
    }

    /// Cooperative time check for loops over untrusted structure (the sandbox's kill is the
    /// hard limit; this one ends a merely slow file with a clear reason).
    pub(crate) fn check_time(&self) -> Result<(), Failure> {
        if self.started.elapsed() > self.limits.timeout {
            return fail(format!(
                "took longer than {} s",
                self.limits.timeout.as_secs()
            ));
        }
        Ok(())
    }

    pub(crate) fn extract(&mut self, kind: Kind, data: &[u8], depth: u32) -> Result<(), Failure> {
        if depth > self.limits.max_depth {
            return fail(format!(
                "nested deeper than {} levels",
                self.limits.max_depth
            ));
        }
        self.check_time()?;
        match kind {
            Kind::Text => {
                let t = text::decode(data)?;
                self.push(&t);
                Ok(())
            }
            Kind::Html => {
                let t = text::decode(data)?;
                self.push(&mail_parser::decoders::html::html_to_text(&t));
                Ok(())
            }
            Kind::Pdf => self.pdf(data),
            Kind::Rtf => rtf::extract(self, data),
            Kind::Docx | Kind::Xlsx | Kind::Pptx | Kind::OpenDocument => {
                office::extract(self, kind, data)
            }
            Kind::Eml => self.eml(data, depth),
            Kind::Msg => msg::extract(self, data, depth),
            Kind::Zip => self.zip(data, depth),
        }
    }

    fn pdf(&mut self, data: &[u8]) -> Result<(), Failure> {
        if !data.starts_with(b"%PDF")
            && !data[..data.len().min(1024)]
                .windows(4)
                .any(|w| w == b"%PDF")
        {
            return fail("not a PDF file");
        }
        // pdf-extract panics on some malformed content streams; inside an attached message or
        // a ZIP that must not spoil the rest, so it is caught here, not only at the top.
        match catch_unwind(AssertUnwindSafe(|| self.pdf_pages(data))) {
            Ok(r) => r,
            Err(_) => fail("the PDF reader failed on this file"),
        }
    }

    fn pdf_pages(&mut self, data: &[u8]) -> Result<(), Failure> {
        use pdf_extract::{Document, Object};
        let mut doc = Document::load_mem(data).or_else(|e| fail(format!("unreadable PDF: {e}")))?;
        if doc.is_encrypted() && doc.decrypt("").is_err() {
            return fail("encrypted PDF (a password is needed to read it)");
        }
        // pdf-extract runs every `Do` XObject as a content stream, pictures too, and their
        // bytes then read as garbage operators (and can make it panic). Pictures carry no text:
        // empty them before extracting (which also frees their memory).
        for obj in doc.objects.values_mut() {
            if let Object::Stream(st) = obj
                && st
                    .dict
                    .get(b"Subtype")
                    .and_then(Object::as_name)
                    .is_ok_and(|n| n == b"Image")
            {
                st.dict.remove(b"Filter");
                st.dict.remove(b"DecodeParms");
                st.set_content(Vec::new());
            }
        }
        let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
        for page in pages {
            self.check_time()?;
            if self.full() {
                break;
            }
            let mut text = String::new();
            let mut dev = pdf_extract::PlainTextOutput::new(&mut text);
            if let Err(e) = pdf_extract::output_doc_page(&doc, &mut dev, page) {
                self.note(&format!("page {page}"), Failure(format!("unreadable: {e}")));
            }
            self.push(&text);
            self.newline();
        }
        Ok(())
    }

    /// An attached message: its subject, addresses, body, and its own attachments.
    fn eml(&mut self, data: &[u8], depth: u32) -> Result<(), Failure> {
        let want = |name: Option<&str>, ctype: &str| Kind::detect(name, ctype).is_some();
        let p = arkiv_message::parse_with(data, &want);
        if let Some(problem) = &p.problem
            && p.summary.subject.is_none()
            && p.body_text.is_empty()
        {
            return fail(format!("attached message: {problem}"));
        }
        let s = &p.summary;
        if let Some(subj) = &s.subject {
            self.newline();
            self.push(subj);
        }
        for a in s.from.iter().chain(&s.to).chain(&s.cc) {
            self.newline();
            if let Some(n) = &a.name {
                self.push(n);
                self.push(" ");
            }
            self.push(&a.address);
        }
        self.newline();
        self.push(&p.body_text);
        for name in &s.attachment_names {
            self.newline();
            self.push(name);
        }
        for a in &p.attachments {
            if self.full() {
                break;
            }
            if let Some(kind) = Kind::detect(a.name.as_deref(), &a.content_type) {
                self.newline();
                // A member that cannot be read does not spoil the rest of the message.
                if let Err(f) = self.extract(kind, &a.data, depth + 1) {
                    self.note(a.name.as_deref().unwrap_or(&a.content_type), f);
                }
            }
        }
        Ok(())
    }

    /// The members of a ZIP file: their names, and the text of those of a known kind.
    fn zip(&mut self, data: &[u8], depth: u32) -> Result<(), Failure> {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(data))
            .or_else(|e| fail(format!("unreadable ZIP file: {e}")))?;
        if zip.len() > self.limits.max_members as usize {
            return fail(format!(
                "ZIP file with {} members (limit {})",
                zip.len(),
                self.limits.max_members
            ));
        }
        for i in 0..zip.len() {
            self.check_time()?;
            if self.full() {
                break;
            }
            let (name, kind) = {
                let f = zip
                    .by_index_raw(i)
                    .or_else(|e| fail(format!("unreadable ZIP file: {e}")))?;
                let name = f.name().map(|n| n.into_owned()).unwrap_or_default();
                let kind = if f.is_dir() {
                    None
                } else {
                    Kind::detect(Some(&name), "")
                };
                (name, kind)
            };
            self.newline();
            self.push(&name);
            let Some(kind) = kind else { continue };
            let r = self.read_member(&mut zip, i).and_then(|bytes| {
                self.newline();
                self.extract(kind, &bytes, depth + 1)
            });
            // One unreadable member (a bomb too) does not spoil the others.
            if let Err(f) = r {
                self.note(&name, f);
            }
        }
        Ok(())
    }

    /// Reads one ZIP member, refusing zip bombs: a member may unpack to at most
    /// `max_ratio` times its compressed size (and the whole file to `max_unpacked_bytes`).
    pub(crate) fn read_member<R: std::io::Read + std::io::Seek>(
        &mut self,
        zip: &mut zip::ZipArchive<R>,
        i: usize,
    ) -> Result<Vec<u8>, Failure> {
        let f = zip
            .by_index(i)
            .or_else(|e| fail(format!("unreadable ZIP member: {e}")))?;
        let name = f.name().map(|n| n.into_owned()).unwrap_or_default();
        let packed = f.compressed_size().max(1);
        let allowed = packed
            .saturating_mul(self.limits.max_ratio)
            .max(64 * 1024)
            .min(self.limits.max_unpacked_bytes.saturating_sub(self.unpacked));
        if f.size() > allowed {
            return fail(format!(
                "zip bomb refused: {name} unpacks to {} bytes from {packed}",
                f.size()
            ));
        }
        let mut out = Vec::with_capacity(f.size().min(allowed) as usize);
        f.take(allowed + 1)
            .read_to_end(&mut out)
            .or_else(|e| fail(format!("unreadable ZIP member {name}: {e}")))?;
        if out.len() as u64 > allowed {
            return fail(format!(
                "zip bomb refused: {name} unpacks to more than {allowed} bytes from {packed}"
            ));
        }
        self.unpacked += out.len() as u64;
        Ok(out)
    }
}
