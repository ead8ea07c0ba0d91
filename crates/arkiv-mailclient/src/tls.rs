//! TLS for client connections: rustls with ring (the provider the whole tree uses), and the
//! certificate policy of a [`Trust`].
//!
//! Handshake signatures are verified in every mode; only *which certificate* is accepted
//! differs. When a certificate is refused, the verifier keeps its fingerprint so that the
//! error can tell the administrator what to pin.

use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::{Error, Result, Trust};

/// SHA-256 of a certificate's DER bytes, as colon-separated upper-case hex.
pub fn fingerprint(cert: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, cert);
    d.as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system's certificate authorities (`/etc/ssl/certs`, as `update-ca-certificates`
/// maintains them), or Mozilla's list when the system has none. Loaded once.
fn system_roots() -> Arc<RootCertStore> {
    static R: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    R.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for c in found.certs {
            let _ = roots.add(c);
        }
        if roots.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        Arc::new(roots)
    })
    .clone()
}

/// What the verifier saw of a refused certificate.
#[derive(Default, Debug)]
pub(crate) struct Refusal {
    pub fingerprint: Option<String>,
}

#[derive(Debug)]
enum Policy {
    Verify(Arc<WebPkiServerVerifier>),
    Pin([u8; 32]),
    Any,
}

#[derive(Debug)]
struct Verifier {
    policy: Policy,
    refusal: Arc<Mutex<Refusal>>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let refuse = |e: rustls::Error| {
            self.refusal
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .fingerprint = Some(fingerprint(end_entity));
            Err(e)
        };
        match &self.policy {
            Policy::Any => Ok(ServerCertVerified::assertion()),
            Policy::Pin(want) => {
                let got = ring::digest::digest(&ring::digest::SHA256, end_entity);
                if got.as_ref() == want.as_slice() {
                    Ok(ServerCertVerified::assertion())
                } else {
                    refuse(rustls::Error::General(
                        "its fingerprint is not the pinned one".into(),
                    ))
                }
            }
            Policy::Verify(v) => {
                match v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
                    Ok(ok) => Ok(ok),
                    Err(e) => refuse(e),
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client configuration for `trust`, for programs that open their own TLS connections
/// (`arkiv bench imap-server` talks raw IMAP through it).
pub fn config(trust: &Trust) -> Result<Arc<rustls::ClientConfig>> {
    client_config(trust).map(|(config, _)| config)
}

/// A client configuration for `trust`, and the slot where a refused certificate's
/// fingerprint lands.
pub(crate) fn client_config(
    trust: &Trust,
) -> Result<(Arc<rustls::ClientConfig>, Arc<Mutex<Refusal>>)> {
    let policy = match trust {
        Trust::Any => Policy::Any,
        Trust::Pin(p) => Policy::Pin(*p),
        Trust::Verify | Trust::VerifyWith(_) => {
            let roots = match trust {
                Trust::VerifyWith(path) => {
                    let mut roots = (*system_roots()).clone();
                    let pem = std::fs::read(path).map_err(|e| Error::Config {
                        what: format!("cannot read the CA file {}: {e}", path.display()),
                    })?;
                    let mut n = 0;
                    for c in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
                        let c: CertificateDer<'static> = c.map_err(|e| Error::Config {
                            what: format!("the CA file {} is not PEM: {e}", path.display()),
                        })?;
                        roots.add(c).map_err(|e| Error::Config {
                            what: format!("a certificate in {} is unusable: {e}", path.display()),
                        })?;
                        n += 1;
                    }
                    if n == 0 {
                        return Err(Error::Config {
                            what: format!("the CA file {} holds no certificate", path.display()),
                        });
                    }
                    Arc::new(roots)
                }
                _ => system_roots(),
            };
            let v = WebPkiServerVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| Error::Config {
                    what: format!("no usable certificate authorities: {e}"),
                })?;
            Policy::Verify(v)
        }
    };
    let refusal = Arc::new(Mutex::new(Refusal::default()));
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config {
            what: format!("TLS setup: {e}"),
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier {
            policy,
            refusal: refusal.clone(),
        }))
        .with_no_client_auth();
    Ok((Arc::new(config), refusal))
}
