//! The client side of the Administration API, for `arkiv admin` (the management shell, D4).
//!
//! One HTTPS connection (rustls + ring, like the server), HTTP/1.1 with keep-alive. The server
//! certificate is checked against the web PKI roots, or against a pinned SHA-256 fingerprint
//! (`--pin`, like the manual's `--pkv3`), or not at all (`--insecure`). Handshake signatures
//! are verified in every mode.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde_json::Value;

/// How to reach the server and prove who we are.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// `host`, `host:port` or `https://host:port` (default port 8463, the Administration API).
    pub host: String,
    pub user: String,
    pub password: String,
    /// SHA-256 fingerprint of the server certificate (hex, colons optional).
    pub pin: Option<String>,
    /// Accept any certificate.
    pub insecure: bool,
    /// The local address to connect from (`None`: the system's choice).
    pub bind: Option<std::net::IpAddr>,
}

#[derive(Debug)]
enum Trust {
    Pin(Vec<u8>),
    Any,
}

#[derive(Debug)]
struct Verifier {
    trust: Trust,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.trust {
            Trust::Any => Ok(ServerCertVerified::assertion()),
            Trust::Pin(want) => {
                let got = ring::digest::digest(&ring::digest::SHA256, end_entity);
                if got.as_ref() == want.as_slice() {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(rustls::Error::General(format!(
                        "the server certificate's fingerprint is {}, not the pinned one",
                        crate::tls::fingerprint(end_entity)
                    )))
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn parse_pin(pin: &str) -> Result<Vec<u8>> {
    let hex: String = pin
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    if hex.len() != 64 {
        bail!(
            "--pin must be a SHA-256 fingerprint: 64 hex digits, colons allowed (the server logs it at start)"
        );
    }
    (0..32)
        .map(|i| {
            u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|_| anyhow!("--pin: '{pin}' is not hex"))
        })
        .collect()
}

fn host_port(host: &str) -> Result<(String, u16)> {
    let h = host
        .trim()
        .trim_start_matches("https://")
        .trim_end_matches('/');
    if h.starts_with("http://") {
        bail!("the Administration API is served over HTTPS only");
    }
    match h.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && !port.contains(']') => Ok((
            name.trim_matches(['[', ']']).to_string(),
            port.parse()
                .with_context(|| format!("bad port in --host {host}"))?,
        )),
        _ => Ok((h.trim_matches(['[', ']']).to_string(), 8463)),
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// One connection to the API.
pub struct Client {
    send: Sender,
    host: String,
    auth: String,
}

impl Client {
    pub async fn connect(opts: &ClientOptions) -> Result<Client> {
        let (name, port) = host_port(&opts.host)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let config = if let Some(pin) = &opts.pin {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Verifier {
                    trust: Trust::Pin(parse_pin(pin)?),
                    provider,
                }))
                .with_no_client_auth()
        } else if opts.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Verifier {
                    trust: Trust::Any,
                    provider,
                }))
                .with_no_client_auth()
        } else {
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        let connect = async {
            match opts.bind {
                None => tokio::net::TcpStream::connect((name.as_str(), port)).await,
                Some(ip) => {
                    let to = tokio::net::lookup_host((name.as_str(), port))
                        .await?
                        .find(|a| a.is_ipv4() == ip.is_ipv4())
                        .ok_or_else(|| std::io::Error::other("no address of that family"))?;
                    let socket = if ip.is_ipv4() {
                        tokio::net::TcpSocket::new_v4()?
                    } else {
                        tokio::net::TcpSocket::new_v6()?
                    };
                    socket.bind(std::net::SocketAddr::new(ip, 0))?;
                    socket.connect(to).await
                }
            }
        };
        let tcp = tokio::time::timeout(Duration::from_secs(10), connect)
            .await
            .map_err(|_| anyhow!("connecting to {name}:{port} timed out"))?
            .with_context(|| format!("connecting to {name}:{port}"))?;
        let server_name = ServerName::try_from(name.clone())
            .map_err(|_| anyhow!("'{name}' is not a host name or address"))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(server_name, tcp)
            .await
            .map_err(|e| {
                let hint = if opts.pin.is_none() && !opts.insecure {
                    " (a self-signed server certificate: pass --pin with the fingerprint the server logs at start, or --insecure)"
                } else {
                    ""
                };
                anyhow!("TLS with {name}:{port}: {e}{hint}")
            })?;
        let (send, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", opts.user, opts.password));
        Ok(Client {
            send,
            host: format!("{name}:{port}"),
            auth,
        })
    }

    /// POSTs a form to `path`; returns the HTTP status and the JSON envelope.
    pub async fn post(&mut self, path: &str, form: &[(String, String)]) -> Result<(u16, Value)> {
        let body = serde_urlencoded::to_string(form)?;
        let req = hyper::Request::post(path)
            .header(hyper::header::HOST, &self.host)
            .header(hyper::header::AUTHORIZATION, format!("Basic {}", self.auth))
            // Lets GetActiveSessions tell the management shell from other API callers.
            .header(
                hyper::header::USER_AGENT,
                concat!("arkiv-admin/", env!("CARGO_PKG_VERSION")),
            )
            .header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(Full::new(Bytes::from(body)))?;
        self.send.ready().await?;
        let resp = self.send.send_request(req).await?;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await?.to_bytes();
        let v: Value = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "the server answered HTTP {status} without the API's JSON: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )
        })?;
        Ok((status, v))
    }

    /// Sends any request without the Administration API's credentials (the web benchmark
    /// signs in with a form and a session cookie); returns the status, the headers and the
    /// body exactly as it came over the wire (not decompressed).
    pub async fn request(
        &mut self,
        method: hyper::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, hyper::HeaderMap, Bytes)> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, &self.host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body)))?;
        self.send.ready().await?;
        let resp = self.send.send_request(req).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok((status, headers, bytes))
    }
}
