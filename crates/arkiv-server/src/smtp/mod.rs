//! The SMTP journal receiver (SPEC A7, manual §2.2 "archive all incoming and outgoing
//! email"): mail servers send it a copy of every message they accept or send (Postfix
//! `always_bcc` or `recipient_bcc_maps`, Exchange journaling), and it archives each one.
//!
//! * **250 only when durable.** A message is answered after the archive's commit that made
//!   it durable ([`arkiv_archive::intake`]: group commit across sessions); a crash before
//!   that leaves the sender without an answer, so it keeps the message and retries. Trouble
//!   that may pass (a full disk, a store that cannot be written, too much in flight, a
//!   shutdown) answers 4xx, never 5xx: a 5xx would make the sender drop the mail.
//! * **Who may send**: clients in `trusted_networks` without AUTH; others with AUTH
//!   PLAIN/LOGIN as one of `auth_users`, over TLS only. Plain SMTP (no TLS) only from
//!   `plain_networks`. STARTTLS on `listen`, implicit TLS on `listen_tls`.
//! * **The protocol layer apart from the sockets** ([`frame`]: lines, DATA and BDAT, limits;
//!   [`session`]: commands and answers, parsed by `smtp-proto`); bounded by the shared
//!   [`Gate`] like every listener, per-connection memory bounded by the message limit, and
//!   all sessions together by [`policy::Smtp::receiving_limit`].

pub mod frame;
pub mod policy;
pub mod session;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::AppState;
use crate::listen::{Gate, Limits, serve_connections};
use frame::{Event, Receiver};
use policy::Smtp;
use session::{After, Session};

/// How long a sender waits for the archive to make its message durable before it is told to
/// retry (the message may still be archived: the retry then finds it there).
const ARCHIVE_WAIT: Duration = Duration::from_secs(300);

/// A message must arrive whole within this long (slow senders), whatever the idle limit.
const MESSAGE_TIME: Duration = Duration::from_secs(600);

/// Serves one SMTP listener: STARTTLS on a plain port, or TLS from the first byte.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    implicit: bool,
    state: Arc<AppState>,
    smtp: Arc<Smtp>,
    limits: Limits,
    gate: Arc<Gate>,
    what: &'static str,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let (each, stopping, turned_away) = (limits.clone(), stop.clone(), smtp.clone());
    let refused = move || turned_away.deferred.add("too many connections");
    serve_connections(
        listener,
        what,
        limits,
        gate,
        stop,
        refused,
        move |tcp, peer, ticket| {
            smtp.connections.fetch_add(1, Ordering::Relaxed);
            let (acceptor, state, smtp, limits, stop) = (
                acceptor.clone(),
                state.clone(),
                smtp.clone(),
                each.clone(),
                stopping.clone(),
            );
            async move {
                let _ticket = ticket;
                let mut session = Session::new(state, smtp.clone(), peer.ip(), implicit);
                let mut rx = Receiver::new(frame::Limits {
                    message: smtp.max_message,
                    ..Default::default()
                });
                let mut conn = Conn {
                    smtp: &smtp,
                    limits: &limits,
                    stop,
                    held: 0,
                };
                if implicit {
                    let Ok(Ok(mut tls)) =
                        tokio::time::timeout(limits.handshake, acceptor.accept(tcp)).await
                    else {
                        smtp.refused.add("TLS handshake failed");
                        return;
                    };
                    conn.run(&mut tls, &mut session, &mut rx, true).await;
                    conn.release();
                    return;
                }
                let mut tcp = tcp;
                if conn.run(&mut tcp, &mut session, &mut rx, true).await == Ended::StartTls {
                    let Ok(Ok(mut tls)) =
                        tokio::time::timeout(limits.handshake, acceptor.accept(tcp)).await
                    else {
                        smtp.refused.add("TLS handshake failed");
                        conn.release();
                        return;
                    };
                    session.tls_started();
                    conn.run(&mut tls, &mut session, &mut rx, false).await;
                }
                conn.release();
            }
        },
    )
    .await;
}

