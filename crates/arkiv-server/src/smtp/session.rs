//! One SMTP conversation: the commands, in the order RFC 5321 allows, answered with enhanced
//! status codes (RFC 3463). Commands are parsed by `smtp-proto`; the state and every answer
//! are here. No I/O: the service feeds lines and complete messages in, and sends what comes
//! out.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arkiv_archive::access::Via;
use arkiv_types::{Envelope, Timestamp};
use base64::Engine as _;
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN, Error as ParseError, Request};

use super::policy::Smtp;
use crate::AppState;

/// What the service does after sending the answer.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    Continue,
    /// Read a message with DATA.
    Data,
    /// Read a BDAT chunk.
    Chunk {
        size: usize,
        last: bool,
    },
    StartTls,
    Close,
}

/// Commands that answer an error before the client is sent away.
const MAX_ERRORS: u32 = 20;

enum Auth {
    None,
    /// AUTH PLAIN without an initial response: the next line is it.
    Plain,
    /// AUTH LOGIN: the next line is the user name, then the password.
    LoginUser,
    LoginPassword(String),
}

pub struct Session {
    state: Arc<AppState>,
    smtp: Arc<Smtp>,
    peer: IpAddr,
    tls: bool,
    helo: Option<String>,
    esmtp: bool,
    user: Option<String>,
    auth: Auth,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
    /// A message is being sent in BDAT chunks.
    chunks: bool,
    errors: u32,
}

fn reply(code: u16, text: &str) -> Vec<u8> {
    format!("{code} {text}\r\n").into_bytes()
}

impl Session {
    pub fn new(state: Arc<AppState>, smtp: Arc<Smtp>, peer: IpAddr, tls: bool) -> Session {
        Session {
            state,
            smtp,
            peer,
            tls,
            helo: None,
            esmtp: false,
            user: None,
            auth: Auth::None,
            mail_from: None,
            rcpt_to: Vec::new(),
            chunks: false,
            errors: 0,
        }
    }

    pub fn greeting(&self) -> Vec<u8> {
        reply(
            220,
            &format!("{} ESMTP Arkiv journal receiver", self.state.server_name),
        )
    }

