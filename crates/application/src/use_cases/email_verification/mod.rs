//! Proving an email address: the link and code sent at registration (and
//! on request), and what consuming them does.

use chrono::{DateTime, Utc};
use domain::{EmailAddress, SecretProof, User};

use super::account_emails::{AccountEmailSettings, SecretMail};
use super::account_ports::AccountPorts;
use super::account_ports::issue_detached;
use crate::error::{DependencyError, ResendError, VerifyEmailError};
use crate::ports::{OneTimeSecretStore, OutboxSignal};

/// `POST /verify-email` and `POST /verify-email/resend`.
#[derive(Clone)]
pub struct EmailVerification {
    ports: AccountPorts,
}

impl EmailVerification {
    pub fn new(ports: AccountPorts) -> Self {
        Self { ports }
    }

    /// Consumes the link or code and marks the address verified. Every
    /// failure (malformed, unknown, expired, used, wrong code, too many
    /// tries) is the one `InvalidOrExpired`.
    #[tracing::instrument(level = "debug", name = "verify_email", skip_all)]
    pub async fn verify(&self, proof: SecretProof) -> Result<User, VerifyEmailError> {
        if !proof.is_well_formed() {
            return Err(VerifyEmailError::InvalidOrExpired);
        }
        self.ports
            .secrets
            .verify_email(proof, self.ports.clock.now())
            .await?
            .ok_or(VerifyEmailError::InvalidOrExpired)
    }

    /// Sends a new verification email when an unverified account uses this
    /// address and none was sent in the last minute. Answers the same, in
    /// the same time, in every case: every address costs the one lookup
    /// here and hands one job to the background tasks; whether the account
    /// exists and is unverified is only looked at in that job, after the
    /// answer, so the caller learns nothing about the account.
    #[tracing::instrument(level = "debug", name = "resend_verification", skip_all)]
    pub async fn resend(&self, email: &str) -> Result<(), ResendError> {
        let Ok(address) = EmailAddress::from_storage(email) else {
            return Ok(());
        };
        let user = self
            .ports
            .users
            .find_id_by_email(&address.normalized())
            .await?;
        issue_detached(
            &self.ports,
            user,
            |mail, user, now| {
                (!user.email_verified).then(|| mail.verification(&user.email, now, false))
            },
            AccountEmailSettings::RESEND_INTERVAL,
        )
        .await;
        Ok(())
    }
}

/// Issues a new verification secret for `user` (unless one went out in the
/// last minute) with its email, in one transaction.
pub(crate) async fn send_verification(
    secrets: &dyn OneTimeSecretStore,
    mail: &SecretMail,
    outbox: &dyn OutboxSignal,
    user: &User,
    now: DateTime<Utc>,
) -> Result<(), DependencyError> {
    let (secret, email) = mail.verification(&user.email, now, false);
    let sent = secrets
        .issue(
            user.id,
            secret,
            vec![email],
            AccountEmailSettings::RESEND_INTERVAL,
        )
        .await?;
    if sent {
        outbox.job_committed();
    }
    Ok(())
}

#[cfg(test)]
mod tests;
