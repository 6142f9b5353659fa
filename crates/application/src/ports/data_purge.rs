use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum PurgeStoreError {
    #[error("the store to purge is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the purge failed")]
    Unexpected(#[source] BoxError),
}

/// What the purge deletes, each by the moment it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purgeable {
    /// Login sessions, ended when they expired or were revoked.
    Sessions,
    /// One-time secrets, ended when they expired or were used.
    OneTimeSecrets,
}

/// One batch of the purge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgedBatch {
    /// This many rows were deleted (fewer than asked: none are left).
    Deleted(usize),
    /// Another purge holds the lock at this moment: nothing was deleted.
    Busy,
}

/// Deletes what ended long ago, one small batch at a time. Each batch is
/// its own short transaction that takes the purge lock only for itself: a
/// purge that stops between two batches holds nothing, and no session
/// state is needed (it works behind a transaction-mode pooler).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DataPurge: Send + Sync {
    /// Deletes up to `limit` rows of `what` that ended before `before`,
    /// unless another purge holds the lock.
    async fn purge_batch(
        &self,
        what: Purgeable,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<PurgedBatch, PurgeStoreError>;
}
