//! `POST /users/me/password`: a signed-in user changes its password.

use domain::{ClientDevice, Password, TokenClaims, TokenRejection, User};
use secrecy::{ExposeSecret, SecretString};

use super::account_emails::password_changed;
use super::account_ports::AccountPorts;
use crate::error::ChangePasswordError;
use crate::ports::{HashError, RepositoryError};
use crate::rate_limits::RateLimited;
use crate::use_cases::{AttemptClient, AttemptOutcome, AttemptSubject, LoginAttempts};

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
        device: &ClientDevice,
        current_password: SecretString,
        new_password: Password,
    ) -> Result<(), ChangePasswordError> {
        let user = self
            .ports
            .users
            .find_by_id(claims.user_id)
            .await?
            .ok_or(ChangePasswordError::Token(TokenRejection::Revoked))?;
        let right = check_current_password::<ChangePasswordError>(
            &self.ports,
            &self.attempts,
            &user,
            device,
            current_password.clone(),
        )
        .await?;
        if !right {
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
        self.ports
            .revoker()
            .mark_committed(user.id, &ended, now)
            .await;
        Ok(())
    }
}

/// Whether `password` is the signed-in `user`'s current one, checked as a
/// login of the account from `device` would be: a throttled client is
/// refused whatever it sends, and a wrong password counts as a failed
/// login. A user that is gone is a revoked token.
pub(crate) async fn check_current_password<E>(
    ports: &AccountPorts,
    attempts: &LoginAttempts,
    user: &User,
    device: &ClientDevice,
    password: SecretString,
) -> Result<bool, E>
where
    E: From<TokenRejection> + From<RateLimited> + From<RepositoryError> + From<HashError>,
{
    let credentials = ports
        .users
        .find_credentials(&user.email.normalized())
        .await?
        .ok_or(TokenRejection::Revoked)?;
    let subject = AttemptSubject::new(
        user.email.as_str(),
        Some(credentials.session_epoch),
        AttemptClient::Network(device.network()),
    );
    let attempt = attempts.begin(subject).await?;
    let checked = ports
        .hasher
        .verify(password, Some(credentials.password_hash))
        .await;
    let outcome = match &checked {
        Ok(true) => AttemptOutcome::Succeeded,
        Ok(false) => AttemptOutcome::Failed,
        Err(_) => AttemptOutcome::Inconclusive,
    };
    attempt.record(outcome).await;
    Ok(checked?)
}

#[cfg(test)]
mod tests;
