//! TLS to PostgreSQL with rustls (no OpenSSL): the `sslmode` and
//! `sslrootcert` parameters of `DATABASE_URL`, read as libpq reads them,
//! and the connector tokio-postgres uses. See
//! docs/configuration.md#postgresql-tls.
//!
//! - `disable`, `prefer` (or none): plain connections, as before (`prefer`
//!   never tries TLS).
//! - `require`: encrypted. Like libpq, the certificate is checked against
//!   the CA only when `sslrootcert` is given; without it, any certificate
//!   is accepted (encryption against eavesdropping, not impersonation).
//! - `verify-ca`: the chain must lead to `sslrootcert`.
//! - `verify-full`: the chain, and the host name (or IP) of the URL.
//!
//! `sslrootcert=system` trusts the operating system's roots.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::Socket;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use tokio_rustls::TlsConnector;

use crate::error::PgError;

/// What `sslmode` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// `disable`, `allow`, `prefer` or nothing: plain TCP.
    Plain,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub(crate) fn parse(raw: &str) -> Result<Self, PgError> {
        match raw {
            "disable" | "allow" | "prefer" => Ok(Self::Plain),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            _ => Err(PgError::InvalidUrl(
                "sslmode must be disable, allow, prefer, require, verify-ca or verify-full",
            )),
        }
    }
}

/// The TLS part of a database URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    pub(crate) mode: SslMode,
    /// `sslrootcert`: a PEM file, or `system`.
    pub(crate) root_cert: Option<String>,
}

impl TlsOptions {
    pub(crate) fn plain() -> Self {
        Self {
            mode: SslMode::Plain,
            root_cert: None,
        }
    }

    pub(crate) fn wanted(&self) -> bool {
        self.mode != SslMode::Plain
    }

    /// What the server's certificate is checked against, for messages.
    pub(crate) fn trust_anchor(&self) -> String {
        match &self.root_cert {
            Some(root) => format!("sslrootcert={root}"),
            None => "the trusted roots".to_owned(),
        }
    }

    /// The connector, with the CA file read now (a missing or unreadable
    /// file stops the set-up, not the first query).
    pub(crate) fn connector(&self) -> Result<Option<RustlsConnect>, PgError> {
        let Some(verifier) = self.verifier()? else {
            return Ok(None);
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| PgError::InvalidTls(error.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Some(RustlsConnect(Arc::new(config))))
    }

    /// What a server certificate must pass; `None` without TLS.
    fn verifier(&self) -> Result<Option<Arc<dyn ServerCertVerifier>>, PgError> {
        if !self.wanted() {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match (&self.root_cert, self.mode) {
            (None, SslMode::Require) => {
                Arc::new(AnyCertificate(provider.signature_verification_algorithms))
            }
            (None, _) => {
                return Err(PgError::InvalidTls(
                    "sslmode=verify-ca and verify-full need sslrootcert=<file> (or system)".into(),
                ));
            }
            (Some(root), mode) => {
                let roots = Arc::new(load_roots(root)?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|error| PgError::InvalidTls(format!("sslrootcert={root}: {error}")))?;
                if mode == SslMode::VerifyFull {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
        };
        Ok(Some(verifier))
    }
}

fn load_roots(root: &str) -> Result<RootCertStore, PgError> {
    let mut store = RootCertStore::empty();
    if root == "system" {
        let found = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(found.certs);
    } else {
        let path = PathBuf::from(root);
        let certificates = CertificateDer::pem_file_iter(&path)
            .and_then(|items| items.collect::<Result<Vec<_>, _>>())
            .map_err(|error| PgError::InvalidTls(format!("sslrootcert={root}: {error}")))?;
        store.add_parsable_certificates(certificates);
    }
    if store.is_empty() {
        return Err(PgError::InvalidTls(format!(
            "sslrootcert={root}: no certificate in it"
        )));
    }
    Ok(store)
}

/// Whether `error` (or one of its sources) says the server's certificate
/// did not verify.
pub(crate) fn is_certificate_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(rustls::Error::InvalidCertificate(_)) = error.downcast_ref::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = error
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            && matches!(inner, rustls::Error::InvalidCertificate(_))
        {
            return true;
        }
        current = error.source();
    }
    false
}

/// `verify-ca`: the chain must verify, whatever name the certificate has.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `require` without `sslrootcert`: any certificate (libpq's behaviour),
/// but the handshake's signatures are still checked.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// tokio-postgres's TLS hook, over tokio-rustls.
#[derive(Clone)]
pub(crate) struct RustlsConnect(Arc<ClientConfig>);

impl MakeTlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type TlsConnect = RustlsHandshake;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> io::Result<RustlsHandshake> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        Ok(RustlsHandshake {
            config: Arc::clone(&self.0),
            name,
        })
    }
}

pub(crate) struct RustlsHandshake {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl TlsConnect<Socket> for RustlsHandshake {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream>> + Send>>;

    fn connect(self, socket: Socket) -> Self::Future {
        Box::pin(async move {
            let stream = TlsConnector::from(self.config)
                .connect(self.name, socket)
                .await?;
            Ok(RustlsStream(Box::new(stream)))
        })
    }
}

pub(crate) struct RustlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl tokio_postgres::tls::TlsStream for RustlsStream {
    /// SCRAM then runs without channel binding (`channel_binding=prefer`).
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use test_support::tls::TestCertificates;

    use super::*;

    fn verifier(mode: SslMode, ca: &std::path::Path) -> Arc<dyn ServerCertVerifier> {
        let options = TlsOptions {
            mode,
            root_cert: Some(ca.display().to_string()),
        };
        options.verifier().expect("valid options").expect("TLS")
    }

    fn check(verifier: &dyn ServerCertVerifier, cert: &CertificateDer<'_>, host: &str) -> bool {
        let name = ServerName::try_from(host.to_owned()).expect("a server name");
        verifier
            .verify_server_cert(cert, &[], &name, &[], UnixTime::now())
            .is_ok()
    }

    #[test]
    fn verify_ca_ignores_the_name_and_verify_full_does_not() {
        let certificates = TestCertificates::generate();
        let other = TestCertificates::generate();
        let cert = CertificateDer::from_pem_file(&certificates.server_cert).expect("a PEM cert");

        let full = verifier(SslMode::VerifyFull, &certificates.ca_cert);
        assert!(check(&*full, &cert, "localhost"));
        assert!(check(&*full, &cert, "127.0.0.1"));
        assert!(!check(&*full, &cert, "db.example.com"));

        let chain = verifier(SslMode::VerifyCa, &certificates.ca_cert);
        assert!(check(&*chain, &cert, "db.example.com"));
        // `require` with sslrootcert verifies the chain like verify-ca.
        let required = verifier(SslMode::Require, &certificates.ca_cert);
        assert!(check(&*required, &cert, "db.example.com"));

        for mode in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
            assert!(!check(&*verifier(mode, &other.ca_cert), &cert, "localhost"));
        }
    }

    #[test]
    fn options_that_cannot_work_are_refused() {
        let verify_without_root = TlsOptions {
            mode: SslMode::VerifyFull,
            root_cert: None,
        };
        assert!(matches!(
            verify_without_root.connector(),
            Err(PgError::InvalidTls(_))
        ));
        let missing = TlsOptions {
            mode: SslMode::VerifyCa,
            root_cert: Some("/nonexistent/ca.pem".to_owned()),
        };
        assert!(matches!(missing.connector(), Err(PgError::InvalidTls(_))));
        assert!(TlsOptions::plain().connector().expect("plain").is_none());
    }
}
