//! One IMAP connection's state and its answers to commands, apart from the socket: the
//! connection hands in each command the framer cut out ([`super::frame`]), decoded here with
//! imap-codec, and writes what comes back.
//!
//! So far the not-authenticated state (RFC 9051 §6.1–6.2, RFC 3501): CAPABILITY, NOOP,
//! LOGOUT, ID, STARTTLS, LOGIN and AUTHENTICATE PLAIN (with SASL-IR or a continuation). No
//! password travels in plain text: before TLS, LOGIN and AUTHENTICATE answer NO and the
//! capabilities say LOGINDISABLED. A logon is Arkiv's (`Archive::authenticate` through
//! `api::logon`: the same lockout and audit as the other doors); the user needs `login`.
//! Commands of the later states answer with a clear NO until they are built; commands that
//! write (APPEND, STORE, COPY, MOVE, EXPUNGE, CREATE, DELETE, RENAME) will always answer NO:
//! the archive is read-only here.

use std::net::IpAddr;
use std::sync::Arc;

use arkiv_archive::access::{Caller, Via};
use imap_codec::decode::{AuthenticateDataDecodeError, CommandDecodeError, Decoder};
use imap_codec::imap_types::auth::{AuthMechanism, AuthenticateData};
use imap_codec::imap_types::command::CommandBody;
use imap_codec::{AuthenticateDataCodec, CommandCodec};

use crate::AppState;

/// What the connection does after sending the answer.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    Continue,
    /// Start TLS on the connection now (the OK was the last plain-text byte).
    StartTls,
    /// The next line is the client's answer to an AUTHENTICATE continuation.
    AuthenticateData,
    Close,
}

pub struct Session {
    state: Arc<AppState>,
    peer: IpAddr,
    tls: bool,
    caller: Option<Caller>,
    /// The tag of an AUTHENTICATE waiting for its data.
    authenticating: Option<String>,
}

/// A text for a status line: one line, printable.
fn text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The tag of a command that did not decode, when one can be read (else `*`).
fn tag_of(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .position(|b| matches!(b, b' ' | b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    let tag = &bytes[..end];
    if !tag.is_empty()
        && tag.len() <= 64
        && tag
            .iter()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(b))
    {
        String::from_utf8_lossy(tag).into_owned()
    } else {
        "*".into()
    }
}

impl Session {
    pub fn new(state: Arc<AppState>, peer: IpAddr, tls: bool) -> Session {
        Session {
            state,
            peer,
            tls,
            caller: None,
            authenticating: None,
        }
    }

    /// Who is signed in, if anyone.
    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    /// The capabilities in this state.
    fn capabilities(&self) -> String {
        let mut c = vec!["IMAP4rev1", "ID"];
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
    pub async fn command(&mut self, bytes: &[u8]) -> (Vec<u8>, After) {
        if self.authenticating.is_some() {
            return self.authenticate_data(bytes).await;
        }
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
            CommandBody::Noop => (ok("NOOP completed"), After::Continue),
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
            _ => (
                no("this command is not offered by this server yet"),
                After::Continue,
            ),
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
