//! One IMAP connection's state and its answers to commands, apart from the socket: the
//! connection hands in each command the framer cut out ([`super::frame`]), decoded here with
//! imap-codec, and writes what comes back.
//!
//! The not-authenticated state (RFC 3501 §6.1–6.2): CAPABILITY, NOOP, LOGOUT, ID, STARTTLS,
//! LOGIN and AUTHENTICATE PLAIN (with SASL-IR or a continuation). Signed in: NAMESPACE,
//! LIST, LSUB, STATUS, SELECT and EXAMINE (every mailbox `[READ-ONLY]`, [`super::mailbox`]),
//! CHECK, NOOP and IDLE (which report new and removed mail), CLOSE, UNSELECT, ENABLE, FETCH /
//! UID FETCH ([`super::fetch`]) and SEARCH / UID SEARCH / ESEARCH / SORT ([`super::search`]).
//! No password travels in plain text: before TLS, LOGIN and AUTHENTICATE answer NO and the
//! capabilities say LOGINDISABLED. A logon is Arkiv's (`Archive::authenticate` through
//! `api::logon`: the same lockout and audit as the other doors); the user needs `login`.
//! Commands that write (APPEND, STORE, COPY, MOVE, EXPUNGE, CREATE, DELETE, RENAME) answer
//! NO: the archive is read-only here.

use std::net::IpAddr;
use std::sync::Arc;

use arkiv_archive::access::{Caller, Via};
use imap_codec::decode::{AuthenticateDataDecodeError, CommandDecodeError, Decoder};
use imap_codec::imap_types::auth::{AuthMechanism, AuthenticateData};
use imap_codec::imap_types::command::CommandBody;
use imap_codec::{AuthenticateDataCodec, CommandCodec};

use crate::AppState;
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox as WireMailbox};
use imap_codec::imap_types::status::StatusDataItemName;

use super::{fetch, mailbox, search};

/// The mailbox a session has selected, as it was when selected (mail archived since then
/// appears at the next SELECT).
#[derive(Clone)]
pub struct Selected {
    pub name: String,
    /// The archive folder (none for the empty INBOX of an archive without one).
    pub folder: Option<arkiv_types::FolderId>,
    pub uid_validity: u32,
    pub uid_next: u32,
    /// Shared with running FETCHes (a command does not copy the list).
    pub messages: Arc<Vec<(u32, arkiv_types::MessageId)>>,
}

/// An answer: bytes, or (FETCH) a stream of them, one message at a time.
pub enum Reply {
    Bytes(Vec<u8>),
    Stream(tokio::sync::mpsc::Receiver<Vec<u8>>),
}

impl From<Vec<u8>> for Reply {
    fn from(b: Vec<u8>) -> Reply {
        Reply::Bytes(b)
    }
}

/// What the connection does after sending the answer.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    Continue,
    /// Start TLS on the connection now (the OK was the last plain-text byte).
    StartTls,
    /// The next line is the client's answer to an AUTHENTICATE continuation.
    AuthenticateData,
    /// IDLE: report changes to the selected mailbox until the client says DONE.
    Idle,
    Close,
}

pub struct Session {
    state: Arc<AppState>,
    peer: IpAddr,
    tls: bool,
    caller: Option<Caller>,
    /// The tag of an AUTHENTICATE waiting for its data.
    authenticating: Option<String>,
    selected: Option<Selected>,
    /// The tag of an IDLE waiting for DONE.
    idling: Option<String>,
}

/// A text for a status line: one line, printable.
fn text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The tag of a command that did not decode, when one can be read (else `*`).
fn tag_of(bytes: &[u8]) -> String {
    super::frame::command_tag(bytes)
        .map_or_else(|| "*".into(), |t| String::from_utf8_lossy(t).into_owned())
}

impl Session {
    pub fn new(state: Arc<AppState>, peer: IpAddr, tls: bool) -> Session {
        Session {
            state,
            peer,
            tls,
            caller: None,
            authenticating: None,
            selected: None,
            idling: None,
        }
    }

    /// Who is signed in, if anyone.
    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    /// The capabilities in this state.
    fn capabilities(&self) -> String {
        let mut c = vec![
            "IMAP4rev1",
            "ID",
            "NAMESPACE",
            "UNSELECT",
            "IDLE",
            "ENABLE",
            "ESEARCH",
            "SORT",
        ];
        if self.caller.is_none() {
            if self.tls {
                c.extend(["AUTH=PLAIN", "SASL-IR"]);
            } else {
                c.extend(["STARTTLS", "LOGINDISABLED"]);
            }
        }
        c.join(" ")
    }

