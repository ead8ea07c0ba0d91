//! Listeners that cannot take the server down: every service (web, Administration API, and the
//! IMAP and SMTP services to come) accepts through [`Limits`].
//!
//! * **Connections**: at most [`Limits::max_connections`] open at once, and at most
//!   [`Limits::max_per_address`] from one client address; a connection over either limit is
//!   closed at once (before TLS), so a flood costs a socket, not a thread or a handshake.
//! * **Time**: the TLS handshake must finish within [`Limits::handshake`]; a connection with
//!   no request in progress and no byte moving for [`Limits::idle`] is closed (a client that
//!   finished TLS and sends nothing); a request must arrive whole, body included, within
//!   [`Limits::request`] (a slow body), and its headers within [`Limits::handshake`].
//! * **Accept errors** (`EMFILE`: no file descriptors left) back off from 10 ms up to 1 s
//!   instead of spinning a core, and are logged once per burst.
//! * **Security headers** on every HTTP answer ([`security_headers`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Response, StatusCode, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// The limits of one listener.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub max_per_address: usize,
    pub handshake: Duration,
    pub idle: Duration,
    pub request: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_per_address: 64,
            handshake: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            request: Duration::from_secs(120),
        }
    }
}

/// Counts open connections, in all and per address.
#[derive(Default)]
pub struct Gate {
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; leaves the count when dropped.
pub struct Ticket {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut g = self.gate.open.lock().unwrap_or_else(|p| p.into_inner());
        g.0 = g.0.saturating_sub(1);
        if let Some(n) = g.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                g.1.remove(&self.ip);
            }
        }
    }
}

impl Gate {
    /// Admits a connection from `ip`, or `None` when a limit is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, limits: &Limits) -> Option<Ticket> {
        let mut g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let from = g.1.get(&ip).copied().unwrap_or(0);
        if g.0 >= limits.max_connections || from >= limits.max_per_address {
            return None;
        }
        g.0 += 1;
        *g.1.entry(ip).or_default() += 1;
        Some(Ticket {
            gate: self.clone(),
            ip,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).0
    }
}

