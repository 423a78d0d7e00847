//! `wss://`: TLS for both roles with rustls (the `ring` provider).
//!
//! - Server: build a [`TlsAcceptor`] from a PEM certificate chain and key
//!   ([`acceptor_from_pem_files`], [`acceptor_from_pem`]), then
//!   [`accept_tls_with`] runs the TLS handshake and the WebSocket handshake.
//! - Client: [`crate::connect`] and [`crate::connect_with`] take `wss://`
//!   URLs and trust the Mozilla roots of `webpki-roots`. [`crate::connect_tls_with`]
//!   takes a [`TlsConnector`] that says which roots are trusted: those, plus
//!   (or instead) CA certificates from PEM, for a private CA or a
//!   self-signed test certificate. The server name (SNI and certificate
//!   check) is the URL's host. Both return a [`WebSocketStream`] over a
//!   [`MaybeTlsStream`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use futures_util::{SinkExt, StreamExt};
//! let tls = wsx::tls::TlsConnector::webpki_roots_and_pem_file("my-ca.pem")?;
//! let (mut ws, _resp) =
//!     wsx::connect_tls_with("wss://localhost:9443/", &wsx::ClientConfig::default(), &tls)
//!         .await?;
//! ws.send(wsx::Message::text("hello")).await?;
//! let echo = ws.next().await;
//! # let _ = echo; Ok(()) }
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls::crypto::ring as ring_provider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, RootCertStore};
use tracing::debug;

pub use tokio_rustls::TlsAcceptor;

use crate::config::ServerConfig;
use crate::error::{Error, HandshakeError};
use crate::maybe_tls::MaybeTlsStream;
use crate::stream::WebSocketStream;

/// A failure to set up TLS: reading or parsing PEM files, or a certificate
/// and key that rustls does not accept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The PEM text is malformed.
    #[error("{what}: malformed PEM: {detail}")]
    Pem {
        /// Which input (a path, or "certificate PEM" / "key PEM").
        what: String,
        /// What the PEM parser said.
        detail: String,
    },
    /// No `CERTIFICATE` section was found.
    #[error("{0}: no certificate found (expected a PEM \"BEGIN CERTIFICATE\" section)")]
    NoCertificates(String),
    /// No private key section was found.
    #[error("{0}: no private key found (expected a PEM \"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\" section)")]
    NoPrivateKey(String),
    /// A CA certificate could not be added to the root store.
    #[error("{what}: invalid CA certificate: {source}")]
    BadRoot {
        /// Which input.
        what: String,
        /// What rustls said.
        source: rustls::Error,
    },
    /// rustls rejected the configuration (for example a key that does not
    /// match the certificate, or an unsupported key type).
    #[error("TLS configuration rejected: {0}")]
    Config(#[from] rustls::Error),
}

fn pem_error(what: &str, e: rustls::pki_types::pem::Error) -> TlsError {
    TlsError::Pem {
        what: what.to_owned(),
        detail: format!("{e:?}"),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Every certificate in PEM text, in order (a chain: leaf first).
/// `what` names the input in errors.
pub fn certs_from_pem(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificates(what.to_owned()));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in PEM text.
pub fn private_key_from_pem(pem: &[u8], what: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(k) => Ok(k),
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            Err(TlsError::NoPrivateKey(what.to_owned()))
        }
        Err(e) => Err(pem_error(what, e)),
    }
}

/// Every certificate of a PEM file.
pub fn load_certs(path: impl AsRef<Path>) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let path = path.as_ref();
    certs_from_pem(&read_file(path)?, &path.display().to_string())
}

/// The first private key of a PEM file.
pub fn load_private_key(path: impl AsRef<Path>) -> Result<PrivateKeyDer<'static>, TlsError> {
    let path = path.as_ref();
    private_key_from_pem(&read_file(path)?, &path.display().to_string())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(ring_provider::default_provider())
}

/// A rustls server configuration (TLS 1.2 and 1.3, no client
/// authentication) for a certificate chain and its key.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// A [`TlsAcceptor`] from a PEM certificate chain file and a PEM key file
/// (what `wsx serve --tls-cert PEM --tls-key PEM` takes).
pub fn acceptor_from_pem_files(
    cert: impl AsRef<Path>,
    key: impl AsRef<Path>,
) -> Result<TlsAcceptor, TlsError> {
    let certs = load_certs(cert)?;
    let key = load_private_key(key)?;
    Ok(TlsAcceptor::from(server_config(certs, key)?))
}

