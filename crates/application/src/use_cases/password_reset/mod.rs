//! A forgotten password: `POST /password/forgot` emails a link and code,
//! `POST /password/reset` consumes them with a new password.

use domain::{EmailAddress, Password, SecretProof};

use super::account_emails::{AccountEmailSettings, password_changed};
use super::account_ports::AccountPorts;
use super::account_ports::issue_detached;
use crate::error::{ForgotPasswordError, ResetPasswordError};
use crate::ports::NoticeFor;

/// Recovering an account whose password is forgotten.
#[derive(Clone)]
pub struct PasswordReset {
    ports: AccountPorts,
}

impl PasswordReset {
    pub fn new(ports: AccountPorts) -> Self {
        Self { ports }
    }

    /// Sends "Reset your password" when an account uses this address and
    /// none was sent in the last minute. Answers the same, in the same
    /// time, whether or not the account exists: every address costs the one
    /// lookup here and hands one job to the background tasks; the secret,
    /// its email and their transaction are made in that job, after the
    /// answer, and only for an account.
    #[tracing::instrument(level = "debug", name = "forgot_password", skip_all)]
    pub async fn forgot(&self, email: &str) -> Result<(), ForgotPasswordError> {
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
            |mail, user, now| Some(mail.password_reset(user, now)),
            AccountEmailSettings::RESET_INTERVAL,
        )
        .await;
        Ok(())
    }

    /// Sets a new password with the link's token or the emailed code. In one
    /// transaction: the secret is consumed, the hash stored, the address
    /// counts as verified, every session ends and "Your password was
    /// changed" is queued; then every token of those sessions is revoked.
    /// The new password was checked against the policy before this call,
    /// so a weak one never consumes the secret.
    #[tracing::instrument(level = "debug", name = "reset_password", skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn reset(
        &self,
        proof: SecretProof,
        new_password: Password,
    ) -> Result<(), ResetPasswordError> {
        if !proof.is_well_formed() {
            return Err(ResetPasswordError::InvalidOrExpired);
        }
        // Hashed before the transaction opens, so no row lock waits on it.
        let password_hash = self.ports.hasher.hash(new_password).await?;
        let now = self.ports.clock.now();
        let notice: NoticeFor = Box::new(move |user| password_changed(user, now));
        let reset = self
            .ports
            .secrets
            .reset_password(proof, password_hash, now, notice)
            .await?
            .ok_or(ResetPasswordError::InvalidOrExpired)?;
        tracing::Span::current().record("user_id", reset.user.id.get());
        self.ports.outbox.job_committed();
        self.ports
            .revoker()
            .mark_committed(reset.user.id, &reset.ended, now)
            .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
