//! TLS to Redis (`rediss://`): the roots certificates are checked
//! against, and the check each binary runs at start so that a certificate
//! that does not verify stops it at once instead of failing every request.
//! The redis crate does its own TLS (rustls, the same roots); the
//! revocation cache's connection uses [`client_config`] directly.

use std::sync::{Arc, Once};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;

use crate::endpoint::RedisEndpoint;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("no certificate in the CA file")]
    NoCertificate,
    #[error("unreadable certificate in the CA file")]
    Pem(#[source] rustls::pki_types::pem::Error),
    #[error("a CA certificate was refused")]
    Refused(#[source] rustls::Error),
    #[error("no system root certificates could be loaded")]
    NoSystemRoots,
    #[error("`{0}` cannot be a TLS server name")]
    ServerName(String),
    /// The server's certificate does not verify (or it speaks no TLS).
    #[error("the TLS handshake with {address} failed")]
    Handshake {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// The redis crate builds its rustls configurations with the process's
/// default crypto provider; more than one may be compiled in, so one is
/// chosen here, before any TLS connection.
pub(crate) fn install_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err: one is installed already, which is as good.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// The private CA's certificates (PEM), or the system's roots.
pub(crate) fn root_store(ca_pem: Option<&[u8]>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem) {
                roots
                    .add(cert.map_err(TlsError::Pem)?)
                    .map_err(TlsError::Refused)?;
            }
            if roots.is_empty() {
                return Err(TlsError::NoCertificate);
            }
        }
        None => {
            let loaded = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
            if added == 0 {
                return Err(TlsError::NoSystemRoots);
            }
        }
    }
    Ok(roots)
}

/// A client configuration checking servers against `ca_pem` (or the
/// system's roots).
pub(crate) fn client_config(ca_pem: Option<&[u8]>) -> Result<Arc<ClientConfig>, TlsError> {
    install_provider();
    let config = ClientConfig::builder()
        .with_root_certificates(root_store(ca_pem)?)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    // The URL parser keeps an IPv6 address in brackets.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|_| TlsError::ServerName(host.to_owned()))
}

impl RedisEndpoint {
    /// For each `rediss://` URL: when its server accepts a connection
    /// within `timeout`, runs a TLS handshake with it. An error means a
    /// certificate that does not verify (or a server that speaks no TLS):
    /// the binary should stop. A server that cannot be reached is no error
    /// here: the service starts and reports not-ready until it answers.
    pub async fn check_tls(&self, timeout: Duration) -> Result<(), TlsError> {
        let mut config = None;
        for url in self.urls() {
            let Ok(parsed) = url::Url::parse(url.expose()) else {
                continue;
            };
            if parsed.scheme() != "rediss" {
                continue;
            }
            let host = parsed.host_str().unwrap_or_default().to_owned();
            let port = parsed.port().unwrap_or(6379);
            let config = match &config {
                Some(config) => Arc::clone(config),
                None => config.insert(client_config(self.ca_cert())?).clone(),
            };
            let connect =
                TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port));
            let Ok(Ok(socket)) = tokio::time::timeout(timeout, connect).await else {
                tracing::warn!(%url, "Redis does not answer yet; its TLS certificate is checked on first use");
                continue;
            };
            let connector = tokio_rustls::TlsConnector::from(config);
            let handshake = connector.connect(server_name(&host)?, socket);
            match tokio::time::timeout(timeout, handshake).await {
                Ok(Ok(_)) => {}
                Ok(Err(source))
                    if source
                        .get_ref()
                        .is_some_and(|inner| inner.is::<rustls::Error>()) =>
                {
                    return Err(TlsError::Handshake {
                        address: format!("{host}:{port}"),
                        source,
                    });
                }
                Ok(Err(_)) | Err(_) => {
                    tracing::warn!(%url, "Redis did not complete a TLS handshake; checked again on first use");
                }
            }
        }
        Ok(())
    }
}