/// A [`TlsAcceptor`] from in-memory PEM text.
pub fn acceptor_from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsAcceptor, TlsError> {
    let certs = certs_from_pem(cert_pem, "certificate PEM")?;
    let key = private_key_from_pem(key_pem, "key PEM")?;
    Ok(TlsAcceptor::from(server_config(certs, key)?))
}

/// The Mozilla root certificates of `webpki-roots`.
pub fn webpki_root_store() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// Add every certificate in PEM text to `store` as a trust anchor; returns
/// how many were added.
pub fn add_pem_roots(store: &mut RootCertStore, pem: &[u8], what: &str) -> Result<usize, TlsError> {
    let certs = certs_from_pem(pem, what)?;
    let n = certs.len();
    for c in certs {
        store.add(c).map_err(|source| TlsError::BadRoot {
            what: what.to_owned(),
            source,
        })?;
    }
    Ok(n)
}

/// Which servers a client trusts. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct TlsConnector {
    inner: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector").finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// Trust exactly the roots in `roots`.
    pub fn with_roots(roots: RootCertStore) -> Result<Self, TlsError> {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self::from_rustls(Arc::new(config)))
    }

    /// Trust the Mozilla roots of `webpki-roots` (what a browser trusts).
    pub fn webpki_roots() -> Result<Self, TlsError> {
        Self::with_roots(webpki_root_store())
    }

    /// Trust only the CA certificates in PEM text (a private CA, or a
    /// self-signed certificate in tests).
    pub fn with_root_ca_pem(pem: &[u8]) -> Result<Self, TlsError> {
        let mut store = RootCertStore::empty();
        add_pem_roots(&mut store, pem, "root CA PEM")?;
        Self::with_roots(store)
    }

    /// Trust the Mozilla roots plus the CA certificates of a PEM file
    /// (for a `--tls-ca PEM` flag).
    pub fn webpki_roots_and_pem_file(path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let path = path.as_ref();
        let mut store = webpki_root_store();
        add_pem_roots(&mut store, &read_file(path)?, &path.display().to_string())?;
        Self::with_roots(store)
    }

    /// Use a rustls client configuration as it is (client certificates,
    /// custom verifiers, ALPN...).
    pub fn from_rustls(config: Arc<rustls::ClientConfig>) -> Self {
        TlsConnector {
            inner: tokio_rustls::TlsConnector::from(config),
        }
    }

    /// The rustls client configuration (for the blocking adapter, or to
    /// derive another configuration).
    pub fn rustls_config(&self) -> Arc<rustls::ClientConfig> {
        self.inner.config().clone()
    }

    /// Run the TLS client handshake over `stream` for server name `host`
    /// (a DNS name, or an IP address, which is checked against the
    /// certificate's IP addresses and sends no SNI).
    pub async fn connect<S>(
        &self,
        host: &str,
        stream: S,
    ) -> Result<tokio_rustls::client::TlsStream<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let name = ServerName::try_from(host.to_owned()).map_err(|e| {
            HandshakeError::Url(format!("{host:?} is not a valid TLS server name: {e}"))
        })?;
        self.inner.connect(name, stream).await.map_err(|e| {
            debug!(error = %e, host, "TLS handshake failed");
            Error::Handshake(HandshakeError::Io(io::Error::new(
                e.kind(),
                format!("TLS handshake with {host} failed: {e}"),
            )))
        })
    }
}

/// The connector [`crate::connect`] and [`crate::connect_with`] use for
/// `wss://`: the `webpki-roots` Mozilla roots, built once.
pub fn default_connector() -> Result<&'static TlsConnector, Error> {
    static DEFAULT: OnceLock<Option<TlsConnector>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| TlsConnector::webpki_roots().ok())
        .as_ref()
        .ok_or_else(|| {
            HandshakeError::Invalid("cannot build the default TLS client configuration".into())
                .into()
        })
}

/// Server side: run the TLS handshake on `stream`, then the WebSocket
/// handshake ([`crate::accept_with`]), the two together within
/// `config.handshake_timeout`.
pub async fn accept_tls_with<S>(
    stream: S,
    acceptor: &TlsAcceptor,
    config: &ServerConfig,
) -> Result<WebSocketStream<MaybeTlsStream<S>>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let fut = async {
        let tls = acceptor.accept(stream).await.map_err(|e| {
            debug!(error = %e, "TLS handshake failed");
            Error::Handshake(HandshakeError::Io(io::Error::new(
                e.kind(),
                format!("TLS handshake failed: {e}"),
            )))
        })?;
        crate::accept_with(MaybeTlsStream::from(tls), config).await
    };
    match tokio::time::timeout(config.handshake_timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(HandshakeError::Timeout.into()),
    }
}
