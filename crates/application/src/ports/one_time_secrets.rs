use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use domain::{OneTimeSecret, SecretProof, SecretPurpose, User, UserId};

use crate::EmailJob;
use crate::error::BoxError;

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
    /// Replaces `user`'s live secret of that purpose and writes its email
    /// to the outbox, in one transaction; unless the live one was issued
    /// less than `min_interval` ago: then nothing changes (`false`).
    async fn issue(
        &self,
        user: UserId,
        secret: NewSecret,
        email: EmailJob,
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
}
