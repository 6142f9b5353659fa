//! Moving an account to a new email address: `POST /users/me/email` asks
//! the new address to confirm, `POST /users/me/email/confirm` does it, and
//! `POST /email-change/undo` (the link sent to the old address) takes it
//! back.

use domain::{ClientDevice, EmailAddress, SecretProof, TokenClaims, TokenRejection, User};
use secrecy::SecretString;

use super::account_ports::AccountPorts;
use crate::error::{ConfirmEmailChangeError, RequestEmailChangeError, UndoEmailChangeError};
use crate::ports::{CompletedEmailChange, EmailChangeOutcome, NewEmailChange};
use crate::use_cases::LoginAttempts;
use crate::use_cases::password_change::check_current_password;

/// Changing the email address of an account.
#[derive(Clone)]
pub struct EmailChange {
    ports: AccountPorts,
    /// A wrong current password counts as a failed login of the account.
    attempts: LoginAttempts,
}

impl EmailChange {
    pub fn new(ports: AccountPorts, attempts: LoginAttempts) -> Self {
        Self { ports, attempts }
    }

    /// Checks the current password (a wrong one counts as a failed login,
    /// and a throttled account is refused whatever it sends: a stolen
    /// session alone cannot move the account), then issues an email-change
    /// secret and queues "Confirm your new email address" for `new_email`
    /// and "Your email address is changing", with an undo link, for the
    /// current one. When another account holds `new_email`, nothing goes to
    /// it, and the answer is the same: the caller learns nothing about
    /// other accounts. A new request replaces a pending one at once (a
    /// mistyped address must be correctable). Needs a fresh token; the
    /// session of `claims` is the one a confirmed change keeps.
    #[tracing::instrument(level = "debug", name = "request_email_change", skip_all, fields(user_id = claims.user_id.get()))]
    pub async fn request(
        &self,
        claims: &TokenClaims,
        device: &ClientDevice,
        new_email: EmailAddress,
        current_password: SecretString,
    ) -> Result<(), RequestEmailChangeError> {
        claims.require_fresh()?;
        let user = self
            .ports
            .users
            .find_by_id(claims.user_id)
            .await?
            .ok_or(RequestEmailChangeError::Token(TokenRejection::Revoked))?;
        let right = check_current_password::<RequestEmailChangeError>(
            &self.ports,
            &self.attempts,
            &user,
            device,
            current_password,
        )
        .await?;
        if !right {
            return Err(RequestEmailChangeError::InvalidCurrentPassword);
        }
        if user.email.normalized() == new_email.normalized() {
            return Err(RequestEmailChangeError::SameAddress);
        }
        let taken = self
            .ports
            .users
            .find_by_email(&new_email.normalized())
            .await?
            .is_some();
        let mail = self
            .ports
            .mail
            .email_change(&user, &new_email, taken, self.ports.clock.now());
        let change = NewEmailChange {
            change: mail.secret,
            session: claims.session_id.clone(),
            undo: mail.undo,
        };
        self.ports
            .secrets
            .issue_email_change(user.id, change, mail.emails)
            .await?;
        // The notice to the old address is always queued.
        self.ports.outbox.job_committed();
        Ok(())
    }

    /// Moves the account to the address the secret was issued for, marked
    /// verified, and ends every other session than the one that asked for
    /// the change (an intruder who changed the address keeps no foothold
    /// the owner opened, nor does an owner's forgotten session survive).
    /// `AddressTaken` when another account took it meanwhile (the secret
    /// stays usable should that account let it go).
    #[tracing::instrument(level = "debug", name = "confirm_email_change", skip_all)]
    pub async fn confirm(&self, proof: SecretProof) -> Result<User, ConfirmEmailChangeError> {
        if !proof.is_well_formed() {
            return Err(ConfirmEmailChangeError::InvalidOrExpired);
        }
        let now = self.ports.clock.now();
        match self.ports.secrets.change_email(proof, now).await? {
            EmailChangeOutcome::Changed(done) => Ok(self.ended(done).await),
            EmailChangeOutcome::InvalidOrExpired => Err(ConfirmEmailChangeError::InvalidOrExpired),
            EmailChangeOutcome::AddressTaken => Err(ConfirmEmailChangeError::EmailTaken),
        }
    }

    /// Takes a change back with the link sent to the old address: the old
    /// address returns, verified, a pending change dies, and every session
    /// of the user ends (whoever asked for the change is thrown out).
    /// Works before and after the confirmation.
    #[tracing::instrument(level = "debug", name = "undo_email_change", skip_all)]
    pub async fn undo(&self, token: String) -> Result<User, UndoEmailChangeError> {
        let proof = SecretProof::Token(token);
        if !proof.is_well_formed() {
            return Err(UndoEmailChangeError::InvalidOrExpired);
        }
        let SecretProof::Token(token) = proof else {
            return Err(UndoEmailChangeError::InvalidOrExpired);
        };
        let now = self.ports.clock.now();
        match self.ports.secrets.undo_email_change(token, now).await? {
            EmailChangeOutcome::Changed(done) => Ok(self.ended(done).await),
            EmailChangeOutcome::InvalidOrExpired => Err(UndoEmailChangeError::InvalidOrExpired),
            EmailChangeOutcome::AddressTaken => Err(UndoEmailChangeError::EmailTaken),
        }
    }

    /// Writes the marks of the sessions a committed change ended.
    async fn ended(&self, done: CompletedEmailChange) -> User {
        let now = self.ports.clock.now();
        self.ports
            .revoker()
            .mark_committed(done.user.id, &done.ended, now)
            .await;
        done.user
    }
}

#[cfg(test)]
mod tests;
