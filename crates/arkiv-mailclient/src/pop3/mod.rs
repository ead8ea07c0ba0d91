//! A POP3 client (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH PLAIN RFC 5034).
//!
//! POP3 has no folders and no flags: a mailbox is a list of numbered messages, each with a
//! unique id (`UIDL`) that stays the same across sessions. The archive remembers the ids it
//! archived, which makes re-runs idempotent; a server without `UIDL` is refused, since without
//! it every run would archive everything again.

pub mod lines;

use crate::conn::Conn;
use crate::{Credentials, Endpoint, Error, Result, Security};
use lines::{LineReader, MultiLine};

/// Status lines and list entries are short; RFC 1939 says 512 bytes.
const MAX_STATUS_LINE: usize = 64 * 1024;
const LOG_LINES: usize = 400;

/// One POP3 connection.
pub struct Pop3Session {
    conn: Conn,
    reader: LineReader,
    caps: Vec<String>,
    log: std::collections::VecDeque<String>,
}

impl Pop3Session {
    /// Connects, reads the greeting, and upgrades with `STLS` when asked.
    pub fn connect(ep: &Endpoint) -> Result<Pop3Session> {
        let conn = Conn::connect(ep)?;
        let mut s = Pop3Session {
            conn,
            reader: LineReader::default(),
            caps: Vec::new(),
            log: Default::default(),
        };
        let greeting = s.status_line("waiting for the greeting")?;
        if let Err(text) = greeting {
            return Err(Error::Refused {
                server: s.server(),
                command: "the connection".into(),
                reason: text,
            });
        }
        s.capa();
        if ep.security == Security::StartTls {
            if !s.has_cap("STLS") {
                return Err(Error::Unsupported {
                    server: s.server(),
                    what: "STLS (choose TLS, or plain text explicitly)".into(),
                });
            }
            s.simple("STLS", "STLS")?;
            if s.reader.has_pending() {
                s.conn.shutdown();
                return Err(Error::Protocol {
                    server: s.server(),
                    what: "data sent in plain text before the TLS handshake".into(),
                });
            }
            s.conn.start_tls()?;
            s.capa();
        }
        Ok(s)
    }

    pub fn server(&self) -> String {
        self.conn.server().to_string()
    }

    pub fn is_tls(&self) -> bool {
        self.conn.is_tls()
    }

    pub fn capabilities(&self) -> &[String] {
        &self.caps
    }

    pub fn has_cap(&self, cap: &str) -> bool {
        self.caps.iter().any(|c| {
            c.eq_ignore_ascii_case(cap)
                || c.split_whitespace()
                    .next()
                    .is_some_and(|w| w.eq_ignore_ascii_case(cap))
        })
    }

    fn sasl_plain(&self) -> bool {
        self.caps.iter().any(|c| {
            let mut w = c.split_whitespace();
            w.next().is_some_and(|x| x.eq_ignore_ascii_case("SASL"))
                && w.any(|m| m.eq_ignore_ascii_case("PLAIN"))
        })
    }

    pub fn take_log(&mut self) -> Vec<String> {
        self.log.drain(..).collect()
    }

    fn note(&mut self, s: String) {
        if self.log.len() >= LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(s);
    }

    /// `CAPA`; servers without it are fine (then USER/PASS is assumed).
    fn capa(&mut self) {
        self.caps.clear();
        if self.write("CAPA", "CAPA").is_err() {
            return;
        }
        if let Ok(Ok(_)) = self.status_line("CAPA")
            && let Ok(lines) = self.multi_line(MAX_STATUS_LINE as u64 * 4, "CAPA")
        {
            self.caps = String::from_utf8_lossy(&lines)
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect();
        }
    }

    /// Logs on: `USER`/`PASS`, or `AUTH PLAIN` (always for a master user with an
    /// authorization identity).
    pub fn login(&mut self, cred: &Credentials) -> Result<()> {
        let r = match cred {
            Credentials::Login { user, password }
                if !(self.sasl_plain() && !self.has_cap("USER") && !self.caps.is_empty()) =>
            {
                self.write(&format!("USER {user}"), &format!("USER {user}"))?;
                match self.status_line("USER")? {
                    Ok(_) => {
                        self.write(&format!("PASS {password}"), "PASS ***")?;
                        self.status_line("PASS")?
                    }
                    Err(e) => Err(e),
                }
            }
            _ => {
                let (authzid, user, password) = match cred {
                    Credentials::Plain {
                        authzid,
                        user,
                        password,
                    } => (authzid.as_deref(), user, password),
                    Credentials::Login { user, password } => (None, user, password),
                };
                if !self.caps.is_empty() && !self.sasl_plain() {
                    return Err(Error::Unsupported {
                        server: self.server(),
                        what: "SASL PLAIN (AUTH PLAIN)".into(),
                    });
                }
                let ir = crate::sasl::plain(authzid, user, password);
                self.write(&format!("AUTH PLAIN {ir}"), "AUTH PLAIN ***")?;
                self.status_line("AUTH")?
            }
        };
        r.map(|_| ()).map_err(|reason| Error::Auth {
            server: self.server(),
            user: cred.user().to_string(),
            reason,
        })
    }