    /// TLS is up after STARTTLS: everything said before is forgotten (RFC 3207 §4.2).
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.helo = None;
        self.esmtp = false;
        self.reset();
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
        self.chunks = false;
    }

    fn error(&mut self, code: u16, text: &str) -> (Vec<u8>, After) {
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            self.smtp.refused.add("too many errors");
            return (
                reply(421, "4.7.0 too many errors; closing the connection"),
                After::Close,
            );
        }
        (reply(code, text), After::Continue)
    }

    /// Whether a message is being sent in BDAT chunks (its bytes so far are kept).
    pub fn in_chunks(&self) -> bool {
        self.chunks
    }

    /// A command line that was too long.
    pub fn line_too_long(&mut self) -> (Vec<u8>, After) {
        self.smtp.refused.add("line too long");
        self.error(500, "5.5.2 line too long")
    }

    fn protocol(&self) -> &'static str {
        match (self.esmtp, self.tls, self.user.is_some()) {
            (false, false, _) => "SMTP",
            (false, true, _) => "SMTPS",
            (true, false, false) => "ESMTP",
            (true, false, true) => "ESMTPA",
            (true, true, false) => "ESMTPS",
            (true, true, true) => "ESMTPSA",
        }
    }

    fn ehlo(&self, host: &str) -> Vec<u8> {
        let mut lines = vec![
            format!("{} greets {host} [{}]", self.state.server_name, self.peer),
            format!("SIZE {}", self.smtp.max_message),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "PIPELINING".into(),
            "ENHANCEDSTATUSCODES".into(),
            "CHUNKING".into(),
        ];
        if !self.tls {
            lines.push("STARTTLS".into());
        } else if !self.smtp.auth_users.is_empty() && self.user.is_none() {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        let n = lines.len();
        let mut out = String::new();
        for (i, l) in lines.into_iter().enumerate() {
            let sep = if i + 1 == n { ' ' } else { '-' };
            out.push_str(&format!("250{sep}{l}\r\n"));
        }
        out.into_bytes()
    }

    /// Why this client may not start a message now, if it may not.
    fn may_send(&self) -> Option<(u16, &'static str, &'static str)> {
        if !self.tls && !self.smtp.plain_allowed(self.peer) {
            return Some((530, "5.7.0 Must issue a STARTTLS command first", "no TLS"));
        }
        if self.user.is_none() && !self.smtp.trusted(self.peer) {
            return Some((
                530,
                "5.7.0 Authentication required: this client is not in a trusted network",
                "not trusted",
            ));
        }
        None
    }

    /// One command line (its line end included).
    pub async fn line(&mut self, line: &[u8]) -> (Vec<u8>, After) {
        if !matches!(self.auth, Auth::None) {
            return self.auth_line(line).await;
        }
        let parsed = Request::parse(&mut line.iter());
        let req = match parsed {
            Ok(r) => r.into_owned(),
            Err(ParseError::UnknownCommand) => {
                self.smtp.refused.add("unknown command");
                return self.error(500, "5.5.2 command not recognized");
            }
            Err(ParseError::InvalidSenderAddress) => {
                return self.error(501, "5.1.7 bad sender address syntax");
            }
            Err(ParseError::InvalidRecipientAddress) => {
                return self.error(501, "5.1.3 bad recipient address syntax");
            }
            Err(ParseError::SyntaxError { syntax }) => {
                return self.error(501, &format!("5.5.4 syntax: {syntax}"));
            }
            Err(ParseError::InvalidParameter { param }) => {
                return self.error(501, &format!("5.5.4 invalid parameter {param}"));
            }
            Err(ParseError::UnsupportedParameter { param }) => {
                let p: String = param
                    .chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(40)
                    .collect();
                return self.error(555, &format!("5.5.4 unsupported parameter {p}"));
            }
            Err(_) => return self.error(501, "5.5.2 syntax error"),
        };
        if self.chunks
            && !matches!(
                req,
                Request::Bdat { .. } | Request::Rset | Request::Quit | Request::Noop { .. }
            )
        {
            // RFC 3030 §2: only BDAT (or RSET) may follow a BDAT that was not LAST.
            self.reset();
            return self.error(503, "5.5.1 BDAT LAST expected; the message is dropped");
        }
        match req {
            Request::Ehlo { host } => {
                self.reset();
                self.helo = Some(host.clone());
                self.esmtp = true;
                (self.ehlo(&host), After::Continue)
            }
            Request::Helo { host } => {
                self.reset();
                self.helo = Some(host.clone());
                self.esmtp = false;
                (
                    reply(250, &format!("{} greets {host}", self.state.server_name)),
                    After::Continue,
                )
            }
            Request::Lhlo { .. } => self.error(500, "5.5.1 this is SMTP, not LMTP"),
            Request::StartTls => {
                if self.tls {
                    return self.error(503, "5.5.1 TLS is already active");
                }
                (reply(220, "2.0.0 Ready to start TLS"), After::StartTls)
            }
            Request::Auth {
                mechanism,
                initial_response,
            } => self.auth_start(mechanism, &initial_response).await,
            Request::Mail { from } => {
                if self.helo.is_none() {
                    return self.error(503, "5.5.1 send EHLO or HELO first");
                }
                if self.mail_from.is_some() {
                    return self.error(503, "5.5.1 a message is already begun (MAIL)");
                }
                if let Some((code, text, why)) = self.may_send() {
                    self.smtp.refused.add(why);
                    return self.error(code, text);
                }
                if from.size > self.smtp.max_message {
                    self.smtp.refused.add("too large (SIZE)");
                    return self.error(
                        552,
                        &format!(
                            "5.3.4 the message is larger than the {} bytes accepted",
                            self.smtp.max_message
                        ),
                    );
                }
                self.mail_from = Some(from.address);
                (reply(250, "2.1.0 Ok"), After::Continue)
            }
            Request::Rcpt { to } => {
                if self.mail_from.is_none() {
                    return self.error(503, "5.5.1 MAIL first");
                }
                if self.rcpt_to.len() >= self.smtp.max_recipients {
                    self.smtp.deferred.add("too many recipients");
                    // RFC 5321 §4.5.3.1.10: 452, and the client sends the rest later.
                    return (reply(452, "4.5.3 too many recipients"), After::Continue);
                }
                if to.address.is_empty() {
                    return self.error(501, "5.1.3 an empty recipient");
                }
                self.rcpt_to.push(to.address);
                (reply(250, "2.1.5 Ok"), After::Continue)
            }
            Request::Data => {
                if self.mail_from.is_none() {
                    return self.error(503, "5.5.1 MAIL first");
                }
                if self.rcpt_to.is_empty() {
                    return self.error(554, "5.5.1 no valid recipients");
                }
                (reply(354, "End data with <CR><LF>.<CR><LF>"), After::Data)
            }
            Request::Bdat {
                chunk_size,
                is_last,
            } => {
                if self.mail_from.is_none() || self.rcpt_to.is_empty() {
                    // The chunk's bytes still come and must be read (and dropped); the error
                    // is answered (and counted) once they are.
                    return (
                        Vec::new(),
                        After::Chunk {
                            size: chunk_size,
                            last: is_last,
                        },
                    );
                }
                self.chunks = true;
                (
                    Vec::new(),
                    After::Chunk {
                        size: chunk_size,
                        last: is_last,
                    },
                )
            }
            Request::Rset => {
                self.reset();
                (reply(250, "2.0.0 Ok"), After::Continue)
            }
            Request::Noop { .. } => (reply(250, "2.0.0 Ok"), After::Continue),
            Request::Quit => (reply(221, "2.0.0 Bye"), After::Close),
            Request::Vrfy { .. } => (
                reply(252, "2.5.0 this server archives, it does not deliver"),
                After::Continue,
            ),
            Request::Help { .. } => (
                reply(
                    214,
                    "2.0.0 Arkiv journal receiver: send a copy of every message (EHLO, MAIL, RCPT, DATA or BDAT)",
                ),
                After::Continue,
            ),
            Request::Expn { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => self.error(502, "5.5.1 command not implemented"),
        }
    }

    /// After a BDAT chunk has been read: the answer, and whether the complete message is to
    /// be archived now (`true`: call [`Session::envelope`] and submit it).
    pub fn chunk_read(&mut self, size: usize, last: bool, too_large: bool) -> (Vec<u8>, bool) {
        if !self.chunks {
            let (r, _) = self.error(503, "5.5.1 MAIL and RCPT first; the chunk is dropped");
            return (r, false);
        }
        if too_large {
            if last {
                self.reset();
                self.smtp.refused.add("too large");
                return (self.too_large(), false);
            }
            return (
                reply(
                    250,
                    &format!(
                        "2.0.0 {size} octets received (over the limit: the message will be refused)"
                    ),
                ),
                false,
            );
        }
        if !last {
            return (reply(250, &format!("2.0.0 {size} octets received")), false);
        }
        (Vec::new(), true)
    }

    pub fn too_large(&self) -> Vec<u8> {
        reply(
            552,
            &format!(
                "5.3.4 the message is larger than the {} bytes accepted",
                self.smtp.max_message
            ),
        )
    }

    /// The envelope of the message just received; the transaction ends.
    pub fn envelope(&mut self) -> Envelope {
        let env = Envelope {
            mail_from: self.mail_from.take().unwrap_or_default(),
            rcpt_to: std::mem::take(&mut self.rcpt_to),
            client_ip: self.peer.to_string(),
            helo: self.helo.clone().unwrap_or_default(),
            received_at: Timestamp::now(),
            protocol: self.protocol().into(),
            auth_user: self.user.clone(),
            journal_report: false,
        };
        self.reset();
        env
    }

    /// Drops the transaction (a message refused after it was read).
    pub fn abort_message(&mut self) {
        self.reset();
    }

    async fn auth_start(&mut self, mechanism: u64, initial: &str) -> (Vec<u8>, After) {
        if !self.tls {
            self.smtp.refused.add("AUTH without TLS");
            return self.error(
                538,
                "5.7.11 encryption required: STARTTLS first, no password over plain text",
            );
        }
        if self.user.is_some() {
            return self.error(503, "5.5.1 already authenticated");
        }
        if self.mail_from.is_some() {
            return self.error(503, "5.5.1 AUTH is not allowed during a message");
        }
        if self.smtp.auth_users.is_empty() {
            return self.error(
                502,
                "5.5.1 AUTH is not offered: no user may send journal mail",
            );
        }
        match mechanism {
            AUTH_PLAIN if initial.is_empty() => {
                self.auth = Auth::Plain;
                (b"334 \r\n".to_vec(), After::Continue)
            }
            AUTH_PLAIN => self.plain(initial).await,
            AUTH_LOGIN if initial.is_empty() => {
                self.auth = Auth::LoginUser;
                (b"334 VXNlcm5hbWU6\r\n".to_vec(), After::Continue)
            }
            AUTH_LOGIN => match decode(initial) {
                Some(u) => {
                    self.auth = Auth::LoginPassword(String::from_utf8_lossy(&u).into_owned());
                    (b"334 UGFzc3dvcmQ6\r\n".to_vec(), After::Continue)
                }
                None => self.error(501, "5.5.2 invalid base64"),
            },
            _ => self.error(504, "5.5.4 unrecognized authentication mechanism"),
        }
    }

    async fn auth_line(&mut self, line: &[u8]) -> (Vec<u8>, After) {
        let text = String::from_utf8_lossy(line).trim().to_string();
        let state = std::mem::replace(&mut self.auth, Auth::None);
        if text == "*" {
            return self.error(501, "5.0.0 authentication cancelled");
        }
        match state {
            Auth::None => self.error(503, "5.5.1 no authentication in progress"),
            Auth::Plain => self.plain(&text).await,
            Auth::LoginUser => match decode(&text) {
                Some(u) => {
                    self.auth = Auth::LoginPassword(String::from_utf8_lossy(&u).into_owned());
                    (b"334 UGFzc3dvcmQ6\r\n".to_vec(), After::Continue)
                }
                None => self.error(501, "5.5.2 invalid base64"),
            },
            Auth::LoginPassword(user) => match decode(&text) {
                Some(p) => {
                    let p = String::from_utf8_lossy(&p).into_owned();
                    self.logon(&user, &p).await
                }
                None => self.error(501, "5.5.2 invalid base64"),
            },
        }
    }

    async fn plain(&mut self, response: &str) -> (Vec<u8>, After) {
        let Some(raw) = decode(response) else {
            return self.error(501, "5.5.2 invalid base64");
        };
        let mut parts = raw.split(|b| *b == 0);
        let (Some(authz), Some(user), Some(pw), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return self.error(501, "5.5.2 AUTH PLAIN wants authzid NUL user NUL password");
        };
        if !authz.is_empty() && authz != user {
            return self.error(535, "5.7.8 sending as another user is not offered");
        }
        let (user, pw) = (
            String::from_utf8_lossy(user).into_owned(),
            String::from_utf8_lossy(pw).into_owned(),
        );
        self.logon(&user, &pw).await
    }

    async fn logon(&mut self, user: &str, password: &str) -> (Vec<u8>, After) {
        let caller = match crate::api::logon(
            &self.state,
            user,
            password,
            self.peer,
            Via::Smtp,
            "smtp logon",
        )
        .await
        {
            Ok(c) => c,
            Err(e) if e.status == axum::http::StatusCode::UNAUTHORIZED => {
                self.smtp.refused.add("wrong password");
                return self.error(535, "5.7.8 authentication credentials invalid");
            }
            Err(e) => {
                self.smtp.deferred.add("logon unavailable");
                return (
                    reply(454, &format!("4.7.0 {}", one_line(&e.message))),
                    After::Continue,
                );
            }
        };
        let name = caller.name().to_string();
        if !self.smtp.may_send(&name) {
            let _ = crate::api::audit(
                &self.state,
                &name,
                self.peer,
                Via::Smtp,
                "smtp logon",
                &[],
                "refused: not one of the journal senders (smtp auth_users)",
            )
            .await;
            self.smtp.refused.add("not a journal sender");
            return self.error(535, "5.7.8 this user may not send journal mail");
        }
        if let Err(e) = crate::api::audit(
            &self.state,
            &name,
            self.peer,
            Via::Smtp,
            "smtp logon",
            &[],
            "succeeded",
        )
        .await
        {
            return (
                reply(454, &format!("4.7.0 {}", one_line(&e.message))),
                After::Continue,
            );
        }
        self.user = Some(name);
        (
            reply(235, "2.7.0 Authentication successful"),
            After::Continue,
        )
    }

    /// The answer to a message that went through the archive.
    pub fn archived(&self, outcome: &arkiv_archive::intake::Outcome, bytes: usize) -> Vec<u8> {
        match outcome {
            arkiv_archive::intake::Outcome::Archived => {
                self.smtp.accepted.fetch_add(1, Ordering::Relaxed);
                self.smtp
                    .accepted_bytes
                    .fetch_add(bytes as u64, Ordering::Relaxed);
                reply(250, &format!("2.0.0 Ok: archived ({bytes} bytes)"))
            }
            // The reason goes to the log, not to the sender (it names server paths).
            arkiv_archive::intake::Outcome::Deferred(why) if why.contains("No space left") => {
                crate::log!("WARN", "SMTP: message from {} deferred: {why}", self.peer);
                self.smtp.deferred.add("disk full");
                reply(452, "4.3.1 the archive's disk is full; try again later")
            }
            arkiv_archive::intake::Outcome::Deferred(why) => {
                crate::log!("WARN", "SMTP: message from {} deferred: {why}", self.peer);
                self.smtp.deferred.add("archive error");
                reply(
                    451,
                    "4.3.0 not archived, try again later (the archive's log says why)",
                )
            }
        }
    }
}

fn decode(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()
}

/// Text safe for one reply line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect()
}
