//! Certificates made at test time, for servers the tests start with TLS
//! (PostgreSQL, Redis): a CA of their own and a server certificate it
//! signed for `localhost` and `127.0.0.1`, written as PEM files to a fresh
//! directory that is removed when the [`TestCertificates`] is dropped.
//!
//! Each call makes a new CA, so a second [`TestCertificates::generate`]
//! gives "a CA the server's certificate does not verify against".

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The host names and addresses every server certificate is valid for.
pub const SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

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

        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own: a client given another CA sees an unknown
        // issuer, as with a real wrong CA.
        let ca_name = format!("test-support CA {}", uuid::Uuid::new_v4().simple());
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap();
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
        let server_cert = params.signed_by(&server_key, &issuer).unwrap();

        let ca_pem = ca_cert.pem();
        let certificates = Self {
            ca_cert: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            dir,
            ca_pem,
        };
        fs::write(&certificates.ca_cert, &certificates.ca_pem).unwrap();
        fs::write(&certificates.server_cert, server_cert.pem()).unwrap();
        write_private(&certificates.server_key, &server_key.serialize_pem());
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
