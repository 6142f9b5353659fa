//! `/users/me/mfa*`: a signed-in user turns TOTP on (enrol, then confirm
//! with a first code), reads its state, replaces its recovery codes and
//! turns TOTP off. The second step of a login is
//! [`super::Authentication::complete_login`]'s.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use domain::{
    AuditEventKind, ClientDevice, RecoveryCode, TokenClaims, TokenRejection, TotpCode, User,
};

use super::account_ports::AccountPorts;
use crate::error::{
    ConfirmTotpError, DisableTotpError, EnrolTotpError, ReplaceRecoveryCodesError,
    SecondFactorStatusError,
};
use crate::ports::{
    DisableTotp, EnableTotp, NewAuditEvent, RepositoryError, SecondFactorCrypto,
    SecondFactorStatus, SecondFactorStore, TotpEnabled, TotpEnrolment,
};
use crate::{Email, EmailJob};

/// The ports of the second factor, shared with the login's second step.
#[derive(Clone)]
pub struct SecondFactorPorts {
    pub store: Arc<dyn SecondFactorStore>,
    pub crypto: Arc<dyn SecondFactorCrypto>,
}

/// What an authenticator app needs to enrol: shown once.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpEnrolmentKit {
    /// Base32, for typing into the app.
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

impl std::fmt::Debug for TotpEnrolmentKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolmentKit([redacted])")
    }
}

/// Enrolment, status, recovery codes and disabling of the second factor.
#[derive(Clone)]
pub struct SecondFactor {
    ports: AccountPorts,
    factor: SecondFactorPorts,
}

impl SecondFactor {
    pub fn new(ports: AccountPorts, factor: SecondFactorPorts) -> Self {
        Self { ports, factor }
    }

    /// Makes a new secret and stores it pending (replacing a pending one):
    /// nothing changes for logins until [`Self::confirm`] takes a code.
    #[tracing::instrument(level = "debug", name = "mfa.enrol", skip_all, fields(user_id = claims.user_id.get()))]
    pub async fn enrol(&self, claims: &TokenClaims) -> Result<TotpEnrolmentKit, EnrolTotpError> {
        let user = self
            .user(claims)
            .await?
            .ok_or(EnrolTotpError::Token(TokenRejection::Revoked))?;
        let secret = self.factor.crypto.new_totp_secret();
        let sealed = self.factor.crypto.seal(user.id, &secret)?;
        let now = self.ports.clock.now();
        match self.factor.store.begin_totp(user.id, sealed, now).await? {
            TotpEnrolment::AlreadyEnabled => Err(EnrolTotpError::AlreadyEnabled),
            TotpEnrolment::Started => {
                let provisioning = self
                    .factor
                    .crypto
                    .provisioning(user.email.as_str(), &secret)?;
                Ok(TotpEnrolmentKit {
                    secret: secret.base32(),
                    otpauth_uri: provisioning.otpauth_uri,
                    qr_svg: provisioning.qr_svg,
                })
            }
        }
    }

    /// Turns the pending factor on with a first code from the app: the
    /// code's step counts as used, the first recovery codes are made, every
    /// other session ends and "turned on" goes out, in one transaction. The
    /// session of `claims` stays, and stays `aal1`.
    #[tracing::instrument(level = "debug", name = "mfa.confirm", skip_all, fields(user_id = claims.user_id.get()))]
    pub async fn confirm(
        &self,
        claims: &TokenClaims,
        code: &str,
        device: &ClientDevice,
    ) -> Result<Vec<RecoveryCode>, ConfirmTotpError> {
        let user = self
            .user(claims)
            .await?
            .ok_or(ConfirmTotpError::Token(TokenRejection::Revoked))?;
        let stored = match self.factor.store.totp(user.id).await? {
            None => return Err(ConfirmTotpError::InvalidOrExpired),
            Some(stored) if stored.enabled_at.is_some() => {
                return Err(ConfirmTotpError::AlreadyEnabled);
            }
            Some(stored) => stored,
        };
        let code = TotpCode::parse(code).map_err(|_| ConfirmTotpError::InvalidOrExpired)?;
        let secret = self.factor.crypto.open(user.id, &stored.sealed)?;
        let now = self.ports.clock.now();
        let step = secret
            .matching_step(&code, now)
            .ok_or(ConfirmTotpError::InvalidOrExpired)?;
        let codes = self.factor.crypto.new_recovery_codes();
        let enabled = self
            .factor
            .store
            .enable_totp(EnableTotp {
                user: user.id,
                step,
                recovery_codes: codes.iter().map(|code| code.digest(user.id)).collect(),
                keep: claims.session_id.clone(),
                notice: notice(&user, now, |to, at| Email::MfaEnabled {
                    to,
                    enabled_at: at,
                }),
                audit: self_service(AuditEventKind::MfaEnabled, &user, claims, device, now),
                now,
            })
            .await?;
        match enabled {
            // A concurrent confirmation won, or the step was taken.
            TotpEnabled::Refused => Err(ConfirmTotpError::InvalidOrExpired),
            TotpEnabled::Enabled { ended } => {
                self.ports.outbox.job_committed();
                self.ports
                    .revoker()
                    .mark_committed(user.id, &ended, now)
                    .await;
                Ok(codes)
            }
        }
    }

