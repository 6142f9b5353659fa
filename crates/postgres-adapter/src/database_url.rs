//! A parsed `postgres://` URL: its database, its TLS parameters, and the
//! forms of its password that must never appear in a message.

use crate::error::PgError;
use crate::tls::{SslMode, TlsOptions};

/// The parameters read here and hidden from tokio-postgres (which knows
/// neither `verify-*` nor `sslrootcert`).
const TLS_PARAMETERS: [&str; 2] = ["sslmode", "sslrootcert"];

pub(crate) struct DatabaseUrl {
    url: url::Url,
    /// What tokio-postgres connects to: the TLS parameters replaced by
    /// `sslmode=require` when TLS is wanted (our connector then decides
    /// what a valid certificate is), removed otherwise.
    driver: url::Url,
    pub(crate) tls: TlsOptions,
    pub(crate) secrets: Vec<String>,
}

impl DatabaseUrl {
    pub(crate) fn parse(raw: &str) -> Result<Self, PgError> {
        // The url crate's messages describe the problem, never the input.
        let url = url::Url::parse(raw).map_err(PgError::MalformedUrl)?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(PgError::InvalidUrl(
                "it must start with postgres:// or postgresql://",
            ));
        }
        let secrets = url
            .password()
            .map(|raw| {
                let decoded = percent_decode(raw).unwrap_or_default();
                vec![raw.to_owned(), decoded]
            })
            .unwrap_or_default();
        let mut tls = TlsOptions::plain();
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "sslmode" => tls.mode = SslMode::parse(&value)?,
                "sslrootcert" => tls.root_cert = Some(value.into_owned()),
                _ => {}
            }
        }
        let driver = driver_url(&url, &tls);
        Ok(Self {
            url,
            driver,
            tls,
            secrets,
        })
    }

    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The URL for tokio-postgres.
    pub(crate) fn driver_url(&self) -> &str {
        self.driver.as_str()
    }

    /// The database the URL names (its path, percent-decoded).
    pub(crate) fn database(&self) -> Result<String, PgError> {
        let raw = self.url.path().trim_start_matches('/');
        if raw.is_empty() {
            return Err(PgError::InvalidUrl("it names no database"));
        }
        percent_decode(raw)
            .ok_or_else(|| PgError::InvalidUrl("the database name is not valid UTF-8"))
    }

    /// The same server, credentials and TLS, another database.
    pub(crate) fn with_database(&self, database: &str) -> Self {
        let mut url = self.url.clone();
        // `set_path` percent-encodes what a path cannot hold.
        url.set_path(&format!("/{database}"));
        Self {
            driver: driver_url(&url, &self.tls),
            url,
            tls: self.tls.clone(),
            secrets: self.secrets.clone(),
        }
    }
}

fn driver_url(url: &url::Url, tls: &TlsOptions) -> url::Url {
    let mut driver = url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| !TLS_PARAMETERS.contains(&key.as_ref()))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    driver.set_query(None);
    if !kept.is_empty() || tls.wanted() {
        let mut query = driver.query_pairs_mut();
        query.extend_pairs(kept);
        if tls.wanted() {
            query.append_pair("sslmode", "require");
        }
    }
    driver
}

/// Decodes `%XX` escapes (and nothing else: `+` stays `+` in a URL path).
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_database_and_the_password_forms() {
        let url = DatabaseUrl::parse("postgres://me:p%40ss@db.local:5433/my%20db?sslmode=disable")
            .unwrap();
        assert_eq!(url.database().unwrap(), "my db");
        assert_eq!(url.secrets, vec!["p%40ss".to_owned(), "p@ss".to_owned()]);
        let maintenance = url.with_database("postgres");
        assert_eq!(
            maintenance.as_str(),
            "postgres://me:p%40ss@db.local:5433/postgres?sslmode=disable"
        );
    }

    #[test]
    fn rejects_urls_that_are_not_postgres() {
        assert!(matches!(
            DatabaseUrl::parse("mysql://u@h/db"),
            Err(PgError::InvalidUrl(_))
        ));
        assert!(matches!(
            DatabaseUrl::parse("not a url"),
            Err(PgError::MalformedUrl(_))
        ));
        let no_database = DatabaseUrl::parse("postgres://u@h").unwrap();
        assert!(matches!(
            no_database.database(),
            Err(PgError::InvalidUrl(_))
        ));
    }

    #[test]
    fn percent_decoding_leaves_plus_and_stray_percent_alone() {
        assert_eq!(percent_decode("a+b%2Bc%").as_deref(), Some("a+b+c%"));
        assert_eq!(percent_decode("%zz").as_deref(), Some("%zz"));
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn tls_parameters_are_ours_and_hidden_from_the_driver() {
        let url = DatabaseUrl::parse(
            "postgres://u@db:5432/app?application_name=api&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(url.tls.mode, SslMode::VerifyFull);
        assert_eq!(url.tls.root_cert.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(
            url.driver_url(),
            "postgres://u@db:5432/app?application_name=api&sslmode=require"
        );
        let plain = DatabaseUrl::parse("postgres://u@db/app?sslmode=prefer").unwrap();
        assert!(!plain.tls.wanted());
        assert_eq!(plain.driver_url(), "postgres://u@db/app");
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@db/app?sslmode=maybe"),
            Err(PgError::InvalidUrl(_))
        ));
        let other = url.with_database("postgres");
        assert_eq!(
            other.driver_url(),
            "postgres://u@db:5432/postgres?application_name=api&sslmode=require"
        );
    }
}
