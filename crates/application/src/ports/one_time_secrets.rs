use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use domain::{OneTimeSecret, PasswordHash, SecretProof, SecretPurpose, SessionId, User, UserId};

use super::BoxError;
use crate::EmailJob;
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

/// The undo link of an email change, sent to the address the account is
/// leaving. Only its token is used (stored as its SHA-256): the link has
/// no code. It outlives the confirmation, since the owner needs it after
/// an intruder confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUndo {
    pub secret: OneTimeSecret,
    /// The address an undo puts back.
    pub old_email: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An email-change request, stored whole in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmailChange {
    /// The `change_email` secret (its `new_email` set).
    pub change: NewSecret,
    /// The session that asked: a confirmed change ends every other one.
    pub session: SessionId,
    pub undo: NewUndo,
}

/// What a confirmed change, or its undo, did in its one transaction.
#[derive(Debug, Clone)]
pub struct CompletedEmailChange {
    pub user: User,
    /// The sessions it ended: their marks are still to be written.
    pub ended: Vec<EndedSession>,
}

/// How consuming an email-change secret (or an undo token) ended.
#[derive(Debug, Clone)]
pub enum EmailChangeOutcome {
    /// The account now has the new (or, undone, the old) address, verified.
    Changed(CompletedEmailChange),
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
    /// verification links sent to the old address die with it, and every
    /// session of the user but the one that asked for the change ends
    /// (moving its session counter on).
    async fn change_email(
        &self,
        proof: SecretProof,
        now: DateTime<Utc>,
    ) -> Result<EmailChangeOutcome, SecretStoreError>;

    /// Replaces `user`'s pending email change by `change` (its secret, the
    /// session that asked) and stores its undo token beside the earlier
    /// ones, with `emails`, in one transaction. Earlier undo tokens stay
    /// live: a later request must not take the owner's link away.
    async fn issue_email_change(
        &self,
        user: UserId,
        change: NewEmailChange,
        emails: Vec<EmailJob>,
    ) -> Result<(), SecretStoreError>;

    /// Consumes a live undo token and, in the same transaction, puts the
    /// address it remembers back (verified), kills a pending email change,
    /// the links sent to the address being left and the undo tokens of
    /// later changes, and ends every session of the user. `AddressTaken`
    /// (nothing changes) when another account holds that address now.
    async fn undo_email_change(
        &self,
        token: String,
        now: DateTime<Utc>,
    ) -> Result<EmailChangeOutcome, SecretStoreError>;
}