    pub fn greeting(&self) -> Vec<u8> {
        format!(
            "* OK [CAPABILITY {}] Arkiv IMAP ready: the archive, read-only\r\n",
            self.capabilities()
        )
        .into_bytes()
    }

    /// TLS is on now (after STARTTLS).
    pub fn tls_started(&mut self) {
        self.tls = true;
    }

    /// Answers one complete command.
    pub async fn command(&mut self, bytes: &[u8]) -> (Reply, After) {
        if let Some(tag) = self.idling.take() {
            let line = bytes.strip_suffix(b"\r\n").or(bytes.strip_suffix(b"\n"));
            let out = if line.is_some_and(|l| l.eq_ignore_ascii_case(b"DONE")) {
                format!("{tag} OK IDLE terminated\r\n")
            } else {
                format!("{tag} BAD IDLE ends with DONE; IDLE terminated\r\n")
            };
            return (Reply::Bytes(out.into_bytes()), After::Continue);
        }
        if self.authenticating.is_some() {
            let (out, after) = self.authenticate_data(bytes).await;
            return (out.into(), after);
        }
        let mut stream = None;
        let (out, after) = self.answer(bytes, &mut stream).await;
        match stream {
            Some(rx) => (Reply::Stream(rx), after),
            None => (Reply::Bytes(out), after),
        }
    }

