//! `POST /users/me/password`: a signed-in user changes its password.

use domain::{Password, TokenClaims, TokenRejection};
use secrecy::{ExposeSecret, SecretString};

use super::account_emails::password_changed;
use super::account_ports::AccountPorts;
use crate::error::ChangePasswordError;
use crate::use_cases::{AttemptOutcome, LoginAttempts};

/// Changing a password with the current one.
#[derive(Clone)]
pub struct PasswordChange {
    ports: AccountPorts,
    /// A wrong current password counts as a failed login of the account.
    attempts: LoginAttempts,
}

impl PasswordChange {
    pub fn new(ports: AccountPorts, attempts: LoginAttempts) -> Self {
        Self { ports, attempts }
    }

    /// Checks the current password (a wrong one counts as a failed login,
    /// and a throttled account is refused whatever it sends), then, in one
    /// transaction, stores the new hash, ends every other session and
    /// queues "Your password was changed"; then revokes those sessions'
    /// tokens. The session of `claims` stays.
    #[tracing::instrument(level = "debug", name = "change_password", skip_all, fields(user_id = claims.user_id.get()))]
    pub async fn change(
        &self,
        claims: &TokenClaims,
        current_password: SecretString,
        new_password: Password,
    ) -> Result<(), ChangePasswordError> {
        let user = self
            .ports
            .users
            .find_by_id(claims.user_id)
            .await?
            .ok_or(ChangePasswordError::Token(TokenRejection::Revoked))?;
        let key = user.email.normalized();
        let attempt = self.attempts.begin(user.email.as_str()).await?;
        let checked = self.check_current(&key, current_password.clone()).await;
        let outcome = match &checked {
            Ok(true) => AttemptOutcome::Succeeded,
            Ok(false) => AttemptOutcome::Failed,
            Err(_) => AttemptOutcome::Inconclusive,
        };
        attempt.record(outcome).await;
        if !checked? {
            return Err(ChangePasswordError::InvalidCurrentPassword);
        }
        if current_password.expose_secret() == new_password.expose() {
            return Err(ChangePasswordError::SamePassword);
        }

        let password_hash = self.ports.hasher.hash(new_password).await?;
        let now = self.ports.clock.now();
        let ended = self
            .ports
            .users
            .change_password(
                user.id,
                password_hash,
                claims.session_id.clone(),
                now,
                password_changed(&user, now),
            )
            .await?
            .ok_or(ChangePasswordError::Token(TokenRejection::Revoked))?;
        self.ports.outbox.job_committed();
        self.ports.revoker().mark_committed(&ended, now).await;
        Ok(())
    }

    /// Whether `password` is the account's current one.
    async fn check_current(
        &self,
        normalized_email: &str,
        password: SecretString,
    ) -> Result<bool, ChangePasswordError> {
        let stored = self
            .ports
            .users
            .find_credentials(normalized_email)
            .await?
            .map(|credentials| credentials.password_hash);
        if stored.is_none() {
            return Err(ChangePasswordError::Token(TokenRejection::Revoked));
        }
        Ok(self.ports.hasher.verify(password, stored).await?)
    }
}

#[cfg(test)]
mod tests;
