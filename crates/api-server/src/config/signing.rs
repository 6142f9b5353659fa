//! How tokens are signed (`JWT_ALGORITHM`): with the shared secret
//! (`JWT_SECRET_KEY`, HMAC), or with asymmetric keys kept in PostgreSQL,
//! sealed under `SIGNING_KEYS_ENCRYPTION_KEY` (docs/http-api.md#signing-keys).

use std::fmt;
use std::str::FromStr;

use crypto_adapter::{JwtAlgorithm, KeyVault};
use domain::SigningAlgorithm;
use secrecy::{ExposeSecret, SecretString};

use super::error::{ConfigError, invalid};

/// `JWT_ALGORITHM` as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAlgorithm {
    Hmac(JwtAlgorithm),
    Asymmetric(SigningAlgorithm),
}

impl Default for TokenAlgorithm {
    /// HS256: installs that never set it keep working.
    fn default() -> Self {
        Self::Hmac(JwtAlgorithm::Hs256)
    }
}

impl FromStr for TokenAlgorithm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(hmac) = text.parse::<JwtAlgorithm>() {
            return Ok(Self::Hmac(hmac));
        }
        text.parse::<SigningAlgorithm>()
            .map(Self::Asymmetric)
            .map_err(|_| {
                format!(
                    "unsupported algorithm {text:?} (use HS256, HS384, HS512, ES256, EdDSA or RS256)"
                )
            })
    }
}

impl fmt::Display for TokenAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hmac(algorithm) => algorithm.fmt(f),
            Self::Asymmetric(algorithm) => algorithm.fmt(f),
        }
    }
}

/// Asymmetric signing, checked: the algorithm new keys are made with and
/// the key that seals them.
#[derive(Clone)]
pub struct SigningConfig {
    pub algorithm: SigningAlgorithm,
    /// `SIGNING_KEYS_ENCRYPTION_KEY`: 32 bytes, base64.
    pub encryption_key: SecretString,
}

impl fmt::Debug for SigningConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningConfig")
            .field("algorithm", &self.algorithm)
            .field("encryption_key", &"[redacted]")
            .finish()
    }
}

/// The sealing key `.env.example` ships with (base64 of
/// `dev-only-sample-key-change-me!!!`). It is public, so it is refused;
/// `scripts/dev.sh` writes a random key into `.env` instead.
pub const SAMPLE_SIGNING_KEYS_ENCRYPTION_KEY: &str = "ZGV2LW9ubHktc2FtcGxlLWtleS1jaGFuZ2UtbWUhISE=";

/// `SIGNING_KEYS_ENCRYPTION_KEY`, checked: present, not the public sample,
/// and 32 bytes of base64.
pub fn encryption_key(raw: Option<&SecretString>) -> Result<SecretString, ConfigError> {
    let key = raw
        .cloned()
        .ok_or(ConfigError::Missing("SIGNING_KEYS_ENCRYPTION_KEY"))?;
    if key.expose_secret() == SAMPLE_SIGNING_KEYS_ENCRYPTION_KEY {
        return Err(invalid(
            "SIGNING_KEYS_ENCRYPTION_KEY",
            "is the public sample key of .env.example; generate your own \
             (e.g. openssl rand -base64 32)",
        ));
    }
    KeyVault::from_base64(&key).map_err(|_| {
        invalid(
            "SIGNING_KEYS_ENCRYPTION_KEY",
            "must be 32 bytes in base64 (e.g. openssl rand -base64 32)",
        )
    })?;
    Ok(key)
}

/// What the `keys` commands need besides the database: the times the
/// lifecycle's refusals are measured against, and the sealing key when
/// one is given (making or importing a key needs it; the other commands
/// do not open any key).
#[derive(Clone)]
pub struct KeysConfig {
    pub policy: domain::KeyPolicy,
    pub encryption_key: Option<SecretString>,
}

impl fmt::Debug for KeysConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeysConfig")
            .field("policy", &self.policy)
            .field(
                "encryption_key",
                &self.encryption_key.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}
