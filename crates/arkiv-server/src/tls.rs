//! TLS for every listener: configured PEM files, a PKCS#12 (`.p12`/`.pfx`) file, or a
//! self-signed certificate made on first start (`DATA/tls/cert.pem`, `DATA/tls/key.pem`, the
//! key readable by the owner only). PKCS#12 is read with `p12-keystore` (pure Rust; modern
//! PBES2/AES and the legacy 3DES/RC2 schemes Windows exports still use).
//!
//! One crypto provider for the whole tree: rustls with *ring* (rcgen uses ring too), installed
//! explicitly so nothing picks aws-lc-rs by default.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result, bail};
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

pub struct TlsSetup {
    pub acceptor: TlsAcceptor,
    /// Where the certificate comes from, and the key currently served: `reload` swaps it.
    pub cert: Arc<Reloadable>,
}

/// The certificate and key served, re-read from their files on [`Reloadable::reload`]
/// (SIGHUP): a renewed certificate takes effect without a restart; connections already open
/// keep theirs.
#[derive(Debug)]
pub struct Reloadable {
    source: CertSource,
    provider: Arc<rustls::crypto::CryptoProvider>,
    current: RwLock<(Arc<CertifiedKey>, String)>,
}

impl Reloadable {
    fn load(&self) -> Result<(Arc<CertifiedKey>, String)> {
        load_source(&self.source, &self.provider)
    }

    /// Re-reads the files; on any error the served certificate stays as it was.
    pub fn reload(&self) -> Result<String> {
        let (key, fp) = self.load()?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = (key, fp.clone());
        Ok(fp)
    }

    pub fn fingerprint(&self) -> String {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    /// The served certificate's subject, issuer and validity (RFC 3339, UTC), for
    /// `GetServiceConfiguration`; `None` for a certificate x509-parser cannot read.
    pub fn details(&self) -> Option<CertDetails> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        let der = current.0.cert.first()?;
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        let time = |t: x509_parser::time::ASN1Time| {
            jiff::Timestamp::from_second(t.timestamp())
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
        let v = cert.validity();
        Some(CertDetails {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: time(v.not_before),
            not_after: time(v.not_after),
            self_signed: cert.subject() == cert.issuer(),
        })
    }
}

/// What `Reloadable::details` tells about the served certificate.
pub struct CertDetails {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    pub self_signed: bool,
}

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .0
                .clone(),
        )
    }
}

/// Where the served certificate and key come from.
#[derive(Clone)]
pub enum CertSource {
    /// A PEM certificate chain and a PEM private key.
    Pem { cert: PathBuf, key: PathBuf },
    /// A PKCS#12 file with its password.
    Pkcs12 { file: PathBuf, password: String },
}

impl std::fmt::Debug for CertSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertSource::Pem { cert, key } => {
                write!(f, "PEM {} + {}", cert.display(), key.display())
            }
            // Never the password.
            CertSource::Pkcs12 { file, .. } => write!(f, "PKCS#12 {}", file.display()),
        }
    }
}

fn load_source(
    source: &CertSource,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<(Arc<CertifiedKey>, String)> {
    match source {
        CertSource::Pem { cert, key } => load_pair(cert, key, provider),
        CertSource::Pkcs12 { file, password } => load_pkcs12(file, password, provider),
    }
}

fn load_pkcs12(
    path: &Path,
    password: &str,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<(Arc<CertifiedKey>, String)> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let store = p12_keystore::KeyStore::from_pkcs12(
        &data,
        password,
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "{}: not a readable PKCS#12 file, or the password is wrong ({e})",
            path.display()
        )
    })?;
    let (_, chain) = store.private_key_chain().with_context(|| {
        format!(
            "{} holds no private key with its certificate",
            path.display()
        )
    })?;
    let certs: Vec<CertificateDer<'static>> = chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    if certs.is_empty() {
        bail!(
            "{} holds a private key without a certificate",
            path.display()
        );
    }
    let key = PrivateKeyDer::Pkcs8(chain.key().as_der().to_vec().into());
    let fp = fingerprint(&certs[0]);
    let ck = CertifiedKey::from_der(certs, key, provider)
        .with_context(|| format!("{}: the key cannot be used", path.display()))?;
    Ok((Arc::new(ck), fp))
}

