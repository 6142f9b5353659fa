use async_trait::async_trait;

use crate::EmailJob;

use super::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the email queue is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the email queue failed")]
    Unexpected(#[source] BoxError),
}

/// The producer side of the queue the email worker consumes.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EmailQueue: Send + Sync {
    /// Appends the jobs durably; `Ok` means the queue has every one of them.
    async fn push(&self, jobs: Vec<EmailJob>) -> Result<(), QueueError>;
}
