use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{NewUser, PasswordHash, Role, SessionId, User, UserId};

use super::BoxError;
use crate::EmailJob;
use crate::ports::{EndedSession, NewAuditEvent, NewSecret, SessionEpoch};

#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// Another account already uses this email (case-insensitively).
    #[error("a user with that email already exists")]
    EmailTaken,
    /// The store cannot hold this text (a NUL byte, an invalid encoding).
    #[error("the user store refused the input")]
    InvalidInput(#[source] BoxError),
    /// The store did not answer in time or refused the connection.
    #[error("the user store is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the user store failed")]
    Unexpected(#[source] BoxError),
}

/// What a login checks, read in one go.
#[derive(Debug, Clone)]
pub struct StoredCredentials {
    pub user: User,
    pub password_hash: PasswordHash,
    /// The user's session counter at this read (see [`SessionEpoch`]).
    pub session_epoch: SessionEpoch,
    /// Banned until then (see [`crate::ports::UserStatus::of`]).
    pub banned_until: Option<DateTime<Utc>>,
}

/// Where users live. Emails are looked up by their normalised form
/// ([`domain::EmailAddress::normalized`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores the user, its email-verification secret, its welcome email
    /// job and its audit event (`user.registered`, made whole by
    /// [`NewAuditEvent::for_new_user`]) atomically: either all exist
    /// afterwards or none does.
    async fn create(
        &self,
        user: NewUser,
        verification: NewSecret,
        welcome: EmailJob,
        registered: NewAuditEvent,
    ) -> Result<User, RepositoryError>;

    /// `None` when no user has this email (normalised).
    async fn find_by_email(&self, normalized_email: &str) -> Result<Option<User>, RepositoryError>;

    /// Only the id of the account at this address: what a request that
    /// must answer in the same time either way may read (decoding a whole
    /// user costs an account microseconds an unknown address does not).
    async fn find_id_by_email(
        &self,
        normalized_email: &str,
    ) -> Result<Option<UserId>, RepositoryError>;

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError>;

    /// The user, its password hash and session counter, for a login. A key
    /// the store cannot hold matches no user.
    async fn find_credentials(
        &self,
        normalized_email: &str,
    ) -> Result<Option<StoredCredentials>, RepositoryError>;

    /// Deletes the user and, in the same transaction, queues the
    /// revocation mark of every token it held ([`crate::ports::QueuedMark::User`],
    /// ended at `now`) and writes `deleted` (its `user.deleted`). `false`
    /// (nothing written) when there was no such user.
    async fn delete(
        &self,
        id: UserId,
        now: DateTime<Utc>,
        deleted: NewAuditEvent,
    ) -> Result<bool, RepositoryError>;

    /// `None` when no user has this email.
    async fn set_role(
        &self,
        normalized_email: &str,
        role: Role,
    ) -> Result<Option<User>, RepositoryError>;

    /// Stores a new password hash and, in the same transaction, ends every
    /// session of the user but `keep` (moving its session counter on), kills
    /// a pending email change or password reset, and queues `notice`.
    /// `None` when there is no such user.
    async fn change_password(
        &self,
        id: UserId,
        password_hash: PasswordHash,
        keep: SessionId,
        now: DateTime<Utc>,
        notice: EmailJob,
    ) -> Result<Option<Vec<EndedSession>>, RepositoryError>;
}
