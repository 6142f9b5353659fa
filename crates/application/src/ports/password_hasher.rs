use async_trait::async_trait;
use domain::{Password, PasswordHash};
use secrecy::SecretString;

use super::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many hashes are already waiting; the caller should retry later.
    #[error("password hashing is saturated")]
    Busy,
    #[error("password hashing failed")]
    Unexpected(#[source] BoxError),
}

/// Slow, salted password hashing. Implementations keep the work off the
/// async executor and bound how many hashes run at once.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: Password) -> Result<PasswordHash, HashError>;

    /// Checks `password` against `stored`. With `stored == None` (no such
    /// account) it does the same work against a decoy hash and returns
    /// `false`, so response time does not reveal which emails exist.
    async fn verify(
        &self,
        password: SecretString,
        stored: Option<PasswordHash>,
    ) -> Result<bool, HashError>;
}
