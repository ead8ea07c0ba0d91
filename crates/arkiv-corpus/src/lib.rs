//! `arkiv-corpus`: a deterministic, realistic email corpus for Arkiv's import and search
//! benchmarks and for scale and crash tests.
//!
//! [`generate`] returns a [`Corpus`], a lazy iterator of [`GeneratedMessage`]s: each is the
//! raw RFC 5322 bytes of one message plus the mailbox ([`users`]) and folder holding it.
//! [`write_mbox_tree`] and [`write_maildir_tree`] put a whole corpus on disk the way the
//! importers (and peers such as notmuch, mu, Dovecot) read it.
//!
//! # The corpus model
//!
//! * **Size and mix.** [`Profile::AttachmentHeavy`] averages ~45 KB a message (100,000
//!   messages ≈ 4.5 GB): about 37% of messages carry 1-3 attachments whose sizes are
//!   log-normal (PDF median ~48 KB, JPEG ~56 KB, text kinds a few KB; 1 document in 400 of
//!   1-8 MB, capped at 10 MB); the rest are text of 1-8 KB. [`Profile::TextOnly`] averages
//!   ~4 KB with 5% small text attachments, for fast tests.
//! * **Headers** look like the ones real servers and clients write: `Return-Path`, two or three
//!   `Received` hops, dates spread over 2015-2024 in the sender's time zone (summer time
//!   included), RFC 2047 display names and subjects (`=?UTF-8?B?`, `=?ISO-8859-1?Q?`), a dozen
//!   mailers, `X-Priority`/`Importance` on a few, `Bcc` on some Sent copies.
//! * **Threads**: 40% of messages reply to a recent thread (`Re:`/`AW:`, `In-Reply-To`,
//!   `References`, the parent's text quoted with `> `); forwards carry the original as a
//!   `message/rfc822` part.
//! * **Bodies** are text/plain or multipart/alternative with HTML, in English, German,
//!   French, Russian, Japanese and Chinese, in utf-8, iso-8859-1, windows-1252, koi8-r and
//!   iso-2022-jp, as 7bit, 8bit, quoted-printable and base64. Words come from a fixed
//!   vocabulary of 6,000 pseudo-words with a Zipf distribution (so there are very common and
//!   very rare terms to search for) mixed with real words of each language.
//! * **Attachments** carry real structure around incompressible bytes (a well-formed PDF whose
//!   bulk is an uncompressed random image, JFIF JPEG, PNG, zip-signed docx/xlsx) or are
//!   compressible text (CSV, plain text, iCalendar); names are sometimes non-ASCII
//!   (RFC 2231 `filename*=` or encoded words).
//! * **Shared attachments**: 25-30% of attachment occurrences repeat an earlier one
//!   byte for byte: the document travelling along its thread, a sender's logo, a document
//!   forwarded again. They are regenerated from their seed, never kept.
//! * **Duplicates**: [`CorpusSpec::duplicate_ratio`] of messages are exact byte copies of an
//!   earlier message in another mailbox (the recipient's Inbox copy of a Sent message) or in
//!   another folder, marked with [`GeneratedMessage::duplicate_of`].
//! * Lines end in `\n` (as in mbox and Maildir files) and every message ends with one.
//!
//! # Determinism and speed
//!
//! The same [`CorpusSpec`] gives the same bytes on every machine, forever: the PRNG
//! (SplitMix64 seeding xoshiro256**), base64, quoted-printable, RFC 2047/2231 and the legacy
//! charset encoders are hand-rolled here (each is a few dozen lines) so no dependency update
//! can change the output, and no libm function (`ln`, `exp`, `cos`, whose last bit differs
//! between platforms) is used: log-normal sizes come from an Irwin-Hall normal and a
//! hand-written `exp`. The crate has no dependencies at all.
//!
//! Generation is sequential in planning (threads, duplicates and shared attachments need
//! history) and a pure function of a small per-message plan in rendering, which is why
//! duplicates and quoted replies are re-rendered rather than cached: memory stays bounded
//! (the plans of the last 2,000 messages, 400 open threads, 256 attachment handles) whatever
//! the corpus size. Attachment payloads are random bytes written 8 at a time and base64
//! encoded with a table, so a single core produces several hundred MB/s.