/// Accepts the next connection; on errors (`EMFILE`, `ENFILE`, `ENOBUFS`...) waits a little
/// longer each time instead of spinning.
pub async fn accept(listener: &TcpListener, what: &str) -> (TcpStream, SocketAddr) {
    let mut pause = Duration::from_millis(10);
    let mut logged = false;
    loop {
        match listener.accept().await {
            Ok(c) => return c,
            Err(e) => {
                if !logged {
                    crate::log!(
                        "WARN",
                        "{what}: cannot accept connections: {e}; backing off"
                    );
                    logged = true;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// The accept loop of a line-protocol service (IMAP, SMTP): accepts until `stop`, admits each
/// connection through the [`Gate`] (one over a limit is closed at once, before TLS, and
/// `refused` is told), runs `serve_one` for it as a task, and at `stop` waits for the open
/// connections to finish. NODELAY is set: answers go out in several writes (a literal, then
/// the status), and without it the last one waits for the client's delayed ACK (~40 ms).
pub async fn serve_connections<F, Fut>(
    listener: TcpListener,
    what: &'static str,
    limits: Limits,
    gate: Arc<Gate>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut refused: impl FnMut(),
    mut serve_one: F,
) where
    F: FnMut(TcpStream, SocketAddr, Ticket) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (tcp, peer) = tokio::select! {
            c = accept(&listener, what) => c,
            _ = stop.changed() => break,
        };
        while conns.try_join_next().is_some() {}
        let _ = tcp.set_nodelay(true);
        let Some(ticket) = gate.admit(peer.ip(), &limits) else {
            refused();
            continue;
        };
        conns.spawn(serve_one(tcp, peer, ticket));
    }
    while conns.join_next().await.is_some() {}
}

/// Milliseconds since the connection opened, of its last byte moved.
struct Activity {
    start: Instant,
    last: AtomicU64,
    /// Requests being answered now (a long-poll moves no byte for a while).
    busy: AtomicUsize,
}

impl Activity {
    fn touch(&self) {
        self.last
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// A stream that notes when bytes move.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Counts a request as in progress until its answer is ready (dropped with its future, so a
/// request abandoned midway is counted out too).
struct Busy(Arc<Activity>);

impl Busy {
    fn new(a: &Arc<Activity>) -> Busy {
        a.busy.fetch_add(1, Ordering::Relaxed);
        Busy(a.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// Accepts TCP connections within `limits`, completes TLS and serves HTTP/1.1 until `stop`
/// turns true; then stops accepting and lets the open connections finish.
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    limits: Limits,
    gate: Arc<Gate>,
    what: &'static str,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut conns = tokio::task::JoinSet::new();
    let app = app.layer(axum::middleware::map_response(security_headers));
    loop {
        let (tcp, peer) = tokio::select! {
            c = accept(&listener, what) => c,
            _ = stop.changed() => break,
        };
        // Reap finished connections so the set does not grow.
        while conns.try_join_next().is_some() {}
        let Some(ticket) = gate.admit(peer.ip(), &limits) else {
            drop(tcp);
            continue;
        };
        let (acceptor, app, mut stop, limits) =
            (acceptor.clone(), app.clone(), stop.clone(), limits.clone());
        conns.spawn(async move {
            let _ticket = ticket;
            let Ok(Ok(tls)) = tokio::time::timeout(limits.handshake, acceptor.accept(tcp)).await
            else {
                return;
            };
            let activity = Arc::new(Activity {
                start: Instant::now(),
                last: AtomicU64::new(0),
                busy: AtomicUsize::new(0),
            });
            let io = Watched {
                inner: tls,
                activity: activity.clone(),
            };
            let act = activity.clone();
            let request_limit = limits.request;
            let svc = tower::ServiceBuilder::new()
                .map_request(move |mut r: axum::http::Request<hyper::body::Incoming>| {
                    r.extensions_mut().insert(ConnectInfo(peer));
                    r
                })
                .service(app);
            let svc = tower::ServiceExt::map_future(svc, move |f| {
                let busy = Busy::new(&act);
                async move {
                    let _busy = busy;
                    match tokio::time::timeout(request_limit, f).await {
                        Ok(r) => r,
                        Err(_) => Ok(timeout_answer()),
                    }
                }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.handshake);
            let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(svc));
            tokio::pin!(conn);
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = conn.as_mut() => return,
                    _ = tick.tick() => {
                        if activity.busy.load(Ordering::Relaxed) == 0
                            && activity.idle_for() >= limits.idle
                        {
                            // Idle: nothing in progress and no byte moved for too long.
                            return;
                        }
                    }
                    _ = stop.changed() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(Duration::from_secs(30), conn.as_mut()).await;
                        return;
                    }
                }
            }
        });
    }
    while conns.join_next().await.is_some() {}
}

fn timeout_answer() -> axum::response::Response {
    let mut r = axum::response::IntoResponse::into_response((
        StatusCode::REQUEST_TIMEOUT,
        "the request did not complete in time\n",
    ));
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// The headers every answer carries: HTTPS only from now on, no sniffing, no framing, no
/// scripts or resources from anywhere (this API answers JSON; the web interface will bring its
/// own, equally strict, policy), no referrer.
pub async fn security_headers<B>(mut r: Response<B>) -> Response<B> {
    let h = r.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: header::HeaderName, v: &'static str| {
        if !h.contains_key(&k) {
            h.insert(k, HeaderValue::from_static(v));
        }
    };
    set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "no-referrer");
    r
}

/// Plain HTTP: every request is redirected to the same path over HTTPS at the configured
/// server name (never the request's `Host`, which an attacker chooses); nothing else.
pub async fn serve_redirect(
    listener: TcpListener,
    https_port: u16,
    server_name: String,
    limits: Limits,
    gate: Arc<Gate>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let host = if https_port == 443 {
        server_name
    } else {
        format!("{server_name}:{https_port}")
    };
    let app = Router::new().fallback(move |uri: axum::http::Uri| {
        let host = host.clone();
        async move {
            let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let to = format!("https://{host}{path}");
            (
                StatusCode::PERMANENT_REDIRECT,
                [(header::LOCATION, to.clone())],
                format!("Arkiv accepts connections over HTTPS only: {to}\n"),
            )
        }
    });
    let app = app.layer(axum::middleware::map_response(security_headers));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (tcp, peer) = tokio::select! {
            c = accept(&listener, "HTTP redirect") => c,
            _ = stop.changed() => break,
        };
        while conns.try_join_next().is_some() {}
        let Some(ticket) = gate.admit(peer.ip(), &limits) else {
            continue;
        };
        let (app, limits) = (app.clone(), limits.clone());
        conns.spawn(async move {
            let _ticket = ticket;
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.handshake)
                .keep_alive(false);
            let conn = builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app));
            let _ = tokio::time::timeout(limits.request, conn).await;
        });
    }
    while conns.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_counts_in_all_and_per_address() {
        let gate = Arc::new(Gate::default());
        let limits = Limits {
            max_connections: 3,
            max_per_address: 2,
            ..Limits::default()
        };
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let t1 = gate.admit(a, &limits).unwrap();
        let _t2 = gate.admit(a, &limits).unwrap();
        assert!(gate.admit(a, &limits).is_none(), "per address");
        let _t3 = gate.admit(b, &limits).unwrap();
        assert!(gate.admit(b, &limits).is_none(), "in all");
        drop(t1);
        let _t4 = gate.admit(a, &limits).expect("room again");
        assert_eq!(gate.open(), 3);
    }
}
