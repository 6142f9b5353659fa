//! Configuration from the environment. Each problem is reported as one
//! line naming the variable, and never echoes a secret or a URL password.

use std::net::IpAddr;

use secrecy::SecretString;

use domain::PasswordPolicy;
use http_api::crypto::{JwtAlgorithm, JwtCodec};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

/// Reads variables through `lookup` so tests need not touch the process
/// environment. Empty values count as unset.
pub struct Env<F>(pub F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn get(&self, name: &'static str) -> Option<String> {
        (self.0)(name).filter(|value| !value.trim().is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }

    fn parsed<T: std::str::FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|error: T::Err| invalid(name, error.to_string())),
        }
    }

    fn url(&self, name: &'static str, schemes: &[&str]) -> Result<String, ConfigError> {
        let raw = self.required(name)?;
        // The parser's messages never include the URL itself.
        let parsed =
            url::Url::parse(raw.trim()).map_err(|error| invalid(name, error.to_string()))?;
        if !schemes.contains(&parsed.scheme()) {
            return Err(invalid(
                name,
                format!("scheme must be one of {}", schemes.join(", ")),
            ));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid(name, "no host"));
        }
        Ok(raw.trim().to_owned())
    }
}

pub fn from_process_env() -> Env<impl Fn(&str) -> Option<String>> {
    Env(|name: &str| std::env::var(name).ok())
}

/// What the database subcommands need.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub database_url: String,
}

impl DatabaseConfig {
    pub fn load<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            database_url: env.url("DATABASE_URL", &["postgres", "postgresql"])?,
        })
    }
}

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub redis_url: String,
    /// Every Redis key starts with it; the email worker must use the same.
    pub redis_key_prefix: String,
    pub jwt_secret: SecretString,
    pub jwt_algorithm: JwtAlgorithm,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    pub password_policy: PasswordPolicy,
    pub host: IpAddr,
    pub port: u16,
    /// actix workers; unset means one per core.
    pub http_workers: Option<usize>,
}

impl Config {
    pub fn load<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let database_url = DatabaseConfig::load(env)?.database_url;
        let redis_url = env.url("REDIS_URL", &["redis", "rediss"])?;
        let jwt_secret = env.required("JWT_SECRET_KEY")?;
        if jwt_secret.len() < JwtCodec::MIN_SECRET_BYTES {
            return Err(invalid(
                "JWT_SECRET_KEY",
                format!("must be at least {} bytes long", JwtCodec::MIN_SECRET_BYTES),
            ));
        }
        let positive = |name: &'static str, default: i64| -> Result<i64, ConfigError> {
            let value = env.parsed(name, default)?;
            if value <= 0 {
                return Err(invalid(name, "must be a positive number of seconds"));
            }
            Ok(value)
        };
        let min_password = env.parsed("PASSWORD_MIN_LENGTH", PasswordPolicy::DEFAULT_MIN_CHARS)?;
        let password_policy = PasswordPolicy::new(min_password).ok_or_else(|| {
            invalid(
                "PASSWORD_MIN_LENGTH",
                format!("must be between 1 and {}", PasswordPolicy::MAX_CHARS),
            )
        })?;
        let http_workers = match env.get("HTTP_WORKERS") {
            None => None,
            Some(_) => Some(env.parsed::<usize>("HTTP_WORKERS", 1)?.max(1)),
        };
        Ok(Self {
            database_url,
            redis_url,
            redis_key_prefix: env
                .get("REDIS_KEY_PREFIX")
                .unwrap_or_else(|| redis_adapter::keys::DEFAULT_PREFIX.to_owned()),
            jwt_secret: SecretString::from(jwt_secret),
            jwt_algorithm: env.parsed("JWT_ALGORITHM", JwtAlgorithm::default())?,
            access_ttl_secs: positive("JWT_ACCESS_TOKEN_EXPIRES", 300)?,
            refresh_ttl_secs: positive("JWT_REFRESH_TOKEN_EXPIRES", 2_592_000)?,
            password_policy,
            host: env.parsed("HOST", IpAddr::from([127, 0, 0, 1]))?,
            port: env.parsed("PORT", 5000)?,
            http_workers,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env(move |name: &str| map.get(name).cloned())
    }

    const BASE: &[(&str, &str)] = &[
        ("DATABASE_URL", "postgres://postgres:pw@127.0.0.1:5432/auth"),
        ("REDIS_URL", "redis://127.0.0.1:6379"),
        ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut pairs = BASE.to_vec();
        pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        pairs.extend_from_slice(extra);
        pairs
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = Config::load(&env(BASE)).unwrap();
        assert_eq!(config.access_ttl_secs, 300);
        assert_eq!(config.refresh_ttl_secs, 2_592_000);
        assert_eq!(config.password_policy.min_chars(), 8);
        assert_eq!(config.host.to_string(), "127.0.0.1");
        assert_eq!(config.port, 5000);
        assert_eq!(config.redis_key_prefix, "auth:");
        assert_eq!(config.jwt_algorithm, JwtAlgorithm::Hs256);
        assert_eq!(config.jwt_secret.expose_secret().len(), 32);
    }

    #[test]
    fn names_each_missing_variable() {
        for name in ["DATABASE_URL", "REDIS_URL", "JWT_SECRET_KEY"] {
            let pairs: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != name).collect();
            assert_eq!(
                Config::load(&env(&pairs)).unwrap_err(),
                ConfigError::Missing(name)
            );
        }
    }

    #[test]
    fn refuses_a_short_secret_without_printing_it() {
        let error = Config::load(&env(&with(&[("JWT_SECRET_KEY", "short-secret")]))).unwrap_err();
        let line = error.to_string();
        assert!(line.starts_with("JWT_SECRET_KEY is invalid"), "{line}");
        assert!(!line.contains("short-secret"));
    }

    #[test]
    fn refuses_malformed_urls_without_printing_them() {
        let error =
            Config::load(&env(&with(&[("DATABASE_URL", "postgres//user:hunter2@x")]))).unwrap_err();
        assert!(error.to_string().starts_with("DATABASE_URL is invalid"));
        assert!(!error.to_string().contains("hunter2"));
        let error =
            Config::load(&env(&with(&[("REDIS_URL", "http://127.0.0.1:6379")]))).unwrap_err();
        assert!(error.to_string().starts_with("REDIS_URL is invalid"));
    }

    #[test]
    fn refuses_bad_numbers() {
        for (name, value) in [
            ("PORT", "70000"),
            ("JWT_ACCESS_TOKEN_EXPIRES", "-1"),
            ("JWT_REFRESH_TOKEN_EXPIRES", "soon"),
            ("PASSWORD_MIN_LENGTH", "0"),
            ("HOST", "localhost:5000"),
        ] {
            let error = Config::load(&env(&with(&[(name, value)]))).unwrap_err();
            assert!(error.to_string().starts_with(name), "{error}");
        }
    }
}
