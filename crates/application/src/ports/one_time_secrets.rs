use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use domain::{OneTimeSecret, PasswordHash, SecretProof, SecretPurpose, User, UserId};

use crate::EmailJob;
use crate::error::BoxError;
use crate::ports::EndedSession;

#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    #[error("the secret store is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the secret store failed")]
    Unexpected(#[source] BoxError),
}

/// A secret about to be stored. The store keeps only its digests
/// ([`OneTimeSecret::digests`], which need the user's id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSecret {
    pub purpose: SecretPurpose,
    pub secret: OneTimeSecret,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The address an email-change secret moves the account to.
    pub new_email: Option<String>,
}

/// Builds the email that tells a user its password changed, once the store
/// knows which user a reset secret opened.
pub type NoticeFor = Box<dyn FnOnce(&User) -> EmailJob + Send>;

/// What a password reset did, in its one transaction.
#[derive(Debug, Clone)]
pub struct CompletedReset {
    pub user: User,
    /// Every unexpired session of the user, now ended: their marks are
    /// still to be written.
    pub ended: Vec<EndedSession>,
}

/// How consuming an email-change secret ended.
#[derive(Debug, Clone)]
pub enum EmailChangeOutcome {
    /// The account now has the new address, verified.
    Changed(User),
    /// Unknown, expired, used, too many tries or a wrong code.
    InvalidOrExpired,
    /// Another account took the address meanwhile; the secret stays live.
    AddressTaken,
}

/// Makes new secrets from the operating system's randomness.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretGenerator: Send + Sync {
    fn generate(&self) -> OneTimeSecret;
}

/// Where one-time secrets live, next to the users they open.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OneTimeSecretStore: Send + Sync {
    /// Replaces `user`'s live secret of that purpose and writes its emails
    /// to the outbox, in one transaction; unless the live one was issued
    /// less than `min_interval` ago: then nothing changes (`false`).
    async fn issue(
        &self,
        user: UserId,
        secret: NewSecret,
        emails: Vec<EmailJob>,
        min_interval: Duration,
    ) -> Result<bool, SecretStoreError>;

    /// Consumes a live email-verification secret and marks the address
    /// verified, atomically: of two concurrent consumers exactly one gets
    /// the user. `None` for every failure; a wrong code counts against
    /// the code's tries.
    async fn verify_email(
        &self,
        proof: SecretProof,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, SecretStoreError>;

    /// Consumes a live password-reset secret and, in the same transaction,
    /// stores the new hash, marks the address verified (the email proved
    /// it), ends every session of the user (moving its session counter on,
    /// so no login in flight opens one), kills a pending email change (an
    /// intruder's must not outlive the reset that throws them out) and
    /// queues `notice`. `None` for
    /// every failure of the proof; nothing changes then but a wrong code's
    /// count.
    async fn reset_password(
        &self,
        proof: SecretProof,
        password_hash: PasswordHash,
        now: DateTime<Utc>,
        notice: NoticeFor,
    ) -> Result<Option<CompletedReset>, SecretStoreError>;

    /// Consumes a live email-change secret and moves the account to the
    /// address it was issued for, verified, atomically; the reset and
    /// verification links sent to the old address die with it.
    async fn change_email(
        &self,
        proof: SecretProof,
        now: DateTime<Utc>,
    ) -> Result<EmailChangeOutcome, SecretStoreError>;
}