mod attach;
mod date;
pub mod dovecot;
mod encode;
mod people;
mod plan;
mod render;
mod rng;
mod tables;
mod text;
mod write;

use std::path::Path;

pub use plan::Corpus;

/// What to generate.
#[derive(Clone, Debug)]
pub struct CorpusSpec {
    /// Number of messages, duplicates included.
    pub messages: usize,
    /// Same seed (and other fields), same bytes.
    pub seed: u64,
    /// Mailbox owners (at least 1).
    pub users: usize,
    /// Share of messages that are exact copies of an earlier one (0.0 to 0.95).
    pub duplicate_ratio: f64,
    pub profile: Profile,
}

impl Default for CorpusSpec {
    fn default() -> Self {
        CorpusSpec {
            messages: 1000,
            seed: 42,
            users: 20,
            duplicate_ratio: 0.10,
            profile: Profile::AttachmentHeavy,
        }
    }
}

/// Message size mix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    /// ~45 KB average; about a third of messages have 1-3 attachments, some of megabytes.
    #[default]
    AttachmentHeavy,
    /// ~4 KB average; bodies of 1-8 KB and 5% small text attachments: for fast tests.
    TextOnly,
}

/// A mailbox owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorpusUser {
    /// ASCII login, e.g. `anna.berg`.
    pub login: String,
    /// Display name, possibly non-ASCII (`Jörg Müller`, `田中 太郎`).
    pub full_name: String,
    /// `login@example.com`.
    pub email: String,
}

/// The mailbox owners of the corpus described by `spec`, indexed by [`GeneratedMessage::user`].
pub fn users(spec: &CorpusSpec) -> Vec<CorpusUser> {
    people::people(spec.seed, spec.users.max(1))[..spec.users.max(1)]
        .iter()
        .map(people::to_user)
        .collect()
}

/// One generated message.
#[derive(Clone, Debug)]
pub struct GeneratedMessage {
    /// Index into [`users`]: whose mailbox holds this copy.
    pub user: usize,
    /// Folder path with `/` separators: `Inbox`, `Sent`, `Projects/Alpha`, `Archive/2019`.
    pub folder: String,
    /// The raw message: LF line ends, ends with `\n`.
    pub bytes: Vec<u8>,
    /// Index (in generation order) of the earlier message whose bytes this repeats exactly.
    pub duplicate_of: Option<usize>,
}

/// Starts generating the corpus described by `spec` (lazily, in bounded memory).
pub fn generate(spec: &CorpusSpec) -> Corpus {
    Corpus::new(spec)
}

/// Totals of a corpus written to disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorpusSummary {
    /// Messages written, duplicates included.
    pub messages: usize,
    /// Sum of message sizes (without mbox `From ` lines and quoting).
    pub bytes: u64,
    /// Files written: mbox files, or Maildir message files.
    pub files: usize,
    /// Messages that are copies of an earlier one.
    pub duplicates: usize,
}

/// Writes one mbox file per (user, folder): `DIR/<login>/<folder path>.mbox` (folder
/// `Projects/Alpha` → `DIR/<login>/Projects/Alpha.mbox`), mboxrd quoting (a `>` is prefixed to
/// lines matching `^>*From `), a `From sender@example.com Thu Jan  1 00:00:00 2015` line before
/// each message and one blank line after it. Existing files of the same names are replaced.
pub fn write_mbox_tree(spec: &CorpusSpec, dir: &Path) -> std::io::Result<CorpusSummary> {
    write::write_mbox_tree(spec, dir)
}

/// Writes a Maildir++ per user: `DIR/<login>/` (its `cur`/`new`/`tmp` are the Inbox, other
/// folders are `.Projects.Alpha` and so on), one file per message in `cur/` named
/// `<n>.arkiv:2,S` where `n` is the message's index in generation order.
pub fn write_maildir_tree(spec: &CorpusSpec, dir: &Path) -> std::io::Result<CorpusSummary> {
    write::write_maildir_tree(spec, dir)
}
