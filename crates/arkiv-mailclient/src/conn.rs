//! One TCP connection, plain or TLS, with every wait bounded.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::{ClientConnection, StreamOwned};
use rustls_pki_types::ServerName;

use crate::tls::Refusal;
use crate::{Endpoint, Error, Result, Security, Trust};

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// After an error in the middle of an upgrade.
    Gone,
}

pub(crate) struct Conn {
    stream: Stream,
    server: String,
    host: String,
    trust: Trust,
    timeout: Duration,
    /// A response in progress must be complete by then (a server trickling bytes cannot keep
    /// a run waiting for ever, however short each single wait is).
    deadline: Option<Instant>,
    /// Bytes read and written, for reports.
    pub read_bytes: u64,
}

impl Conn {
    /// Connects (trying every address of the host), and for [`Security::Tls`] completes the
    /// TLS handshake.
    pub fn connect(ep: &Endpoint) -> Result<Conn> {
        let server = ep.display();
        if ep.host.is_empty() {
            return Err(Error::Config {
                what: "no server host name given".into(),
            });
        }
        let addrs: Vec<_> = (ep.host.as_str(), ep.port)
            .to_socket_addrs()
            .map_err(|err| Error::Connect {
                server: server.clone(),
                err,
            })?
            .collect();
        let mut last = None;
        let mut tcp = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, ep.timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = tcp.ok_or_else(|| Error::Connect {
            server: server.clone(),
            err: last.unwrap_or_else(|| std::io::Error::other("the host name has no address")),
        })?;
        let _ = tcp.set_nodelay(true);
        let io = |err| Error::Io {
            server: server.clone(),
            doing: "setting up the connection".into(),
            err,
        };
        tcp.set_read_timeout(Some(ep.timeout)).map_err(io)?;
        tcp.set_write_timeout(Some(ep.timeout)).map_err(io)?;
        let mut conn = Conn {
            stream: Stream::Plain(tcp),
            server,
            host: ep.host.clone(),
            trust: ep.trust.clone(),
            timeout: ep.timeout,
            deadline: None,
            read_bytes: 0,
        };
        if ep.security == Security::Tls {
            conn.start_tls()?;
        }
        Ok(conn)
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Bounds the next reads: they fail once `budget` has passed.
    pub fn set_deadline(&mut self, budget: Option<Duration>) {
        self.deadline = budget.map(|b| Instant::now() + b);
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Wraps the connection in TLS and completes the handshake.
    pub fn start_tls(&mut self) -> Result<()> {
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(Error::Protocol {
                server: self.server.clone(),
                what: "TLS started twice".into(),
            });
        };
        let (config, refusal) = crate::tls::client_config(&self.trust)?;
        let name = ServerName::try_from(self.host.clone()).map_err(|_| Error::Config {
            what: format!("'{}' is not a host name or address", self.host),
        })?;
        let conn = ClientConnection::new(config, name).map_err(|e| Error::Tls {
            server: self.server.clone(),
            reason: e.to_string(),
        })?;
        let mut tls = StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
                return Err(self.tls_error(e, &refusal));
            }
        }
        self.stream = Stream::Tls(Box::new(tls));
        Ok(())
    }

    fn tls_error(&self, e: std::io::Error, refusal: &Arc<Mutex<Refusal>>) -> Error {
        let fp = refusal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fingerprint
            .take();
        match fp {
            Some(fingerprint) => Error::Untrusted {
                server: self.server.clone(),
                reason: e.to_string(),
                fingerprint,
            },
            None => self.io_error(e, "the TLS handshake"),
        }
    }

    fn io_error(&self, err: std::io::Error, doing: &str) -> Error {
        use std::io::ErrorKind as K;
        match err.kind() {
            K::WouldBlock | K::TimedOut => Error::Timeout {
                server: self.server.clone(),
                seconds: self.timeout.as_secs(),
                doing: doing.to_string(),
            },
            K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                Error::Closed {
                    server: self.server.clone(),
                    doing: doing.to_string(),
                }
            }
            K::InvalidData if err.get_ref().is_some_and(|e| e.is::<rustls::Error>()) => {
                Error::Tls {
                    server: self.server.clone(),
                    reason: err.to_string(),
                }
            }
            _ => Error::Io {
                server: self.server.clone(),
                doing: doing.to_string(),
                err,
            },
        }
    }

    /// Reads what is there (at least one byte); a closed connection is an error.
    pub fn read(&mut self, buf: &mut [u8], doing: &str) -> Result<usize> {
        if let Some(d) = self.deadline
            && Instant::now() > d
        {
            return Err(Error::Timeout {
                server: self.server.clone(),
                seconds: self.timeout.as_secs(),
                doing: format!("{doing} (the answer did not complete in time)"),
            });
        }
        let r = match &mut self.stream {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Gone => return Err(self.gone(doing)),
        };
        match r {
            Ok(0) => Err(Error::Closed {
                server: self.server.clone(),
                doing: doing.to_string(),
            }),
            Ok(n) => {
                self.read_bytes += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(self.io_error(e, doing)),
        }
    }

    pub fn write_all(&mut self, data: &[u8], doing: &str) -> Result<()> {
        let r = match &mut self.stream {
            Stream::Plain(s) => s.write_all(data).and_then(|_| s.flush()),
            Stream::Tls(s) => s.write_all(data).and_then(|_| s.flush()),
            Stream::Gone => return Err(self.gone(doing)),
        };
        r.map_err(|e| self.io_error(e, doing))
    }

    fn gone(&self, doing: &str) -> Error {
        Error::Closed {
            server: self.server.clone(),
            doing: doing.to_string(),
        }
    }

    /// Closes without a goodbye (after a protocol error).
    pub fn shutdown(&mut self) {
        match &mut self.stream {
            Stream::Plain(s) => {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            Stream::Tls(s) => {
                let _ = s.sock.shutdown(std::net::Shutdown::Both);
            }
            Stream::Gone => {}
        }
        self.stream = Stream::Gone;
    }
}
