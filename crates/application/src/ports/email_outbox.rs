use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::EmailJob;

use super::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("the email outbox is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the email outbox failed")]
    Unexpected(#[source] BoxError),
}

/// Email jobs committed with the data that caused them (the transactional
/// outbox), waiting to be handed to the [`super::EmailQueue`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EmailOutbox: Send + Sync {
    /// Takes up to `limit` jobs that no other relay holds, oldest first,
    /// and hides them from other relays for `lease`. A relay that dies
    /// leaves them to be leased again once the lease runs out.
    async fn lease(&self, limit: usize, lease: Duration) -> Result<Vec<EmailJob>, OutboxError>;

    /// Deletes jobs that the queue has accepted.
    async fn remove(&self, ids: Vec<Uuid>) -> Result<(), OutboxError>;

    /// Ends the lease of jobs the queue did not take, so the next round
    /// retries them instead of waiting for the lease to run out.
    async fn release(&self, ids: Vec<Uuid>) -> Result<(), OutboxError>;
}
