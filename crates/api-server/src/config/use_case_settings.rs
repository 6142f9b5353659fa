//! The settings the use cases take, built from the flags once: token
//! lifetimes, session behaviour and account emails. Clap has already
//! checked each number's range; what is left is making durations of them.

use application::{AccountEmailSettings, PurgeSettings, SessionSettings, TokenLifetimes};
use chrono::TimeDelta;

use super::database::checked_url;
use super::error::{ConfigError, invalid};
use super::settings::Settings;
use super::signing::{self, KeysConfig};

/// `seconds` as a duration that a token or secret issued now can carry. A
/// value too large for the calendar stops the start with a line naming
/// it, never a panic at the first login.
fn lifetime(variable: &'static str, seconds: i64) -> Result<TimeDelta, ConfigError> {
    TimeDelta::try_seconds(seconds)
        .filter(|lifetime| chrono::Utc::now().checked_add_signed(*lifetime).is_some())
        .ok_or(ConfigError::TokenLifetime { variable, seconds })
}

impl Settings {
    /// `JWT_ACCESS_TOKEN_EXPIRES`, `JWT_REFRESH_TOKEN_EXPIRES`.
    pub(super) fn token_lifetimes(&self) -> Result<TokenLifetimes, ConfigError> {
        Ok(TokenLifetimes {
            access: lifetime("JWT_ACCESS_TOKEN_EXPIRES", self.jwt_access_token_expires)?,
            refresh: lifetime("JWT_REFRESH_TOKEN_EXPIRES", self.jwt_refresh_token_expires)?,
        })
    }

    /// `REFRESH_TOKEN_ROTATION`, `REFRESH_REUSE_INTERVAL`,
    /// `SESSION_MAX_LIFETIME`, `NOTIFY_NEW_DEVICE_LOGIN`,
    /// `MAX_SESSIONS_PER_USER`.
    pub(super) fn session_settings(&self) -> Result<SessionSettings, ConfigError> {
        Ok(SessionSettings {
            rotation: self.refresh_token_rotation,
            reuse_interval: lifetime("REFRESH_REUSE_INTERVAL", self.refresh_reuse_interval)?,
            max_lifetime: lifetime("SESSION_MAX_LIFETIME", self.session_max_lifetime)?,
            notify_new_device: self.notify_new_device_login,
            max_per_user: self.max_sessions_per_user,
        })
    }

    /// `PURGE_INTERVAL`, `SESSION_RETENTION`.
    pub(super) fn purge_settings(&self) -> Result<PurgeSettings, ConfigError> {
        Ok(PurgeSettings {
            interval: std::time::Duration::from_secs(self.purge_interval),
            session_retention: lifetime("SESSION_RETENTION", self.session_retention)?,
            // At most a hundred years: always a valid TimeDelta.
            audit_retention: TimeDelta::from_std(self.audit_retention)
                .map_err(|_| invalid("AUDIT_RETENTION", "out of range"))?,
            ..PurgeSettings::default()
        })
    }

    /// `PUBLIC_APP_URL` (kept without a trailing slash; unset: this API's
    /// own pages, [`super::public_urls::default_public_url`]),
    /// `EMAIL_VERIFICATION_TTL`, `PASSWORD_RESET_TTL`,
    /// `REQUIRE_VERIFIED_EMAIL`.
    pub(super) fn account_email_settings(&self) -> Result<AccountEmailSettings, ConfigError> {
        let public_app_url = match super::public_urls::set(self.public_app_url.as_deref()) {
            Some(url) => url.to_owned(),
            None => super::public_urls::default_public_url(self.host, self.port),
        };
        let public_app_url = checked_url("PUBLIC_APP_URL", &public_app_url, &["http", "https"])?;
        if public_app_url.query().is_some() || public_app_url.fragment().is_some() {
            return Err(invalid(
                "PUBLIC_APP_URL",
                "must not have a query or a fragment",
            ));
        }
        Ok(AccountEmailSettings {
            public_app_url: public_app_url.as_str().trim_end_matches('/').to_owned(),
            verification_ttl: lifetime("EMAIL_VERIFICATION_TTL", self.email_verification_ttl)?,
            password_reset_ttl: lifetime("PASSWORD_RESET_TTL", self.password_reset_ttl)?,
            require_verified_email: self.require_verified_email,
        })
    }
}

impl Settings {
    /// `JWKS_MAX_AGE`, `JWT_ACCESS_TOKEN_EXPIRES`, `SIGNING_KEYS_ENCRYPTION_KEY`.
    pub fn keys_config(&self) -> Result<KeysConfig, ConfigError> {
        let encryption_key = self
            .signing_keys_encryption_key
            .as_ref()
            .map(|key| signing::encryption_key(Some(key)))
            .transpose()?;
        Ok(KeysConfig {
            policy: domain::KeyPolicy {
                jwks_max_age: chrono::Duration::seconds(
                    i64::try_from(self.jwks_max_age).unwrap_or(i64::MAX),
                ),
                access_token_lifetime: self.token_lifetimes()?.access,
            },
            encryption_key,
        })
    }
}
