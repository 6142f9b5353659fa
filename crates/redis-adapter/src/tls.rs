//! TLS to Redis (`rediss://`): the roots certificates are checked
//! against (the start-up check is `RedisEndpoint::check_tls`).
//! The redis crate does its own TLS (rustls, the same roots); the
//! revocation cache's connection uses [`client_config`] directly.

use std::sync::{Arc, Once};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

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
