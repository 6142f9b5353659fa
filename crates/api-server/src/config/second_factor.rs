//! Two-factor authentication: the key that seals every TOTP secret
//! (`MFA_ENCRYPTION_KEY`), the one before it while a rotation is under
//! way (`MFA_ENCRYPTION_KEY_PREVIOUS`), and the issuer name authenticator
//! apps show (`MFA_ISSUER`, default `JWT_ISSUER`).

use std::fmt;

use crypto_adapter::{CryptoSecondFactor, MfaEncryptionKeys, SecondFactorSetupError};
use secrecy::{ExposeSecret, SecretString};

use super::error::{ConfigError, invalid};

/// The sealing key `.env.example` ships with (base64 of
/// `dev-only-mfa-key-change-me!!!!!!`). It is public, so it is refused;
/// `scripts/dev.sh` writes a random key into `.env` instead.
pub const SAMPLE_MFA_ENCRYPTION_KEY: &str = "ZGV2LW9ubHktbWZhLWtleS1jaGFuZ2UtbWUhISEhISE=";

/// The issuer apps show when `MFA_ISSUER` is unset: `JWT_ISSUER`, or its
/// host when it is a URL (a label cannot hold the URL's colon).
pub(super) fn default_issuer(jwt_issuer: &str) -> String {
    url::Url::parse(jwt_issuer.trim())
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| jwt_issuer.trim().to_owned())
}

/// Checked: both keys 32 bytes of base64, the issuer a valid label.
#[derive(Clone)]
pub struct SecondFactorConfig {
    pub encryption_key: SecretString,
    pub previous_key: Option<SecretString>,
    pub issuer: String,
}

impl fmt::Debug for SecondFactorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecondFactorConfig")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl SecondFactorConfig {
    pub fn check(
        key: Option<&SecretString>,
        previous: Option<&SecretString>,
        issuer: &str,
    ) -> Result<Self, ConfigError> {
        let key = key
            .filter(|key| !key.expose_secret().trim().is_empty())
            .cloned()
            .ok_or(ConfigError::Missing("MFA_ENCRYPTION_KEY"))?;
        if key.expose_secret() == SAMPLE_MFA_ENCRYPTION_KEY {
            return Err(invalid(
                "MFA_ENCRYPTION_KEY",
                "is the public sample key of .env.example; generate your own \
                 (e.g. openssl rand -base64 32)",
            ));
        }
        let config = Self {
            encryption_key: key,
            previous_key: previous.cloned(),
            issuer: issuer.trim().to_owned(),
        };
        config.crypto().map_err(|error| match error {
            SecondFactorSetupError::MalformedKey { variable } => invalid(
                variable,
                "must be 32 bytes in base64 (e.g. openssl rand -base64 32)",
            ),
            SecondFactorSetupError::BadIssuer => invalid(
                "MFA_ISSUER",
                "must be a name without a colon or control characters",
            ),
        })?;
        Ok(config)
    }

    /// The adapter these settings make.
    pub fn crypto(&self) -> Result<CryptoSecondFactor, SecondFactorSetupError> {
        let keys =
            MfaEncryptionKeys::from_base64(&self.encryption_key, self.previous_key.as_ref())?;
        CryptoSecondFactor::new(keys, &self.issuer)
    }
}