    /// The answer as bytes, or (FETCH) nothing and the stream in `stream`.
    async fn answer(
        &mut self,
        bytes: &[u8],
        stream: &mut Option<tokio::sync::mpsc::Receiver<Vec<u8>>>,
    ) -> (Vec<u8>, After) {
        // An extended SEARCH's RETURN options are taken out; the rest decodes as SEARCH.
        let split = search::split_return(bytes);
        let (bytes, ret) = match &split {
            Some((b, o)) => (&b[..], Some(o.clone())),
            None => (bytes, None),
        };
        let cmd = match CommandCodec::default().decode(bytes) {
            Ok((_, cmd)) => cmd,
            Err(CommandDecodeError::Incomplete | CommandDecodeError::LiteralFound { .. }) => {
                return (
                    format!("{} BAD incomplete command\r\n", tag_of(bytes)).into_bytes(),
                    After::Continue,
                );
            }
            Err(CommandDecodeError::Failed) => {
                return (
                    format!(
                        "{} BAD not a command this server understands\r\n",
                        tag_of(bytes)
                    )
                    .into_bytes(),
                    After::Continue,
                );
            }
        };
        let tag = cmd.tag.inner().to_string();
        let ok = |t: &str| format!("{tag} OK {}\r\n", text(t)).into_bytes();
        let no = |t: &str| format!("{tag} NO {}\r\n", text(t)).into_bytes();
        let bad = |t: &str| format!("{tag} BAD {}\r\n", text(t)).into_bytes();
        match cmd.body {
            CommandBody::Capability => {
                let mut out = format!("* CAPABILITY {}\r\n", self.capabilities()).into_bytes();
                out.extend(ok("CAPABILITY completed"));
                (out, After::Continue)
            }
            CommandBody::Noop if self.selected.is_none() => (ok("NOOP completed"), After::Continue),
            CommandBody::Logout => {
                let mut out = b"* BYE Arkiv IMAP signing off\r\n".to_vec();
                out.extend(ok("LOGOUT completed"));
                (out, After::Close)
            }
            CommandBody::Id { .. } => {
                let mut out = format!(
                    "* ID (\"name\" \"Arkiv\" \"version\" \"{}\")\r\n",
                    env!("CARGO_PKG_VERSION")
                )
                .into_bytes();
                out.extend(ok("ID completed"));
                (out, After::Continue)
            }
            CommandBody::StartTLS if self.tls => (bad("TLS is already on"), After::Continue),
            CommandBody::StartTLS => (ok("begin TLS negotiation now"), After::StartTls),
            CommandBody::Login { .. } | CommandBody::Authenticate { .. }
                if self.caller.is_some() =>
            {
                (bad("already signed in"), After::Continue)
            }
            CommandBody::Login { .. } | CommandBody::Authenticate { .. } if !self.tls => (
                format!(
                    "{tag} NO [PRIVACYREQUIRED] no sign-in over plain text: STARTTLS first (or the implicit-TLS port)\r\n"
                )
                .into_bytes(),
                After::Continue,
            ),
            CommandBody::Login { username, password } => {
                let user = String::from_utf8_lossy(username.as_ref()).into_owned();
                let pw = String::from_utf8_lossy(password.declassify().as_ref()).into_owned();
                (self.logon(&tag, &user, &pw).await, After::Continue)
            }
            CommandBody::Authenticate {
                mechanism: AuthMechanism::Plain,
                initial_response,
            } => match initial_response {
                Some(data) => {
                    let data = data.declassify().to_vec();
                    (self.plain(&tag, &data).await, After::Continue)
                }
                None => {
                    self.authenticating = Some(tag);
                    (b"+ \r\n".to_vec(), After::AuthenticateData)
                }
            },
            CommandBody::Authenticate { .. } => (
                no("only AUTHENTICATE PLAIN is offered (after TLS)"),
                After::Continue,
            ),
            CommandBody::Append { .. }
            | CommandBody::Store { .. }
            | CommandBody::Copy { .. }
            | CommandBody::Move { .. }
            | CommandBody::Expunge
            | CommandBody::ExpungeUid { .. }
            | CommandBody::Create { .. }
            | CommandBody::Delete { .. }
            | CommandBody::Rename { .. } => (
                format!("{tag} NO [CANNOT] the archive is read-only: nothing in it can be changed over IMAP\r\n")
                    .into_bytes(),
                After::Continue,
            ),
            _ if self.caller.is_none() => {
                (bad("sign in first (LOGIN or AUTHENTICATE PLAIN)"), After::Continue)
            }
            CommandBody::Enable { .. } => (
                format!("* ENABLED\r\n{tag} OK nothing to enable: no extension here needs it\r\n")
                    .into_bytes(),
                After::Continue,
            ),
            CommandBody::Idle => {
                if self.selected.is_none() {
                    return (bad("select a mailbox first"), After::Continue);
                }
                self.idling = Some(tag);
                (b"+ idling\r\n".to_vec(), After::Idle)
            }
            CommandBody::Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
                ..
            } => {
                let (Some(sel), Some(caller)) = (self.selected.as_ref(), self.caller.clone())
                else {
                    return (bad("select a mailbox first"), After::Continue);
                };
                // One message's answer at a time through a small channel: the connection's
                // memory stays bounded however much is asked for.
                let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
                let (st, messages) = (self.state.clone(), sel.messages.clone());
                let (set, req) = (sequence_set, macro_or_item_names.into_static());
                let t = tag.clone();
                tokio::task::spawn_blocking(move || {
                    let r = fetch::fetch(&st, &caller, &messages, &set, uid, &req, &mut |chunk| {
                        tx.blocking_send(chunk).is_ok()
                    });
                    let last = match r {
                        Ok(()) => format!("{t} OK FETCH completed\r\n"),
                        Err(e) => format!("{t} NO {}\r\n", text(&e)),
                    };
                    let _ = tx.blocking_send(last.into_bytes());
                });
                *stream = Some(rx);
                (Vec::new(), After::Continue)
            }
            body => {
                // The archive's work runs off the async workers.
                let (st, caller) = (self.state.clone(), self.caller.clone());
                let mut selected = self.selected.take();
                let body = body.into_static();
                let t = tag.clone();
                let r = tokio::task::spawn_blocking(move || {
                    let out = match caller {
                        Some(c) => signed_in(&st, &c, &mut selected, &t, body, ret.as_deref()),
                        None => Vec::new(),
                    };
                    (out, selected)
                })
                .await;
                match r {
                    Ok((out, selected)) => {
                        self.selected = selected;
                        (out, After::Continue)
                    }
                    Err(_) => (no("the command failed unexpectedly"), After::Continue),
                }
            }
        }
    }

    /// The client's answer to an AUTHENTICATE continuation (one base64 line, or `*`).
    async fn authenticate_data(&mut self, bytes: &[u8]) -> (Vec<u8>, After) {
        let tag = self.authenticating.take().unwrap_or_else(|| "*".into());
        match AuthenticateDataCodec::default().decode(bytes) {
            Ok((_, AuthenticateData::Continue(data))) => {
                let data = data.declassify().to_vec();
                (self.plain(&tag, &data).await, After::Continue)
            }
            Ok((_, AuthenticateData::Cancel)) => (
                format!("{tag} BAD AUTHENTICATE cancelled\r\n").into_bytes(),
                After::Continue,
            ),
            Err(AuthenticateDataDecodeError::Incomplete | AuthenticateDataDecodeError::Failed) => (
                format!("{tag} BAD the AUTHENTICATE data is not base64\r\n").into_bytes(),
                After::Continue,
            ),
        }
    }

    /// SASL PLAIN (RFC 4616): `authzid NUL authcid NUL password`; acting as another user
    /// (an authzid that differs) is not offered.
    async fn plain(&mut self, tag: &str, data: &[u8]) -> Vec<u8> {
        let parts: Vec<&[u8]> = data.split(|b| *b == 0).collect();
        let [authz, user, pw] = parts[..] else {
            return format!(
                "{tag} BAD AUTHENTICATE PLAIN data is authzid NUL user NUL password\r\n"
            )
            .into_bytes();
        };
        let (user, pw) = (
            String::from_utf8_lossy(user).into_owned(),
            String::from_utf8_lossy(pw).into_owned(),
        );
        if !authz.is_empty() && authz != user.as_bytes() {
            return format!(
                "{tag} NO [AUTHORIZATIONFAILED] signing in as another user is not offered\r\n"
            )
            .into_bytes();
        }
        self.logon(tag, &user, &pw).await
    }

    async fn logon(&mut self, tag: &str, user: &str, password: &str) -> Vec<u8> {
        let caller = match crate::api::logon(
            &self.state,
            user,
            password,
            self.peer,
            Via::Imap,
            "imap logon",
        )
        .await
        {
            Ok(c) => c,
            Err(e) if e.status == axum::http::StatusCode::TOO_MANY_REQUESTS => {
                return format!("{tag} NO [UNAVAILABLE] {}\r\n", text(&e.message)).into_bytes();
            }
            Err(e) if e.status == axum::http::StatusCode::UNAUTHORIZED => {
                return format!("{tag} NO [AUTHENTICATIONFAILED] wrong user name or password\r\n")
                    .into_bytes();
            }
            Err(e) => {
                return format!("{tag} NO [UNAVAILABLE] {}\r\n", text(&e.message)).into_bytes();
            }
        };
        let (state, peer) = (self.state.clone(), self.peer);
        let name = caller.name().to_string();
        let audit = async |outcome: &str| {
            crate::api::audit(&state, &name, peer, Via::Imap, "imap logon", &[], outcome).await
        };
        if let Err(why) = crate::web::may_log_on(&self.state, &caller) {
            let _ = audit(&format!("refused: {why}")).await;
            return format!(
                "{tag} NO [NOPERM] '{}' may not sign in: {}\r\n",
                text(caller.name()),
                text(&why)
            )
            .into_bytes();
        }
        if let Err(e) = audit("succeeded").await {
            return format!("{tag} NO [UNAVAILABLE] {}\r\n", text(&e.message)).into_bytes();
        }
        self.caller = Some(caller);
        format!(
            "{tag} OK [CAPABILITY {}] signed in; the archive is read-only\r\n",
            self.capabilities()
        )
        .into_bytes()
    }
}

