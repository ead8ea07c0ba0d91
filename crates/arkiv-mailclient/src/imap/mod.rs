//! An IMAP4rev1 client with what an archiver needs (RFC 3501, SASL-IR, LITERAL+, UIDPLUS,
//! SPECIAL-USE).
//!
//! [`ImapSession::connect`] reads the greeting and capabilities and does STARTTLS when asked;
//! [`ImapSession::login`] logs on; then folders are listed ([`ImapSession::list`]), looked at
//! ([`ImapSession::status`], [`ImapSession::examine`]), their messages' UIDs, flags, sizes
//! and dates read ([`ImapSession::message_list`]), and bodies streamed one message at a time
//! ([`ImapSession::fetch_bodies`]) — never `\Seen` is set, bodies are fetched with
//! `BODY.PEEK[]`. Deleting ([`ImapSession::delete`]) is the only write.
//!
//! Responses are framed by [`frame::Framer`] under limits and decoded with `imap-codec`.
//! A `FETCH` response imap-codec refuses (a literal with a NUL byte, a server quirk) is read
//! again by a narrow fallback that only takes the UID and the body literal, so such a
//! message is still archived byte for byte.

mod decode;
pub mod frame;
pub mod utf7;

use std::collections::VecDeque;
use std::time::Duration;

use imap_codec::decode::Decoder;
use imap_codec::imap_types::fetch::MessageDataItem;
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::response::{
    Code, Data, GreetingKind, Response, Status, StatusBody, StatusKind,
};
use imap_codec::imap_types::status::StatusDataItem;
use imap_codec::{GreetingCodec, ResponseCodec};

use crate::conn::Conn;
use crate::{Credentials, Endpoint, Error, Result, Security};
use decode::{astring, caps, fallback_fetch, fetched, flags, is_fetch, printable};
pub use decode::{read_responses, uid_set};
use frame::{Frame, FrameError, Framer, Limits};

/// The protocol log keeps this many lines (commands and status answers, no data, no
/// passwords), for a run's debug log.
const LOG_LINES: usize = 400;

/// A folder as `LIST` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxInfo {
    /// The name as a person reads it (modified UTF-7 decoded), with the server's delimiter.
    pub name: String,
    /// The name as the server spells it, for commands.
    pub raw: Vec<u8>,
    pub delimiter: Option<char>,
    /// `\Noselect`, `\HasChildren`, `\Sent`, `\Trash`, ... as sent.
    pub attributes: Vec<String>,
}

impl MailboxInfo {
    fn has(&self, attr: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(attr))
    }

    /// Whether it holds messages (`\Noselect` and `\NonExistent` folders do not).
    pub fn selectable(&self) -> bool {
        !self.has("\\Noselect") && !self.has("\\NonExistent")
    }

    /// The SPECIAL-USE attribute (RFC 6154), if any: `\Sent`, `\Drafts`, `\Trash`, `\Junk`,
    /// `\All`, `\Archive`, `\Flagged`.
    pub fn special_use(&self) -> Option<&str> {
        const USES: [&str; 7] = [
            "\\Sent",
            "\\Drafts",
            "\\Trash",
            "\\Junk",
            "\\All",
            "\\Archive",
            "\\Flagged",
        ];
        self.attributes
            .iter()
            .find(|a| USES.iter().any(|u| u.eq_ignore_ascii_case(a)))
            .map(|s| s.as_str())
    }

    /// The path of names from the top (split at the delimiter).
    pub fn path(&self) -> Vec<String> {
        match self.delimiter {
            Some(d) => self
                .name
                .split(d)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            None => vec![self.name.clone()],
        }
    }
}

/// `STATUS` of a folder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MailboxStatus {
    pub messages: u32,
    pub uid_next: Option<u32>,
    pub uid_validity: Option<u32>,
}

/// A message as listed by [`ImapSession::message_list`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageMeta {
    pub uid: u32,
    pub flags: Vec<String>,
    /// `RFC822.SIZE`, as the server counts it.
    pub size: u64,
    /// `INTERNALDATE` in seconds since 1970 (when the server received it).
    pub internal_date: Option<i64>,
}

impl MessageMeta {
    fn flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x.eq_ignore_ascii_case(f))
    }
    pub fn seen(&self) -> bool {
        self.flag("\\Seen")
    }
    pub fn flagged(&self) -> bool {
        self.flag("\\Flagged")
    }
    pub fn deleted(&self) -> bool {
        self.flag("\\Deleted")
    }
}

