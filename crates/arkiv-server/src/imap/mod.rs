//! The read-only IMAP service (D3, manual §3.5 and §6.2), built in steps.
//!
//! The protocol layer stays apart from the sockets (STYLE habit 5): [`frame`] turns the bytes
//! a client sends into whole commands under per-command limits (line, literal, command size,
//! nesting), sans-IO and tested by splitting its input at every byte; imap-codec decodes and
//! encodes; the session (commands in their own files) answers from the archive through the
//! access core, as every other door does.
//!
//! So far: the command framer, signing in, the mailboxes ([`mailbox`]) with stable UIDs
//! (`arkiv_archive::uids`), and FETCH of the original bytes ([`fetch`]).

pub mod fetch;
pub mod frame;
pub mod mailbox;
pub mod search;
pub mod session;
pub mod structure;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::AppState;
use crate::listen::{Gate, Limits, serve_connections};
use frame::{Event, Framer};
use session::{After, Reply, Session};

/// A signed-in client may stay silent this long (RFC 9051 §5.4: at least 30 minutes);
/// before sign-in the listener's idle limit applies.
const SIGNED_IN_IDLE: Duration = Duration::from_secs(30 * 60);

/// Serves one IMAP listener: STARTTLS on a plain port, or TLS from the first byte
/// (`implicit`). Connections are admitted by the shared [`Gate`] like every service's.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    implicit: bool,
    state: Arc<AppState>,
    limits: Limits,
    gate: Arc<Gate>,
    what: &'static str,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let each = limits.clone();
    let stopping = stop.clone();
    serve_connections(
        listener,
        what,
        limits,
        gate,
        stop,
        || {},
        move |tcp, peer, ticket| {
            let (acceptor, state, limits, stop) = (
                acceptor.clone(),
                state.clone(),
                each.clone(),
                stopping.clone(),
            );
            async move {
                let _ticket = ticket;
                let mut session = Session::new(state, peer.ip(), implicit);
                let mut framer = Framer::new(frame::Limits::default());
                let mut stop = stop;
                if implicit {
                    let Ok(Ok(tls)) =
                        tokio::time::timeout(limits.handshake, acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    let mut tls = tls;
                    let _ = run(
                        &mut tls,
                        &mut session,
                        &mut framer,
                        &limits,
                        &mut stop,
                        true,
                    )
                    .await;
                    return;
                }
                let mut tcp = tcp;
                match run(
                    &mut tcp,
                    &mut session,
                    &mut framer,
                    &limits,
                    &mut stop,
                    true,
                )
                .await
                {
                    Ended::StartTls => {
                        let Ok(Ok(mut tls)) =
                            tokio::time::timeout(limits.handshake, acceptor.accept(tcp)).await
                        else {
                            return;
                        };
                        session.tls_started();
                        let _ = run(
                            &mut tls,
                            &mut session,
                            &mut framer,
                            &limits,
                            &mut stop,
                            false,
                        )
                        .await;
                    }
                    Ended::Closed => {}
                }
            }
        },
    )
    .await;
}

enum Ended {
    StartTls,
    Closed,
}

/// Writes all of `bytes`, giving up on a client that does not read within the limit.
async fn send<S: AsyncWrite + Unpin>(io: &mut S, bytes: &[u8], limits: &Limits) -> bool {
    matches!(
        tokio::time::timeout(limits.request, async {
            io.write_all(bytes).await?;
            io.flush().await
        })
        .await,
        Ok(Ok(()))
    )
}

/// How often an idling client's mailbox is looked at.
const IDLE_POLL: Duration = Duration::from_secs(5);

/// IDLE (RFC 2177): reports new and removed mail in the selected mailbox as it happens
/// until the client sends DONE (which the framer hands to the session like a command).
/// False when the connection is to close.
async fn idle<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    session: &mut Session,
    framer: &mut Framer,
    limits: &Limits,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    buf: &mut [u8],
) -> bool {
    let until = tokio::time::Instant::now() + SIGNED_IN_IDLE;
    loop {
        if framer.buffered() > 0 {
            return true;
        }
        tokio::select! {
            r = io.read(buf) => match r {
                Ok(n) if n > 0 => {
                    framer.push(&buf[..n]);
                    return true;
                }
                _ => return false,
            },
            _ = tokio::time::sleep(IDLE_POLL) => {
                if tokio::time::Instant::now() > until {
                    let _ = send(io, b"* BYE idle for too long\r\n", limits).await;
                    return false;
                }
                let out = session.idle_changes().await;
                if !out.is_empty() && !send(io, &out, limits).await {
                    return false;
                }
            }
            _ = stop.changed() => {
                let _ = send(io, b"* BYE the server is shutting down\r\n", limits).await;
                return false;
            }
        }
    }
}

/// Reads commands and answers them until the client leaves, the connection is idle too
/// long, the server stops, or STARTTLS hands the connection over to TLS.
async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    session: &mut Session,
    framer: &mut Framer,
    limits: &Limits,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    greet: bool,
) -> Ended {
    if greet && !send(io, &session.greeting(), limits).await {
        return Ended::Closed;
    }
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(ev) = framer.next_event() {
            match ev {
                Event::Continue => {
                    if !send(io, b"+ go ahead\r\n", limits).await {
                        return Ended::Closed;
                    }
                }
                Event::Refused { tag, reason, fatal } => {
                    let tag = tag.map_or("*".into(), |t| String::from_utf8_lossy(&t).into_owned());
                    let mut out = format!("{tag} BAD {reason}\r\n");
                    if fatal {
                        out.push_str(&format!("* BYE {reason}\r\n"));
                    }
                    if !send(io, out.as_bytes(), limits).await || fatal {
                        return Ended::Closed;
                    }
                }
                Event::Command(bytes) => {
                    let (reply, after) = session.command(&bytes).await;
                    match reply {
                        Reply::Bytes(out) => {
                            if !send(io, &out, limits).await {
                                return Ended::Closed;
                            }
                        }
                        Reply::Stream(mut rx) => {
                            while let Some(chunk) = rx.recv().await {
                                if !send(io, &chunk, limits).await {
                                    return Ended::Closed;
                                }
                            }
                        }
                    }
                    match after {
                        After::Close => return Ended::Closed,
                        // Bytes sent after STARTTLS before the handshake would be taken as
                        // if they came over TLS (command injection): refused.
                        After::StartTls if framer.buffered() > 0 => {
                            let _ = send(
                                io,
                                b"* BYE commands sent after STARTTLS before the TLS handshake\r\n",
                                limits,
                            )
                            .await;
                            return Ended::Closed;
                        }
                        After::StartTls => return Ended::StartTls,
                        After::Idle => {
                            if !idle(io, session, framer, limits, stop, &mut buf).await {
                                return Ended::Closed;
                            }
                        }
                        After::Continue | After::AuthenticateData => {}
                    }
                }
            }
        }
        let idle = if session.caller().is_some() {
            SIGNED_IN_IDLE
        } else {
            limits.idle
        };
        let n = tokio::select! {
            r = tokio::time::timeout(idle, io.read(&mut buf)) => match r {
                Ok(Ok(n)) if n > 0 => n,
                Ok(_) => return Ended::Closed,
                Err(_) => {
                    let _ = send(io, b"* BYE idle for too long\r\n", limits).await;
                    return Ended::Closed;
                }
            },
            _ = stop.changed() => {
                let _ = send(io, b"* BYE the server is shutting down\r\n", limits).await;
                return Ended::Closed;
            }
        };
        framer.push(&buf[..n]);
    }
}
