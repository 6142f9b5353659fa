//! `DATABASE_URL`: what `migrate` and `make-admin` need, and `serve` too.

use std::fmt;

use super::error::{ConfigError, invalid};
use super::settings::Settings;

/// Checks a URL's scheme and host. The parser's messages never include
/// the URL itself, which may hold a password.
pub(super) fn checked_url(
    name: &'static str,
    raw: &str,
    schemes: &[&str],
) -> Result<url::Url, ConfigError> {
    let parsed = url::Url::parse(raw).map_err(|error| invalid(name, error.to_string()))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(invalid(
            name,
            format!("scheme must be one of {}", schemes.join(", ")),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid(name, "no host"));
    }
    Ok(parsed)
}

/// A PostgreSQL URL. It reads as the `&str` the adapters take; its `Debug`
/// hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        checked_url("DATABASE_URL", raw, &["postgres", "postgresql"])?;
        Ok(Self(raw.to_owned()))
    }
}

impl std::ops::Deref for DatabaseUrl {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                // Only fails for URLs that cannot have a password at all.
                let _ = url.set_password(Some("********"));
                write!(f, "DatabaseUrl({url})")
            }
            Ok(url) => write!(f, "DatabaseUrl({url})"),
            Err(_) => f.write_str("DatabaseUrl(<unparsable>)"),
        }
    }
}

/// What the database subcommands need.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub database_url: DatabaseUrl,
}

impl DatabaseConfig {
    pub fn load(settings: &Settings) -> Result<Self, ConfigError> {
        let raw = Settings::required(settings.database_url.as_ref(), "DATABASE_URL")?;
        Ok(Self {
            database_url: DatabaseUrl::parse(raw)?,
        })
    }
}
