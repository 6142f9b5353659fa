//! Moving an account to a new email address: `POST /users/me/email` asks
//! the new address to confirm, `POST /users/me/email/confirm` does it.

use domain::{EmailAddress, SecretProof, TokenClaims, TokenRejection, User};

use super::account_ports::AccountPorts;
use crate::error::{ConfirmEmailChangeError, RequestEmailChangeError};
use crate::ports::EmailChangeOutcome;

/// Changing the email address of an account.
#[derive(Clone)]
pub struct EmailChange {
    ports: AccountPorts,
}

impl EmailChange {
    pub fn new(ports: AccountPorts) -> Self {
        Self { ports }
    }

    /// Issues an email-change secret and queues "Confirm your new email
    /// address" for `new_email` and "Your email address is changing" for the
    /// current one. When another account holds `new_email`, nothing goes to
    /// it, and the answer is the same: the caller learns nothing about
    /// other accounts. A new request replaces a pending one at once (a
    /// mistyped address must be correctable). Needs a fresh token.
    #[tracing::instrument(level = "debug", name = "request_email_change", skip_all, fields(user_id = claims.user_id.get()))]
    pub async fn request(
        &self,
        claims: &TokenClaims,
        new_email: EmailAddress,
    ) -> Result<(), RequestEmailChangeError> {
        claims.require_fresh()?;
        let user = self
            .ports
            .users
            .find_by_id(claims.user_id)
            .await?
            .ok_or(RequestEmailChangeError::Token(TokenRejection::Revoked))?;
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
        let sent = self
            .ports
            .secrets
            .issue(user.id, mail.secret, mail.emails, chrono::Duration::zero())
            .await?;
        if sent {
            self.ports.outbox.job_committed();
        }
        Ok(())
    }

    /// Moves the account to the address the secret was issued for, marked
    /// verified. `AddressTaken` when another account took it meanwhile
    /// (the secret stays usable should that account let it go).
    #[tracing::instrument(level = "debug", name = "confirm_email_change", skip_all)]
    pub async fn confirm(&self, proof: SecretProof) -> Result<User, ConfirmEmailChangeError> {
        if !proof.is_well_formed() {
            return Err(ConfirmEmailChangeError::InvalidOrExpired);
        }
        match self
            .ports
            .secrets
            .change_email(proof, self.ports.clock.now())
            .await?
        {
            EmailChangeOutcome::Changed(user) => Ok(user),
            EmailChangeOutcome::InvalidOrExpired => Err(ConfirmEmailChangeError::InvalidOrExpired),
            EmailChangeOutcome::AddressTaken => Err(ConfirmEmailChangeError::EmailTaken),
        }
    }
}

#[cfg(test)]
mod tests;