fn wire_name(m: &WireMailbox<'_>) -> Vec<u8> {
    match m {
        WireMailbox::Inbox => b"INBOX".to_vec(),
        WireMailbox::Other(o) => o.as_ref().to_vec(),
    }
}

fn list_pattern(m: &ListMailbox<'_>) -> Vec<u8> {
    match m {
        ListMailbox::Token(t) => t.as_ref().to_vec(),
        ListMailbox::String(s) => s.as_ref().to_vec(),
    }
}

/// The commands of the authenticated and selected states (a blocking thread).
fn signed_in(
    st: &AppState,
    caller: &Caller,
    selected: &mut Option<Selected>,
    tag: &str,
    body: CommandBody<'static>,
    ret: Option<&[String]>,
) -> Vec<u8> {
    let ok = |t: &str| format!("{tag} OK {}\r\n", text(t)).into_bytes();
    let no = |t: &str| format!("{tag} NO {}\r\n", text(t)).into_bytes();
    let bad = |t: &str| format!("{tag} BAD {}\r\n", text(t)).into_bytes();
    let mailboxes = || mailbox::list(st, caller);
    let lsub = matches!(&body, CommandBody::Lsub { .. });
    match body {
        CommandBody::Namespace => {
            let mut out = format!(
                "* NAMESPACE ((\"\" \"/\")) ((\"{}/\" \"/\")) NIL\r\n",
                mailbox::OTHERS
            )
            .into_bytes();
            out.extend(ok("NAMESPACE completed"));
            out
        }
        CommandBody::List {
            reference,
            mailbox_wildcard,
        }
        | CommandBody::Lsub {
            reference,
            mailbox_wildcard,
        } => {
            let list = match mailboxes() {
                Ok(l) => l,
                Err(e) => return no(&e),
            };
            let (Some(r), Some(p)) = (
                arkiv_mailclient::imap::utf7::decode(&wire_name(&reference)),
                arkiv_mailclient::imap::utf7::decode(&list_pattern(&mailbox_wildcard)),
            ) else {
                return bad("the mailbox name is not modified UTF-7");
            };
            let mut out =
                mailbox::list_lines(&list, &r, &p, if lsub { "LSUB" } else { "LIST" }).into_bytes();
            out.extend(ok(if lsub {
                "LSUB completed"
            } else {
                "LIST completed"
            }));
            out
        }
        CommandBody::Status {
            mailbox: name,
            item_names,
        } => {
            let list = match mailboxes() {
                Ok(l) => l,
                Err(e) => return no(&e),
            };
            let Some(m) = mailbox::find(&list, &wire_name(&name)) else {
                return format!("{tag} NO [NONEXISTENT] no such mailbox\r\n").into_bytes();
            };
            let (count, validity, next) = match m.folder {
                Some(f) => match st.archive.uid_view(f) {
                    Ok(v) => (v.messages.len(), v.uid_validity, v.uid_next),
                    Err(e) => return no(&e.to_string()),
                },
                None => (0, 1, 1),
            };
            let parts: Vec<String> = item_names
                .iter()
                .filter_map(|i| match i {
                    StatusDataItemName::Messages => Some(format!("MESSAGES {count}")),
                    StatusDataItemName::Recent => Some("RECENT 0".into()),
                    StatusDataItemName::UidNext => Some(format!("UIDNEXT {next}")),
                    StatusDataItemName::UidValidity => Some(format!("UIDVALIDITY {validity}")),
                    StatusDataItemName::Unseen => Some("UNSEEN 0".into()),
                    _ => None,
                })
                .collect();
            let mut out = format!(
                "* STATUS {} ({})\r\n",
                mailbox::quote(&arkiv_mailclient::imap::utf7::encode(&m.name)),
                parts.join(" ")
            )
            .into_bytes();
            out.extend(ok("STATUS completed"));
            out
        }
        CommandBody::Select { mailbox: name, .. } | CommandBody::Examine { mailbox: name, .. } => {
            *selected = None;
            let list = match mailboxes() {
                Ok(l) => l,
                Err(e) => return no(&e),
            };
            let Some(m) = mailbox::find(&list, &wire_name(&name)) else {
                return format!("{tag} NO [NONEXISTENT] no such mailbox\r\n").into_bytes();
            };
            let view = match m.folder {
                Some(f) => match st.archive.uid_view(f) {
                    Ok(v) => v,
                    Err(e) => return no(&e.to_string()),
                },
                None => arkiv_archive::uids::UidView {
                    uid_validity: 1,
                    uid_next: 1,
                    messages: Vec::new(),
                },
            };
            let out = format!(
                "* FLAGS (\\Seen)\r\n* OK [PERMANENTFLAGS ()] nothing can be changed\r\n* {} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY {}] UIDs valid\r\n* OK [UIDNEXT {}] predicted next UID\r\n{tag} OK [READ-ONLY] {} selected; the archive is read-only\r\n",
                view.messages.len(),
                view.uid_validity,
                view.uid_next,
                text(&m.name)
            );
            *selected = Some(Selected {
                name: m.name.clone(),
                folder: m.folder,
                uid_validity: view.uid_validity,
                uid_next: view.uid_next,
                messages: Arc::new(view.messages),
            });
            out.into_bytes()
        }
        CommandBody::Check | CommandBody::Noop => {
            let mut out = changes(st, selected);
            out.extend(ok("completed"));
            out
        }
        CommandBody::Search {
            charset,
            criteria,
            uid,
        } => {
            let Some(sel) = selected.as_ref() else {
                return bad("select a mailbox first");
            };
            if let Some(c) = &charset
                && !["UTF-8", "US-ASCII"]
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(c.as_ref()))
            {
                return format!("{tag} NO [BADCHARSET (UTF-8 US-ASCII)] only UTF-8 is offered\r\n")
                    .into_bytes();
            }
            let found =
                match search::search(st, caller, sel.folder, &sel.messages, criteria.as_ref()) {
                    Ok(f) => f,
                    Err(e) => return no(&e),
                };
            let nums: Vec<u32> = found
                .iter()
                .enumerate()
                .filter(|(_, f)| **f)
                .map(|(i, _)| if uid { sel.messages[i].0 } else { i as u32 + 1 })
                .collect();
            match search::answer(tag, &nums, uid, ret) {
                Ok(line) => {
                    let mut out = line.into_bytes();
                    out.extend(ok("SEARCH completed (from the index)"));
                    out
                }
                Err(e) => bad(&e),
            }
        }
        CommandBody::Sort {
            sort_criteria,
            charset,
            search_criteria,
            uid,
        } => {
            let Some(sel) = selected.as_ref() else {
                return bad("select a mailbox first");
            };
            if !["UTF-8", "US-ASCII"]
                .iter()
                .any(|x| x.eq_ignore_ascii_case(charset.as_ref()))
            {
                return format!("{tag} NO [BADCHARSET (UTF-8 US-ASCII)] only UTF-8 is offered\r\n")
                    .into_bytes();
            }
            let sorted = search::search(
                st,
                caller,
                sel.folder,
                &sel.messages,
                search_criteria.as_ref(),
            )
            .and_then(|found| search::sort(st, &sel.messages, &found, sort_criteria.as_ref()));
            match sorted {
                Ok(order) => {
                    let mut out = String::from("* SORT");
                    for i in order {
                        let n = if uid { sel.messages[i].0 } else { i as u32 + 1 };
                        out.push_str(&format!(" {n}"));
                    }
                    out.push_str("\r\n");
                    let mut out = out.into_bytes();
                    out.extend(ok("SORT completed"));
                    out
                }
                Err(e) => no(&e),
            }
        }
        CommandBody::Close | CommandBody::Unselect => {
            if selected.take().is_some() {
                ok("mailbox closed (nothing was expunged: the archive is read-only)")
            } else {
                bad("no mailbox is selected")
            }
        }
        _ => no("this command is not offered by this server yet"),
    }
}