fn load_pair(
    cert_path: &Path,
    key_path: &Path,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<(Arc<CertifiedKey>, String)> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .with_context(|| format!("reading certificate {}", cert_path.display()))?
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("reading certificate {}", cert_path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no PEM certificate", cert_path.display());
    }
    let key = PrivateKeyDer::from_pem_file(key_path)
        .with_context(|| format!("reading private key {}", key_path.display()))?;
    let fp = fingerprint(&certs[0]);
    let ck = CertifiedKey::from_der(certs, key, provider)
        .context("the certificate and the private key do not match")?;
    Ok((Arc::new(ck), fp))
}

/// The SHA-256 fingerprint of a DER certificate, as colon-separated upper-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    d.as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Whether a PEM file is whole: it ends with the END line of a block of `kind`.
fn whole_pem(path: &Path, kind: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| {
        t.trim_end()
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("-----END ") && l.contains(kind))
    })
}

/// The self-signed certificate in `DATA/tls/`, made on first start. It is made in
/// `DATA/tls.new/` (key 0600, both files synced), which is then renamed to `DATA/tls/` and the
/// data directory synced: a crash at any point leaves either no `tls/` or a whole one. A
/// `tls/` that is not whole (a crash of an older version, a disk that lied) is moved aside
/// to `tls.broken-<time>/` with a warning and a new certificate is made, so a later start is
/// never blocked by it.
fn self_signed(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let tls = dir.join("tls");
    let (cert, key) = (tls.join("cert.pem"), tls.join("key.pem"));
    if whole_pem(&cert, "CERTIFICATE") && whole_pem(&key, "PRIVATE KEY") {
        return Ok((cert, key));
    }
    if tls.exists() {
        let stamp = arkiv_types::Timestamp::now().to_rfc3339().replace(':', "");
        let aside = (0..)
            .map(|n| match n {
                0 => dir.join(format!("tls.broken-{stamp}")),
                n => dir.join(format!("tls.broken-{stamp}-{n}")),
            })
            .find(|p| !p.exists())
            .expect("a free name");
        std::fs::rename(&tls, &aside)
            .with_context(|| format!("moving the incomplete {} aside", tls.display()))?;
        crate::log!(
            "WARN",
            "the self-signed certificate in {} was incomplete (an interrupted first start?); moved to {} and made anew",
            tls.display(),
            aside.display()
        );
    }
    let new = dir.join("tls.new");
    if new.exists() {
        std::fs::remove_dir_all(&new).with_context(|| format!("removing {}", new.display()))?;
    }
    std::fs::create_dir_all(&new).with_context(|| format!("creating {}", new.display()))?;
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        let h = h.trim();
        if !h.is_empty() {
            names.push(h.to_string());
        }
    }
    let ck = rcgen::generate_simple_self_signed(names).context("generating a certificate")?;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let write = |path: &Path, text: &str| -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("writing {}", path.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
            .with_context(|| format!("syncing {}", path.display()))
    };
    write(&new.join("key.pem"), &ck.signing_key.serialize_pem())?;
    write(&new.join("cert.pem"), &ck.cert.pem())?;
    let sync_dir = |d: &Path| -> Result<()> {
        std::fs::File::open(d)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing {}", d.display()))
    };
    sync_dir(&new)?;
    std::fs::rename(&new, &tls)
        .with_context(|| format!("renaming {} to {}", new.display(), tls.display()))?;
    sync_dir(dir)?;
    crate::log!(
        "INFO",
        "generated a self-signed TLS certificate in {}",
        tls.display()
    );
    Ok((cert, key))
}

/// Loads the configured certificate, or the self-signed one (made if missing).
pub fn load_or_create(data_dir: &Path, configured: Option<&CertSource>) -> Result<TlsSetup> {
    let source = match configured {
        Some(s) => s.clone(),
        None => {
            let (cert, key) = self_signed(data_dir)?;
            CertSource::Pem { cert, key }
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (key, fp) = load_source(&source, &provider)?;
    let cert = Arc::new(Reloadable {
        source,
        provider: provider.clone(),
        current: RwLock::new((key, fp)),
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(cert.clone());
    // IMAP clients may offer "imap" (RFC 9051 §11.1); browsers and API clients "http/1.1".
    config.alpn_protocols = vec![b"http/1.1".to_vec(), b"imap".to_vec()];
    Ok(TlsSetup {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        cert,
    })
}