#[derive(PartialEq, Eq)]
enum Ended {
    StartTls,
    Closed,
}

struct Conn<'a> {
    smtp: &'a Smtp,
    limits: &'a Limits,
    stop: tokio::sync::watch::Receiver<bool>,
    /// Bytes this connection counts in `smtp.receiving` now.
    held: usize,
}

impl Drop for Conn<'_> {
    /// However the connection ends (a panic included), its bytes leave the receivers' total.
    fn drop(&mut self) {
        self.release();
    }
}

impl Conn<'_> {
    /// Writes all of `bytes`, giving up on a client that does not read within the limit.
    async fn send<S: AsyncWrite + Unpin>(&self, io: &mut S, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return true;
        }
        matches!(
            tokio::time::timeout(self.limits.request, async {
                io.write_all(bytes).await?;
                io.flush().await
            })
            .await,
            Ok(Ok(()))
        )
    }

    /// Counts the message being received in the receiver's total; drops it when the total
    /// is over the limit (the sender is then told to retry).
    fn account(&mut self, rx: &mut Receiver) {
        let now = rx.held();
        if now > self.held {
            let more = now - self.held;
            let before = self.smtp.receiving.fetch_add(more, Ordering::SeqCst);
            self.held = now;
            if before + more > self.smtp.receiving_limit && before > 0 {
                rx.abandon();
                self.release();
            }
        } else if now < self.held {
            self.smtp
                .receiving
                .fetch_sub(self.held - now, Ordering::SeqCst);
            self.held = now;
        }
    }

    fn release(&mut self) {
        self.smtp.receiving.fetch_sub(self.held, Ordering::SeqCst);
        self.held = 0;
    }

    /// Reads commands and messages and answers them until the client leaves, goes quiet too
    /// long, the server stops, or STARTTLS hands the connection over to TLS.
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        session: &mut Session,
        rx: &mut Receiver,
        greet: bool,
    ) -> Ended {
        if greet && !self.send(io, &session.greeting()).await {
            return Ended::Closed;
        }
        let mut buf = vec![0u8; 64 * 1024];
        // Answers to pipelined commands go out together, when the input is used up.
        let mut out: Vec<u8> = Vec::new();
        let mut message_deadline: Option<tokio::time::Instant> = None;
        loop {
            while let Some(ev) = rx.next_event() {
                match ev {
                    Event::LineTooLong => {
                        let (r, after) = session.line_too_long();
                        out.extend_from_slice(&r);
                        if after == After::Close {
                            let _ = self.send(io, &out).await;
                            return Ended::Closed;
                        }
                    }
                    Event::Line(line) => {
                        let (r, after) = session.line(&line).await;
                        out.extend_from_slice(&r);
                        // Outside a chunked message nothing of a message is kept: chunks of
                        // one that was reset (RSET, EHLO, an error between BDATs) go with it,
                        // and so do its over-the-limit mark and its deadline.
                        if !session.in_chunks() {
                            rx.reset_message();
                            self.account(rx);
                            message_deadline = None;
                        }
                        match after {
                            After::Continue => {}
                            After::Close => {
                                let _ = self.send(io, &out).await;
                                return Ended::Closed;
                            }
                            After::StartTls => {
                                let ok = self.send(io, &out).await;
                                // Bytes sent after STARTTLS before the handshake would be
                                // taken as if they came over TLS (command injection).
                                if !ok || rx.buffered() > 0 {
                                    let _ = self
                                        .send(io, b"421 4.7.0 commands sent after STARTTLS before the TLS handshake\r\n")
                                        .await;
                                    return Ended::Closed;
                                }
                                return Ended::StartTls;
                            }
                            After::Data => {
                                rx.expect_data();
                                message_deadline = Some(tokio::time::Instant::now() + MESSAGE_TIME);
                            }
                            After::Chunk { size, last } => {
                                rx.expect_chunk(size, last);
                                message_deadline
                                    .get_or_insert(tokio::time::Instant::now() + MESSAGE_TIME);
                            }
                        }
                    }
                    Event::Ended { last, chunk } => {
                        self.account(rx);
                        let too_large = rx.too_large();
                        if let Some(size) = chunk {
                            let (r, submit) = session.chunk_read(size, last, too_large);
                            if !submit {
                                out.extend_from_slice(&r);
                                if last {
                                    rx.reset_message();
                                    self.release();
                                    message_deadline = None;
                                }
                                continue;
                            }
                        }
                        message_deadline = None;
                        let (msg, _) = rx.take_message();
                        self.release();
                        let r = match msg {
                            _ if too_large => {
                                session.abort_message();
                                self.smtp.refused.add("too large");
                                session.too_large()
                            }
                            None => {
                                session.abort_message();
                                self.smtp.deferred.add("busy");
                                b"451 4.3.1 too much mail in flight; try again later\r\n".to_vec()
                            }
                            Some(bytes) => {
                                // The answers so far go out before the wait.
                                if !self.send(io, &out).await {
                                    return Ended::Closed;
                                }
                                out.clear();
                                self.archive(session, bytes).await
                            }
                        };
                        out.extend_from_slice(&r);
                    }
                }
            }
            self.account(rx);
            if !self.send(io, &out).await {
                return Ended::Closed;
            }
            out.clear();
            let wait = match message_deadline {
                Some(d) => d
                    .saturating_duration_since(tokio::time::Instant::now())
                    .min(self.limits.idle.max(Duration::from_secs(60))),
                None => self.limits.idle.max(Duration::from_secs(60)),
            };
            let n = tokio::select! {
                r = tokio::time::timeout(wait, io.read(&mut buf)) => match r {
                    Ok(Ok(n)) if n > 0 => n,
                    Ok(_) => {
                        if rx.in_message() {
                            self.smtp.deferred.add("connection lost during a message");
                        }
                        return Ended::Closed;
                    }
                    Err(_) => {
                        if rx.in_message() {
                            self.smtp.deferred.add("timeout during a message");
                        }
                        let _ = self.send(io, b"421 4.4.2 timeout; closing the connection\r\n").await;
                        return Ended::Closed;
                    }
                },
                _ = self.stop.changed() => {
                    let _ = self.send(io, b"421 4.3.2 the server is shutting down; try again later\r\n").await;
                    return Ended::Closed;
                }
            };
            rx.push(&buf[..n]);
        }
    }

    /// Hands a complete message to the archive and waits until it is durable.
    async fn archive(&mut self, session: &mut Session, bytes: Vec<u8>) -> Vec<u8> {
        let envelope = session.envelope();
        let size = bytes.len();
        let (tx, wait) = tokio::sync::oneshot::channel();
        let submitted = self.smtp.intake.submit(
            bytes,
            envelope,
            Box::new(move |outcome| {
                let _ = tx.send(outcome);
            }),
        );
        if let Err(e) = submitted {
            self.smtp.deferred.add(match e {
                arkiv_archive::intake::Refused::Busy => "busy",
                arkiv_archive::intake::Refused::Closed => "shutting down",
            });
            return format!("451 4.3.1 {e}\r\n").into_bytes();
        }
        match tokio::time::timeout(ARCHIVE_WAIT, wait).await {
            Ok(Ok(outcome)) => session.archived(&outcome, size),
            Ok(Err(_)) => {
                self.smtp.deferred.add("archive stopped");
                b"451 4.3.0 the archive stopped before the message was stored; try again later\r\n"
                    .to_vec()
            }
            Err(_) => {
                self.smtp.deferred.add("archive slow");
                b"451 4.3.0 the archive is slow to store the message; try again later\r\n".to_vec()
            }
        }
    }
}