    /// `UIDL`: message number and unique id of every message.
    pub fn uidl(&mut self) -> Result<Vec<(u32, String)>> {
        self.write("UIDL", "UIDL")?;
        if let Err(e) = self.status_line("UIDL")? {
            return Err(Error::Unsupported {
                server: self.server(),
                what: format!(
                    "UIDL (unique message ids, without which re-runs would archive everything again): {e}"
                ),
            });
        }
        let body = self.multi_line(64 << 20, "UIDL")?;
        let mut out = Vec::new();
        for l in String::from_utf8_lossy(&body).lines() {
            let mut w = l.split_whitespace();
            if let (Some(n), Some(id)) = (w.next(), w.next())
                && let Ok(n) = n.parse()
            {
                out.push((n, id.to_string()));
            }
        }
        Ok(out)
    }

    /// `LIST`: message number and size of every message.
    pub fn list(&mut self) -> Result<Vec<(u32, u64)>> {
        self.write("LIST", "LIST")?;
        if let Err(e) = self.status_line("LIST")? {
            return Err(self.refused("LIST", e));
        }
        let body = self.multi_line(64 << 20, "LIST")?;
        let mut out = Vec::new();
        for l in String::from_utf8_lossy(&body).lines() {
            let mut w = l.split_whitespace();
            if let (Some(n), Some(size)) = (w.next(), w.next())
                && let (Ok(n), Ok(size)) = (n.parse(), size.parse())
            {
                out.push((n, size));
            }
        }
        Ok(out)
    }

    /// `RETR n`: the message, dot-unstuffed, at most `max_size` bytes (else the connection is
    /// dropped with [`Error::TooLarge`]). `Ok(None)`: the server refused (message gone).
    pub fn retr(&mut self, n: u32, max_size: u64) -> Result<Option<Vec<u8>>> {
        self.write(&format!("RETR {n}"), &format!("RETR {n}"))?;
        if let Err(e) = self.status_line("RETR")? {
            self.note(format!("(message {n} refused: {e})"));
            return Ok(None);
        }
        self.multi_line(max_size, "receiving a message").map(Some)
    }

    /// `DELE n` (takes effect at `QUIT`).
    pub fn dele(&mut self, n: u32) -> Result<()> {
        self.simple(&format!("DELE {n}"), "DELE")
    }

    /// `QUIT`: ends the session, committing deletions. An error means the server may not
    /// have deleted anything.
    pub fn quit(mut self) -> Result<()> {
        let r = self.simple("QUIT", "QUIT");
        self.conn.shutdown();
        r
    }

    // --- the wire ---

    fn refused(&self, command: &str, reason: String) -> Error {
        Error::Refused {
            server: self.server(),
            command: command.to_string(),
            reason,
        }
    }

    fn simple(&mut self, cmd: &str, what: &str) -> Result<()> {
        self.write(cmd, cmd)?;
        match self.status_line(what)? {
            Ok(_) => Ok(()),
            Err(e) => Err(self.refused(what, e)),
        }
    }

    fn write(&mut self, cmd: &str, shown: &str) -> Result<()> {
        if cmd.contains(['\r', '\n']) {
            return Err(Error::Config {
                what: "a POP3 argument with a line break".into(),
            });
        }
        self.note(format!("C: {shown}"));
        self.conn.write_all(
            format!("{cmd}\r\n").as_bytes(),
            shown.split(' ').next().unwrap_or(""),
        )
    }

    fn fill(&mut self, doing: &str) -> Result<()> {
        let conn = &mut self.conn;
        self.reader
            .read_with(64 * 1024, |buf| conn.read(buf, doing))?;
        Ok(())
    }

    /// `+OK text` → `Ok(Ok(text))`, `-ERR text` → `Ok(Err(text))`.
    fn status_line(&mut self, doing: &str) -> Result<std::result::Result<String, String>> {
        self.conn.set_deadline(Some(self.conn.timeout() * 2));
        let line = loop {
            match self.reader.next_line(MAX_STATUS_LINE) {
                Ok(Some(l)) => break l,
                Ok(None) => self.fill(doing)?,
                Err(_) => {
                    self.conn.shutdown();
                    return Err(Error::TooLarge {
                        server: self.server(),
                        size: MAX_STATUS_LINE as u64,
                        limit: MAX_STATUS_LINE as u64,
                        what: format!("a status line without end while {doing}"),
                    });
                }
            }
        };
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        self.note(format!("S: {}", text.chars().take(200).collect::<String>()));
        if let Some(rest) = text.strip_prefix("+OK") {
            Ok(Ok(rest.trim().to_string()))
        } else if let Some(rest) = text.strip_prefix("-ERR") {
            Ok(Err(rest.trim().to_string()))
        } else if text.starts_with('+') {
            // A SASL continuation where none was expected.
            Ok(Err(text))
        } else {
            self.conn.shutdown();
            Err(Error::Protocol {
                server: self.server(),
                what: format!(
                    "'{}' is not a POP3 status line",
                    text.chars().take(80).collect::<String>()
                ),
            })
        }
    }

    fn multi_line(&mut self, max: u64, doing: &str) -> Result<Vec<u8>> {
        let budget = self.conn.timeout() * 2 + std::time::Duration::from_secs(max / (64 * 1024));
        self.conn.set_deadline(Some(budget));
        let mut m = MultiLine::new(max);
        loop {
            match m.feed(&mut self.reader) {
                Ok(true) => return Ok(m.into_bytes()),
                Ok(false) => self.fill(doing)?,
                Err(size) => {
                    self.conn.shutdown();
                    return Err(Error::TooLarge {
                        server: self.server(),
                        size,
                        limit: max,
                        what: doing.to_string(),
                    });
                }
            }
        }
    }
}
