//! `JWT_SECRET_KEY`: refused when it is the public sample, shorter than
//! the algorithm's hash output, or made of few characters. No message
//! shows the key.

use crypto_adapter::JwtAlgorithm;
use secrecy::{ExposeSecret, SecretString};

use super::error::{ConfigError, invalid};

/// The key `.env.example` ships with. It is public, so `serve` refuses it;
/// `scripts/dev.sh` writes a random key into `.env` instead.
pub const SAMPLE_JWT_SECRET_KEY: &str = "dev-only-secret-change-me-0123456789abcdef";

/// Fewest distinct characters a `JWT_SECRET_KEY` may have. A long key
/// of few characters (`aaaa...`, `abab...`, a placeholder) is long only on
/// paper; any generated key has far more.
pub const MIN_SECRET_DISTINCT_CHARS: usize = 10;

/// The key, once it passed every check for `algorithm`.
pub(super) fn checked_key(raw: &str, algorithm: JwtAlgorithm) -> Result<SecretString, ConfigError> {
    let key = SecretString::from(raw);
    if key.expose_secret() == SAMPLE_JWT_SECRET_KEY {
        return Err(invalid(
            "JWT_SECRET_KEY",
            "is the public sample key of .env.example; generate your own \
             (e.g. openssl rand -base64 48)",
        ));
    }
    let min_bytes = algorithm.min_secret_bytes();
    if key.expose_secret().len() < min_bytes {
        return Err(invalid(
            "JWT_SECRET_KEY",
            format!("must be at least {min_bytes} bytes long for {algorithm}"),
        ));
    }
    check_secret_variety(key.expose_secret())?;
    Ok(key)
}

/// Refuses a key with fewer than [`MIN_SECRET_DISTINCT_CHARS`] distinct
/// characters, without showing it.
fn check_secret_variety(secret: &str) -> Result<(), ConfigError> {
    let distinct = secret
        .chars()
        .collect::<std::collections::HashSet<char>>()
        .len();
    if distinct < MIN_SECRET_DISTINCT_CHARS {
        return Err(invalid(
            "JWT_SECRET_KEY",
            format!(
                "must have at least {MIN_SECRET_DISTINCT_CHARS} distinct characters; \
                 generate one (e.g. openssl rand -base64 48)"
            ),
        ));
    }
    Ok(())
}