/// What changed in the selected mailbox since it was selected or last reported (IDLE, NOOP,
/// CHECK): `* n EXPUNGE` for messages that left it (highest first, so that the numbers stay
/// right), `* n EXISTS` when new mail came. The session's view follows.
pub fn changes(st: &AppState, selected: &mut Option<Selected>) -> Vec<u8> {
    let Some(sel) = selected.as_mut() else {
        return Vec::new();
    };
    let Some(folder) = sel.folder else {
        return Vec::new();
    };
    let Ok(now) = st.archive.uid_view(folder) else {
        return Vec::new();
    };
    let still: std::collections::HashSet<u32> = now.messages.iter().map(|m| m.0).collect();
    let mut out = String::new();
    for i in (0..sel.messages.len()).rev() {
        if !still.contains(&sel.messages[i].0) {
            out.push_str(&format!("* {} EXPUNGE\r\n", i + 1));
        }
    }
    let last = sel.messages.last().map_or(0, |m| m.0);
    let messages = Arc::make_mut(&mut sel.messages);
    messages.retain(|m| still.contains(&m.0));
    let new: Vec<_> = now
        .messages
        .iter()
        .filter(|m| m.0 > last)
        .copied()
        .collect();
    if !new.is_empty() {
        messages.extend(new);
        out.push_str(&format!("* {} EXISTS\r\n", messages.len()));
    }
    sel.uid_next = now.uid_next;
    out.into_bytes()
}

impl Session {
    /// The changes to report while IDLE (nothing when no mailbox is selected).
    pub async fn idle_changes(&mut self) -> Vec<u8> {
        let st = self.state.clone();
        let mut selected = self.selected.take();
        let r = tokio::task::spawn_blocking(move || {
            let out = changes(&st, &mut selected);
            (out, selected)
        })
        .await;
        match r {
            Ok((out, selected)) => {
                self.selected = selected;
                out
            }
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_of_undecodable_commands() {
        assert_eq!(tag_of(b"a1 FOO\r\n"), "a1");
        assert_eq!(tag_of(b"\r\n"), "*");
        assert_eq!(tag_of(b"(x BAR\r\n"), "*");
        assert_eq!(tag_of(b"a+ BAR\r\n"), "*");
    }

    #[test]
    fn texts_stay_on_one_line() {
        assert_eq!(text("a\r\nb"), "a  b");
    }
}
