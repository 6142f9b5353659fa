//! Certificates made at test time (`rcgen`), for servers the tests start
//! with TLS (PostgreSQL, Redis): a CA of the test's own ([`TestCa`]) and
//! server certificates it signs for `localhost` and `127.0.0.1`, in memory
//! ([`TestCa::server_cert`]) or written as PEM files to a fresh directory
//! that is removed on drop ([`TestCertificates`]).
//!
//! Each CA is new, with a name of its own: a second one is "a CA the
//! server's certificate does not verify against" (an unknown issuer).

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// The host names and addresses every server certificate is valid for.
pub const SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// A certificate authority of the test's own.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server's certificate (for [`SERVER_NAMES`]) and key, PEM.
pub struct ServerCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        let name = format!("test-support CA {}", uuid::Uuid::new_v4().simple());
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    /// The CA's certificate, PEM: what a client trusts.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for [`SERVER_NAMES`], signed by this CA.
    pub fn server_cert(&self) -> ServerCert {
        let mut params = CertificateParams::new(SERVER_NAMES.map(str::to_owned).to_vec()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, SERVER_NAMES[0]);
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// A CA and a server certificate it signed, as PEM files in [`Self::dir`].
#[derive(Debug)]
pub struct TestCertificates {
    /// The directory holding the files; removed on drop.
    pub dir: PathBuf,
    /// The CA's certificate (what a client trusts: `sslrootcert=`,
    /// `REDIS_CA_CERT=`).
    pub ca_cert: PathBuf,
    /// The server's certificate, signed by the CA, for [`SERVER_NAMES`].
    pub server_cert: PathBuf,
    /// The server's private key (mode 0600: PostgreSQL refuses a key
    /// others can read).
    pub server_key: PathBuf,
    /// The CA certificate's PEM text.
    pub ca_pem: String,
}

impl TestCertificates {
    /// A new CA and server certificate in a new temporary directory.
    pub fn generate() -> Self {
        let dir = std::env::temp_dir().join(format!("test-tls-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir_all(&dir).unwrap();
        let ca = TestCa::new();
        let server = ca.server_cert();
        let certificates = Self {
            ca_cert: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            dir,
            ca_pem: ca.cert_pem(),
        };
        fs::write(&certificates.ca_cert, &certificates.ca_pem).unwrap();
        fs::write(&certificates.server_cert, &server.cert_pem).unwrap();
        write_private(&certificates.server_key, &server.key_pem);
        certificates
    }
}

impl Drop for TestCertificates {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn write_private(path: &Path, contents: &str) {
    fs::write(path, contents).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_ca_and_a_server_certificate_and_cleans_up() {
        let certificates = TestCertificates::generate();
        for path in [
            &certificates.ca_cert,
            &certificates.server_cert,
            &certificates.server_key,
        ] {
            let text = fs::read_to_string(path).unwrap();
            assert!(text.starts_with("-----BEGIN "), "{path:?} is PEM");
        }
        let other = TestCertificates::generate();
        assert_ne!(
            certificates.ca_pem, other.ca_pem,
            "each call makes a new CA"
        );
        let dir = certificates.dir.clone();
        drop(certificates);
        assert!(!dir.exists());
    }
}
