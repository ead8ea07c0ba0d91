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
pub fn text(s: &str) -> String {
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

/// A command's tag, and its tagged status lines.
pub struct Tag<'a>(pub &'a str);

impl Tag<'_> {
    pub fn ok(&self, t: &str) -> Vec<u8> {
        format!("{} OK {}\r\n", self.0, text(t)).into_bytes()
    }
    pub fn no(&self, t: &str) -> Vec<u8> {
        format!("{} NO {}\r\n", self.0, text(t)).into_bytes()
    }
    pub fn bad(&self, t: &str) -> Vec<u8> {
        format!("{} BAD {}\r\n", self.0, text(t)).into_bytes()
    }
    /// NO with a response code (`[NONEXISTENT]` …).
    pub fn no_code(&self, code: &str, t: &str) -> Vec<u8> {
        format!("{} NO [{code}] {}\r\n", self.0, text(t)).into_bytes()
    }
}

/// The commands of the authenticated and selected states (a blocking thread), each answered
/// in the file of its kind: mailbox commands in [`super::mailbox`], SEARCH and SORT in
/// [`super::search`] (FETCH streams from [`super::fetch`], started by the session).
fn signed_in(
    st: &AppState,
    caller: &Caller,
    selected: &mut Option<Selected>,
    tag: &str,
    body: CommandBody<'static>,
    ret: Option<&[String]>,
) -> Vec<u8> {
    let t = Tag(tag);
    match body {
        CommandBody::Namespace => mailbox::namespace(&t),
        CommandBody::List {
            reference,
            mailbox_wildcard,
        } => mailbox::list_command(st, caller, &t, &reference, &mailbox_wildcard, false),
        CommandBody::Lsub {
            reference,
            mailbox_wildcard,
        } => mailbox::list_command(st, caller, &t, &reference, &mailbox_wildcard, true),
        CommandBody::Status {
            mailbox: name,
            item_names,
        } => mailbox::status(st, caller, &t, &name, &item_names),
        CommandBody::Select { mailbox: name, .. } | CommandBody::Examine { mailbox: name, .. } => {
            mailbox::select(st, caller, &t, &name, selected)
        }
        CommandBody::Check | CommandBody::Noop => {
            let mut out = mailbox::changes(st, selected);
            out.extend(t.ok("completed"));
            out
        }
        CommandBody::Close | CommandBody::Unselect => mailbox::close(&t, selected),
        CommandBody::Search {
            charset,
            criteria,
            uid,
        } => search::search_command(
            st,
            caller,
            &t,
            selected.as_ref(),
            charset.as_ref(),
            criteria.as_ref(),
            uid,
            ret,
        ),
        CommandBody::Sort {
            sort_criteria,
            charset,
            search_criteria,
            uid,
        } => search::sort_command(
            st,
            caller,
            &t,
            selected.as_ref(),
            &charset,
            sort_criteria.as_ref(),
            search_criteria.as_ref(),
            uid,
        ),
        _ => t.no("this command is not offered by this server"),
    }
}

impl Session {
    /// The changes to report while IDLE (nothing when no mailbox is selected).
    pub async fn idle_changes(&mut self) -> Vec<u8> {
        let st = self.state.clone();
        let mut selected = self.selected.take();
        let r = tokio::task::spawn_blocking(move || {
            let out = mailbox::changes(&st, &mut selected);
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
