use async_trait::async_trait;

use crate::EmailJob;

use super::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the email queue is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the email queue failed")]
    Unexpected(#[source] BoxError),
    /// The queue took the jobs, but fewer replicas than required
    /// acknowledged them in time: a failover could still lose them, so
    /// their outbox rows stay for the next round (which may queue them a
    /// second time; the queue is at least once).
    #[error("only {acknowledged} of {wanted} Redis replicas acknowledged the email jobs")]
    NotReplicated { acknowledged: u32, wanted: u32 },
}

/// The producer side of the queue the email worker consumes.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EmailQueue: Send + Sync {
    /// Appends the jobs durably; `Ok` means the queue has every one of them.
    async fn push(&self, jobs: Vec<EmailJob>) -> Result<(), QueueError>;
}