    pub async fn status(
        &self,
        claims: &TokenClaims,
    ) -> Result<SecondFactorStatus, SecondFactorStatusError> {
        Ok(self.factor.store.status(claims.user_id).await?)
    }

    /// New recovery codes; the old ones, used or not, stop working.
    #[tracing::instrument(level = "debug", name = "mfa.replace_recovery_codes", skip_all, fields(user_id = claims.user_id.get()))]
    pub async fn replace_recovery_codes(
        &self,
        claims: &TokenClaims,
    ) -> Result<Vec<RecoveryCode>, ReplaceRecoveryCodesError> {
        let user = self
            .user(claims)
            .await?
            .ok_or(ReplaceRecoveryCodesError::Token(TokenRejection::Revoked))?;
        let now = self.ports.clock.now();
        let codes = self.factor.crypto.new_recovery_codes();
        let replaced = self
            .factor
            .store
            .replace_recovery_codes(
                user.id,
                codes.iter().map(|code| code.digest(user.id)).collect(),
                notice(&user, now, |to, at| Email::RecoveryCodesReplaced {
                    to,
                    replaced_at: at,
                }),
                now,
            )
            .await?;
        if !replaced {
            return Err(ReplaceRecoveryCodesError::NotEnabled);
        }
        self.ports.outbox.job_committed();
        Ok(codes)
    }

    /// Turns TOTP off: the secret and the recovery codes go, every other
    /// session ends and "turned off" goes out, in one transaction.
    #[tracing::instrument(level = "debug", name = "mfa.disable", skip_all, fields(user_id = claims.user_id.get()))]
    pub async fn disable(
        &self,
        claims: &TokenClaims,
        device: &ClientDevice,
    ) -> Result<(), DisableTotpError> {
        let user = self
            .user(claims)
            .await?
            .ok_or(DisableTotpError::Token(TokenRejection::Revoked))?;
        let now = self.ports.clock.now();
        let ended = self
            .factor
            .store
            .disable_totp(DisableTotp {
                user: user.id,
                keep: claims.session_id.clone(),
                notice: notice(&user, now, |to, at| Email::MfaDisabled {
                    to,
                    disabled_at: at,
                }),
                audit: self_service(AuditEventKind::MfaDisabled, &user, claims, device, now),
                now,
            })
            .await?
            .ok_or(DisableTotpError::NotEnabled)?;
        self.ports.outbox.job_committed();
        self.ports
            .revoker()
            .mark_committed(user.id, &ended, now)
            .await;
        Ok(())
    }

    async fn user(&self, claims: &TokenClaims) -> Result<Option<User>, RepositoryError> {
        self.ports.users.find_by_id(claims.user_id).await
    }
}

/// A notice of the second factor to the account's address, stamped `now`.
pub(crate) fn notice(
    user: &User,
    now: DateTime<Utc>,
    email: impl FnOnce(String, String) -> Email,
) -> EmailJob {
    EmailJob::new(
        email(
            user.email.as_str().to_owned(),
            now.to_rfc3339_opts(SecondsFormat::Secs, true),
        ),
        now,
    )
}

#[cfg(test)]
mod tests;

/// A change the signed-in user made to its own second factor, from the
/// session of its token.
fn self_service(
    kind: AuditEventKind,
    user: &User,
    claims: &TokenClaims,
    device: &ClientDevice,
    now: DateTime<Utc>,
) -> NewAuditEvent {
    NewAuditEvent::by_user(
        kind,
        user.id,
        Some(&claims.session_id),
        Some(device),
        now,
        serde_json::json!({}),
    )
}
