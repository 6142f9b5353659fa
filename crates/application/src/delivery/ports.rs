use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::types::{DeadLetter, Delivery, RenderedEmail, Retry};
use crate::Email;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Worth trying again later: network error, timeout, 429, 5xx.
    #[error("temporary failure: {reason}")]
    Retryable {
        reason: String,
        /// What the provider asked for (`Retry-After`), if anything.
        retry_after: Option<Duration>,
    },
    /// Will fail the same way every time: any other 4xx.
    #[error("permanent failure: {reason}")]
    Permanent { reason: String },
}

/// Sends rendered emails (Mailgun, or files in development).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &RenderedEmail) -> Result<(), MailError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not render the {kind} email: {reason}")]
pub struct RenderError {
    pub kind: String,
    pub reason: String,
}

/// Turns a job into subject, text and HTML. Pure computation.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait EmailRenderer: Send + Sync {
    fn render(&self, job_id: Uuid, email: &Email) -> Result<RenderedEmail, RenderError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryQueueError {
    /// The queue did not answer in time or refused the connection; the
    /// delivery stays pending and is handed out again later.
    #[error("email queue unavailable: {0}")]
    Unavailable(String),
    #[error("email queue failed: {0}")]
    Unexpected(String),
}

/// The consumer side of the email queue. A delivery handed out by
/// `receive` or `claim_abandoned` stays pending until exactly one of
/// `ack`, `complete`, `schedule_retry` or `dead_letter` succeeds for its
/// receipt; a worker that dies leaves it to be claimed by another one.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Up to `max` new deliveries for this worker, waiting a short,
    /// bounded time when there are none.
    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, DeliveryQueueError>;

    /// Up to `max` deliveries that another (dead or stuck) worker has held
    /// longer than the visibility timeout, now held by this worker.
    async fn claim_abandoned(&self, max: usize) -> Result<Vec<Delivery>, DeliveryQueueError>;

    /// Whether the job was already sent (within the delivery record's
    /// expiry).
    async fn was_delivered(&self, job_id: Uuid) -> Result<bool, DeliveryQueueError>;

    /// Records the job as delivered and acknowledges the delivery, atomically.
    async fn complete(&self, receipt: &str, job_id: Uuid) -> Result<(), DeliveryQueueError>;

    /// Acknowledges the delivery without recording anything (a duplicate).
    async fn ack(&self, receipt: &str) -> Result<(), DeliveryQueueError>;

    /// Acknowledges the delivery and stores the job to be handed out again
    /// at `retry.due_at`, atomically.
    async fn schedule_retry(&self, receipt: &str, retry: Retry) -> Result<(), DeliveryQueueError>;

    /// Acknowledges the delivery and stores the dead letter, atomically.
    async fn dead_letter(
        &self,
        receipt: &str,
        letter: DeadLetter,
    ) -> Result<(), DeliveryQueueError>;

    /// Puts up to `limit` retries due at `now` back on the queue; returns
    /// how many moved.
    async fn promote_due_retries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, DeliveryQueueError>;
}