/// A fetched message: its UID and its exact bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub uid: u32,
    pub bytes: Vec<u8>,
}

/// What [`ImapSession::delete`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Marked `\Deleted` and expunged.
    pub expunged: Vec<u32>,
    /// Marked `\Deleted` but not expunged: without UIDPLUS an `EXPUNGE` would also remove
    /// messages someone else marked, so it is left to the mail client.
    pub marked_only: Vec<u32>,
}

/// One IMAP connection.
pub struct ImapSession {
    conn: Conn,
    framer: Framer,
    next_tag: u32,
    caps: Vec<String>,
    log: VecDeque<String>,
    /// `EXISTS` of the selected folder as last announced.
    exists: u32,
}

/// How a command argument is sent.
enum Arg<'a> {
    /// As it is (atoms, sequence sets, parenthesized lists).
    Raw(&'a str),
    /// An astring: atom, quoted string or literal, whichever the bytes allow.
    Str(&'a [u8]),
}

impl ImapSession {
    /// Connects, reads the greeting, and upgrades to TLS when `security` says so.
    pub fn connect(ep: &Endpoint) -> Result<ImapSession> {
        let conn = Conn::connect(ep)?;
        let mut s = ImapSession {
            conn,
            framer: Framer::new(),
            next_tag: 1,
            caps: Vec::new(),
            log: VecDeque::new(),
            exists: 0,
        };
        s.greeting()?;
        if ep.security == Security::StartTls {
            if s.caps.is_empty() {
                s.capability()?;
            }
            if !s.has_cap("STARTTLS") {
                return Err(Error::Unsupported {
                    server: s.server(),
                    what: "STARTTLS (choose TLS, or plain text explicitly)".into(),
                });
            }
            let tag = s.send(&[Arg::Raw("STARTTLS")], "STARTTLS")?;
            s.finish(&tag, "STARTTLS", |_| Ok(()))?;
            if s.framer.is_mid_response() {
                // Bytes sent before the handshake would be trusted as if they came after it.
                s.conn.shutdown();
                return Err(Error::Protocol {
                    server: s.server(),
                    what: "data sent in plain text before the TLS handshake".into(),
                });
            }
            s.conn.start_tls()?;
            s.caps.clear();
            s.capability()?;
        } else if s.caps.is_empty() {
            s.capability()?;
        }
        Ok(s)
    }

    pub fn server(&self) -> String {
        self.conn.server().to_string()
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.conn.is_tls()
    }

    /// The capabilities the server announced (upper case).
    pub fn capabilities(&self) -> &[String] {
        &self.caps
    }

    pub fn has_cap(&self, cap: &str) -> bool {
        self.caps.iter().any(|c| c.eq_ignore_ascii_case(cap))
    }

    /// Commands and status answers so far (newest last; passwords never appear).
    pub fn take_log(&mut self) -> Vec<String> {
        self.log.drain(..).collect()
    }

    fn note(&mut self, line: String) {
        if self.log.len() >= LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(line);
    }

    /// Logs on. Plain-text passwords are only sent over plain text when the endpoint chose
    /// [`Security::Plain`] explicitly (the connection then is what was asked for).
    pub fn login(&mut self, cred: &Credentials) -> Result<()> {
        let server = self.server();
        let auth_err = |reason: String| Error::Auth {
            server: server.clone(),
            user: cred.user().to_string(),
            reason,
        };
        let plain = |s: &mut ImapSession,
                     authzid: Option<&str>,
                     user: &str,
                     password: &str|
         -> Result<()> {
            if !s.has_cap("AUTH=PLAIN") {
                return Err(Error::Unsupported {
                    server: s.server(),
                    what: "SASL PLAIN (AUTH=PLAIN), needed to log on for another mailbox".into(),
                });
            }
            let ir = crate::sasl::plain(authzid, user, password);
            let tag = if s.has_cap("SASL-IR") {
                s.send_secret(
                    &format!("AUTHENTICATE PLAIN {ir}"),
                    "AUTHENTICATE PLAIN ***",
                )?
            } else {
                let tag = s.send(&[Arg::Raw("AUTHENTICATE PLAIN")], "AUTHENTICATE")?;
                s.wait_continuation(&tag, "AUTHENTICATE")?;
                s.conn
                    .write_all(format!("{ir}\r\n").as_bytes(), "sending the credentials")?;
                s.note("(credentials sent)".into());
                tag
            };
            s.finish(&tag, "AUTHENTICATE", |_| Ok(())).map(|_| ())
        };
        let r = match cred {
            Credentials::Plain {
                authzid,
                user,
                password,
            } => plain(self, authzid.as_deref(), user, password),
            Credentials::Login { user, password } => {
                if self.has_cap("LOGINDISABLED") {
                    plain(self, None, user, password)
                } else {
                    let tag = self.send_login(user, password)?;
                    self.finish(&tag, "LOGIN", |_| Ok(())).map(|_| ())
                }
            }
        };
        match r {
            Ok(()) => {}
            Err(Error::Refused { reason, .. }) => return Err(auth_err(reason)),
            Err(e) => return Err(e),
        }
        // Capabilities change after logon; a server may have sent them in its OK.
        self.caps.clear();
        self.capability()?;
        Ok(())
    }

    /// `CAPABILITY`.
    pub fn capability(&mut self) -> Result<()> {
        let tag = self.send(&[Arg::Raw("CAPABILITY")], "CAPABILITY")?;
        self.finish(&tag, "CAPABILITY", |_| Ok(()))?;
        Ok(())
    }

    /// Every folder (`LIST "" "*"`), in the server's order.
    pub fn list(&mut self) -> Result<Vec<MailboxInfo>> {
        let tag = self.send(&[Arg::Raw("LIST \"\" \"*\"")], "LIST")?;
        let mut out = Vec::new();
        self.finish(&tag, "LIST", |r| {
            if let Response::Data(Data::List {
                items,
                delimiter,
                mailbox,
            }) = r
            {
                let raw = match mailbox {
                    Mailbox::Inbox => b"INBOX".to_vec(),
                    Mailbox::Other(o) => o.as_ref().to_vec(),
                };
                let name = utf7::decode(&raw)
                    .unwrap_or_else(|| String::from_utf8_lossy(&raw).into_owned());
                out.push(MailboxInfo {
                    name,
                    raw,
                    delimiter: delimiter.as_ref().map(|d| d.inner()),
                    attributes: items.iter().map(|a| a.to_string()).collect(),
                });
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// `STATUS name (MESSAGES UIDNEXT UIDVALIDITY)`.
    pub fn status(&mut self, raw: &[u8]) -> Result<MailboxStatus> {
        let tag = self.send(
            &[
                Arg::Raw("STATUS "),
                Arg::Str(raw),
                Arg::Raw(" (MESSAGES UIDNEXT UIDVALIDITY)"),
            ],
            "STATUS",
        )?;
        let mut st = MailboxStatus::default();
        self.finish(&tag, "STATUS", |r| {
            if let Response::Data(Data::Status { items, .. }) = r {
                for i in items.iter() {
                    match i {
                        StatusDataItem::Messages(n) => st.messages = *n,
                        StatusDataItem::UidNext(n) => st.uid_next = Some(n.get()),
                        StatusDataItem::UidValidity(n) => st.uid_validity = Some(n.get()),
                        _ => {}
                    }
                }
            }
            Ok(())
        })?;
        Ok(st)
    }

    /// Opens a folder read-only (`EXAMINE`): archiving never changes a flag.
    pub fn examine(&mut self, raw: &[u8]) -> Result<MailboxStatus> {
        self.open_folder("EXAMINE", raw)
    }

    /// Opens a folder for changes (`SELECT`), for deleting.
    pub fn select(&mut self, raw: &[u8]) -> Result<MailboxStatus> {
        self.open_folder("SELECT", raw)
    }

    fn open_folder(&mut self, verb: &str, raw: &[u8]) -> Result<MailboxStatus> {
        let cmd = format!("{verb} ");
        let tag = self.send(&[Arg::Raw(&cmd), Arg::Str(raw)], verb)?;
        let mut st = MailboxStatus::default();
        let ok = self.finish(&tag, verb, |r| {
            match r {
                Response::Data(Data::Exists(n)) => st.messages = *n,
                Response::Status(Status::Untagged(StatusBody {
                    code: Some(code), ..
                })) => match code {
                    Code::UidNext(n) => st.uid_next = Some(n.get()),
                    Code::UidValidity(n) => st.uid_validity = Some(n.get()),
                    _ => {}
                },
                _ => {}
            }
            Ok(())
        })?;
        let _ = ok;
        self.exists = st.messages;
        Ok(st)
    }

    /// UID, flags, size and date of every message of the open folder (an empty folder
    /// answers nothing).
    pub fn message_list(&mut self) -> Result<Vec<MessageMeta>> {
        if self.exists == 0 {
            return Ok(Vec::new());
        }
        self.message_list_of("1:*")
    }

    /// UID, flags, size and date of the messages with these UIDs (`UID FETCH set`).
    pub fn message_list_of(&mut self, uid_set: &str) -> Result<Vec<MessageMeta>> {
        let cmd = format!("UID FETCH {uid_set} (UID FLAGS RFC822.SIZE INTERNALDATE)");
        let tag = self.send(&[Arg::Raw(&cmd)], "UID FETCH")?;
        let mut out = Vec::new();
        self.finish(&tag, "UID FETCH", |r| {
            if let Response::Data(Data::Fetch { items, .. }) = r {
                let mut m = MessageMeta::default();
                for i in items.as_ref() {
                    match i {
                        MessageDataItem::Uid(u) => m.uid = u.get(),
                        MessageDataItem::Flags(f) => m.flags = flags(f),
                        MessageDataItem::Rfc822Size(n) => m.size = *n as u64,
                        MessageDataItem::InternalDate(d) => {
                            m.internal_date = Some(d.as_ref().timestamp())
                        }
                        _ => {}
                    }
                }
                if m.uid > 0 {
                    out.push(m);
                }
            }
            Ok(())
        })?;
        out.sort_by_key(|m| m.uid);
        out.dedup_by_key(|m| m.uid);
        Ok(out)
    }

    /// Fetches the bodies of `uids` of the open folder with `BODY.PEEK[]`, one at a time
    /// through the returned stream. `max_size` bounds every literal the server may send.
    /// UIDs the server does not answer for (deleted meanwhile) are simply not yielded; the
    /// stream's [`BodyStream::missing`] lists them at the end.
    pub fn fetch_bodies(&mut self, uids: &[u32], max_size: u64) -> Result<BodyStream<'_>> {
        let fetch = self.start_fetch(uids, max_size)?;
        Ok(BodyStream {
            session: self,
            fetch,
        })
    }

    /// [`ImapSession::fetch_bodies`] without holding the session: the caller passes it to
    /// [`Fetch::next`] (for iterators that own both).
    pub fn start_fetch(&mut self, uids: &[u32], max_size: u64) -> Result<Fetch> {
        let set = uid_set(uids);
        let cmd = format!("UID FETCH {set} (UID BODY.PEEK[])");
        let tag = self.send(&[Arg::Raw(&cmd)], "UID FETCH")?;
        Ok(Fetch {
            tag,
            wanted: uids.iter().copied().collect(),
            limits: Limits {
                max_line: Limits::SMALL.max_line,
                max_literal: max_size,
            },
            done: false,
        })
    }

    /// Deletes messages of the selected folder: marks them `\Deleted` and, with UIDPLUS,
    /// expunges exactly them. Without UIDPLUS they are expunged only when no other message
    /// of the folder is marked `\Deleted`.
    pub fn delete(&mut self, uids: &[u32]) -> Result<Deleted> {
        let mut out = Deleted::default();
        if uids.is_empty() {
            return Ok(out);
        }
        for chunk in uids.chunks(500) {
            let set = uid_set(chunk);
            let cmd = format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)");
            let tag = self.send(&[Arg::Raw(&cmd)], "UID STORE")?;
            self.finish(&tag, "UID STORE", |_| Ok(()))?;
            if self.has_cap("UIDPLUS") {
                let cmd = format!("UID EXPUNGE {set}");
                let tag = self.send(&[Arg::Raw(&cmd)], "UID EXPUNGE")?;
                self.finish(&tag, "UID EXPUNGE", |_| Ok(()))?;
                out.expunged.extend_from_slice(chunk);
            } else {
                out.marked_only.extend_from_slice(chunk);
            }
        }
        if !out.marked_only.is_empty() {
            let tag = self.send(&[Arg::Raw("UID SEARCH DELETED")], "UID SEARCH")?;
            let mut marked = Vec::new();
            self.finish(&tag, "UID SEARCH", |r| {
                if let Response::Data(Data::Search(ids, ..)) = r {
                    marked.extend(ids.iter().map(|n| n.get()));
                }
                Ok(())
            })?;
            let ours: std::collections::HashSet<u32> = out.marked_only.iter().copied().collect();
            if marked.iter().all(|u| ours.contains(u)) {
                let tag = self.send(&[Arg::Raw("EXPUNGE")], "EXPUNGE")?;
                self.finish(&tag, "EXPUNGE", |_| Ok(()))?;
                out.expunged.append(&mut out.marked_only);
            }
        }
        Ok(out)
    }

    /// `NOOP` (keeps the connection alive; lets the server report changes).
    pub fn noop(&mut self) -> Result<()> {
        let tag = self.send(&[Arg::Raw("NOOP")], "NOOP")?;
        self.finish(&tag, "NOOP", |_| Ok(()))?;
        Ok(())
    }

    /// `LOGOUT`; errors are ignored (the work is done).
    pub fn logout(mut self) {
        if let Ok(tag) = self.send(&[Arg::Raw("LOGOUT")], "LOGOUT") {
            let _ = self.finish(&tag, "LOGOUT", |_| Ok(()));
        }
        self.conn.shutdown();
    }

    // --- the wire ---

    fn greeting(&mut self) -> Result<()> {
        let frame = self.read_frame(&Limits::SMALL, "waiting for the greeting")?;
        let g = match GreetingCodec::default().decode(&frame.bytes) {
            Ok((_, g)) => g,
            Err(_) => {
                self.conn.shutdown();
                return Err(Error::Protocol {
                    server: self.server(),
                    what: format!("not an IMAP greeting: {}", printable(&frame.bytes, 120)),
                });
            }
        };
        self.note(format!("S: {}", printable(&frame.bytes, 200)));
        if let Some(Code::Capability(c)) = &g.code {
            self.caps = caps(c);
        }
        match g.kind {
            GreetingKind::Ok => Ok(()),
            GreetingKind::PreAuth => Ok(()),
            GreetingKind::Bye => Err(Error::Refused {
                server: self.server(),
                command: "the connection".into(),
                reason: g.text.to_string(),
            }),
        }
    }

    fn tag(&mut self) -> String {
        let t = format!("A{}", self.next_tag);
        self.next_tag += 1;
        t
    }

    /// Writes a command; literals are synchronizing unless the server offers LITERAL+.
    fn send(&mut self, args: &[Arg<'_>], what: &str) -> Result<String> {
        let tag = self.tag();
        let mut line = format!("{tag} ").into_bytes();
        let mut shown = format!("C: {tag} ");
        for a in args {
            match a {
                Arg::Raw(s) => {
                    line.extend_from_slice(s.as_bytes());
                    shown.push_str(s);
                }
                Arg::Str(b) => {
                    shown.push_str(&printable(b, 100));
                    match astring(b) {
                        Some(text) => line.extend_from_slice(&text),
                        None => {
                            let plus = self.has_cap("LITERAL+");
                            line.extend_from_slice(
                                format!("{{{}{}}}\r\n", b.len(), if plus { "+" } else { "" })
                                    .as_bytes(),
                            );
                            if !plus {
                                self.conn.write_all(&line, what)?;
                                line.clear();
                                self.wait_continuation(&tag, what)?;
                            }
                            line.extend_from_slice(b);
                        }
                    }
                }
            }
        }
        line.extend_from_slice(b"\r\n");
        self.note(shown);
        self.conn.write_all(&line, what)?;
        Ok(tag)
    }

    fn send_secret(&mut self, text: &str, shown: &str) -> Result<String> {
        let tag = self.tag();
        self.note(format!("C: {tag} {shown}"));
        self.conn
            .write_all(format!("{tag} {text}\r\n").as_bytes(), "logging on")?;
        Ok(tag)
    }

    fn send_login(&mut self, user: &str, password: &str) -> Result<String> {
        let tag = self.tag();
        self.note(format!(
            "C: {tag} LOGIN {} ***",
            printable(user.as_bytes(), 100)
        ));
        let mut pieces: Vec<Vec<u8>> = vec![format!("{tag} LOGIN ").into_bytes()];
        let plus = self.has_cap("LITERAL+");
        let push = |pieces: &mut Vec<Vec<u8>>, s: &[u8], last: bool| {
            let cur = pieces.last_mut().expect("one piece");
            match astring(s) {
                Some(t) => cur.extend_from_slice(&t),
                None => {
                    cur.extend_from_slice(
                        format!("{{{}{}}}\r\n", s.len(), if plus { "+" } else { "" }).as_bytes(),
                    );
                    if plus {
                        cur.extend_from_slice(s);
                    } else {
                        pieces.push(s.to_vec());
                    }
                }
            }
            let cur = pieces.last_mut().expect("one piece");
            cur.extend_from_slice(if last { b"\r\n" } else { b" " });
        };
        push(&mut pieces, user.as_bytes(), false);
        push(&mut pieces, password.as_bytes(), true);
        let n = pieces.len();
        for (i, p) in pieces.into_iter().enumerate() {
            self.conn.write_all(&p, "logging on")?;
            if i + 1 < n {
                self.wait_continuation(&tag, "LOGIN")?;
            }
        }
        Ok(tag)
    }

    /// Waits for `+` after a synchronizing literal or `AUTHENTICATE`.
    fn wait_continuation(&mut self, tag: &str, what: &str) -> Result<()> {
        loop {
            let frame = self.read_frame(&Limits::SMALL, what)?;
            if frame.bytes.starts_with(b"+") {
                return Ok(());
            }
            if frame.bytes.starts_with(format!("{tag} ").as_bytes()) {
                let text = printable(&frame.bytes[tag.len() + 1..], 300);
                self.note(format!("S: {tag} {text}"));
                return Err(Error::Refused {
                    server: self.server(),
                    command: what.to_string(),
                    reason: text,
                });
            }
            // Untagged data before the continuation: ignored.
        }
    }

    fn read_frame(&mut self, limits: &Limits, doing: &str) -> Result<Frame> {
        let budget =
            self.conn.timeout() * 2 + Duration::from_secs(limits.max_literal / (64 * 1024));
        self.conn.set_deadline(Some(budget));
        loop {
            match self.framer.next(limits) {
                Ok(Some(f)) => {
                    self.conn.set_deadline(None);
                    return Ok(f);
                }
                Ok(None) => {
                    let room = if self.framer.literal_pending() > 0 {
                        (self.framer.literal_pending() as usize).clamp(4096, 1 << 20)
                    } else {
                        64 * 1024
                    };
                    let conn = &mut self.conn;
                    self.framer.read_with(room, |buf| conn.read(buf, doing))?;
                }
                Err(e) => {
                    self.conn.shutdown();
                    return Err(match e {
                        FrameError::LineTooLong { limit } => Error::TooLarge {
                            server: self.server(),
                            size: limit as u64,
                            limit: limit as u64,
                            what: format!("a line without end while {doing}"),
                        },
                        FrameError::LiteralTooLarge { size, limit, line } => Error::TooLarge {
                            server: self.server(),
                            size,
                            limit,
                            what: format!("a literal in '{}'", printable(&line, 80)),
                        },
                    });
                }
            }
        }
    }

    /// Reads responses until the tagged one for `tag`; hands every decoded untagged one to
    /// `on`. A tagged `NO`/`BAD` is [`Error::Refused`].
    fn finish(
        &mut self,
        tag: &str,
        command: &str,
        mut on: impl FnMut(&Response<'_>) -> Result<()>,
    ) -> Result<String> {
        self.finish_with(tag, command, &Limits::SMALL, |_, r| on(r))
    }

    fn finish_with(
        &mut self,
        tag: &str,
        command: &str,
        limits: &Limits,
        mut on: impl FnMut(&Frame, &Response<'_>) -> Result<()>,
    ) -> Result<String> {
        let doing = format!("waiting for the answer to {command}");
        loop {
            let frame = self.read_frame(limits, &doing)?;
            match self.handle(&frame, tag, command, &mut on)? {
                Some(text) => return Ok(text),
                None => continue,
            }
        }
    }

    /// Handles one response: `Some(text)` when it was the tagged OK for `tag`.
    fn handle(
        &mut self,
        frame: &Frame,
        tag: &str,
        command: &str,
        on: &mut impl FnMut(&Frame, &Response<'_>) -> Result<()>,
    ) -> Result<Option<String>> {
        let decoded = ResponseCodec::default().decode(&frame.bytes);
        let resp = match decoded {
            Ok((_, r)) => r,
            Err(_) => {
                // A tagged completion imap-codec cannot read is still a completion.
                if let Some(rest) = frame.bytes.strip_prefix(format!("{tag} ").as_bytes()) {
                    let text = printable(rest, 300);
                    self.note(format!("S: {tag} {text}"));
                    let upper = text.to_ascii_uppercase();
                    if upper.starts_with("OK") {
                        return Ok(Some(text));
                    }
                    return Err(Error::Refused {
                        server: self.server(),
                        command: command.to_string(),
                        reason: text,
                    });
                }
                if frame.bytes.starts_with(b"* BYE") {
                    self.conn.shutdown();
                    return Err(Error::Closed {
                        server: self.server(),
                        doing: format!(
                            "{command} (the server said {})",
                            printable(&frame.bytes, 200)
                        ),
                    });
                }
                self.note(format!(
                    "S: (unreadable, ignored) {}",
                    printable(&frame.bytes, 120)
                ));
                return Ok(None);
            }
        };
        match &resp {
            Response::Status(Status::Tagged(t)) if t.tag.inner() == tag => {
                self.note(format!("S: {}", printable(&frame.bytes, 300)));
                if let Some(Code::Capability(c)) = &t.body.code {
                    self.caps = caps(c);
                }
                let text = t.body.text.to_string();
                return match t.body.kind {
                    StatusKind::Ok => Ok(Some(text)),
                    StatusKind::No | StatusKind::Bad => {
                        // The server's words with their response code (`[OVERQUOTA] ...`).
                        let line = printable(&frame.bytes[tag.len() + 1..], 300);
                        let reason = line
                            .split_once(' ')
                            .map(|(_, r)| r.to_string())
                            .unwrap_or(line);
                        Err(Error::Refused {
                            server: self.server(),
                            command: command.to_string(),
                            reason,
                        })
                    }
                };
            }
            Response::Status(Status::Bye(b)) => {
                self.note(format!("S: {}", printable(&frame.bytes, 300)));
                if command != "LOGOUT" {
                    self.conn.shutdown();
                    return Err(Error::Closed {
                        server: self.server(),
                        doing: format!("{command} (the server said BYE: {})", b.text),
                    });
                }
            }
            Response::Status(Status::Untagged(b)) => {
                if let Some(Code::Capability(c)) = &b.code {
                    self.caps = caps(c);
                }
            }
            Response::Data(Data::Capability(c)) => self.caps = caps(c),
            Response::Data(Data::Exists(n)) => self.exists = *n,
            _ => {}
        }
        on(frame, &resp)?;
        Ok(None)
    }
}

/// The bodies of one `UID FETCH`, one message at a time.
pub struct BodyStream<'s> {
    session: &'s mut ImapSession,
    fetch: Fetch,
}

impl BodyStream<'_> {
    /// The requested UIDs not yielded (so far; after the end: the ones the server no longer
    /// has).
    pub fn missing(&self) -> Vec<u32> {
        self.fetch.missing()
    }

    /// The next message, `None` at the end of the answer.
    pub fn next_message(&mut self) -> Result<Option<Fetched>> {
        self.fetch.next(self.session)
    }
}

/// A `UID FETCH` of bodies in progress.
pub struct Fetch {
    tag: String,
    wanted: std::collections::BTreeSet<u32>,
    limits: Limits,
    done: bool,
}

impl Fetch {
    /// The requested UIDs not yielded yet.
    pub fn missing(&self) -> Vec<u32> {
        self.wanted.iter().copied().collect()
    }

    /// Whether the server's answer is complete.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next message, `None` at the end of the answer.
    pub fn next(&mut self, session: &mut ImapSession) -> Result<Option<Fetched>> {
        if self.done {
            return Ok(None);
        }
        loop {
            let frame = session.read_frame(&self.limits, "receiving messages")?;
            let mut got: Option<Fetched> = None;
            let tag = self.tag.clone();
            let r = session.handle(&frame, &tag, "UID FETCH", &mut |_, resp| {
                if let Response::Data(Data::Fetch { items, .. }) = resp {
                    got = fetched(items);
                }
                Ok(())
            });
            match r {
                Ok(Some(_)) => {
                    self.done = true;
                    return Ok(None);
                }
                Ok(None) => {}
                Err(Error::Refused { reason, .. }) if !self.wanted.is_empty() => {
                    // "Some of the requested messages no longer exist": what came is kept,
                    // the rest is reported missing.
                    session.note(format!("S: (fetch ended with NO: {reason})"));
                    self.done = true;
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
            if got.is_none() && is_fetch(&frame.bytes) {
                got = fallback_fetch(&frame);
            }
            if let Some(f) = got
                && self.wanted.remove(&f.uid)
            {
                return Ok(Some(f));
            }
            // Flag updates and other unsolicited data: not a body we asked for.
        }
    }
}
