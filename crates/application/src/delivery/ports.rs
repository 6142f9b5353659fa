use std::error::Error;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::types::{DeadLetter, Delivery, QueueDepths, RenderedEmail, Retry};
use crate::EmailJob;

/// The underlying error an adapter reports, kept whole so a log line can
/// print the full chain.
pub type Cause = Box<dyn Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Worth trying again later: network error, timeout, 429, 5xx.
    #[error("temporary failure")]
    Retryable {
        #[source]
        cause: Cause,
        /// What the provider asked for (`Retry-After`), if anything.
        retry_after: Option<Duration>,
    },
    /// Will fail the same way every time: any other 4xx.
    #[error("permanent failure")]
    Permanent {
        #[source]
        cause: Cause,
    },
}

/// Sends rendered emails (Mailgun, or files in development).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &RenderedEmail) -> Result<(), MailError>;
}

#[derive(Debug, thiserror::Error)]
#[error("could not render the {kind} email")]
pub struct RenderError {
    pub kind: String,
    #[source]
    pub cause: Cause,
}

/// Turns a job into subject, text and HTML. Pure computation.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait EmailRenderer: Send + Sync {
    fn render(&self, job: &EmailJob) -> Result<RenderedEmail, RenderError>;
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryQueueError {
    /// The queue did not answer in time or refused the connection; the
    /// delivery stays pending and is handed out again later.
    #[error("email queue unavailable")]
    Unavailable(#[source] Cause),
    #[error("email queue failed")]
    Unexpected(#[source] Cause),
}

/// The answer to [`DeliveryQueue::claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This delivery may send the job: no other delivery of the same job
    /// holds it, and it was not delivered.
    Acquired,
    /// The job was already sent (within the delivery record's expiry).
    AlreadyDelivered,
    /// Another delivery of the same job id (a duplicate queue entry) holds
    /// it right now; this one must not send.
    HeldElsewhere,
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

    /// Takes the job for this delivery (`receipt`) for a lease as long as
    /// the visibility timeout, unless it was delivered already or another
    /// delivery of the same job holds it. Checking and taking are one
    /// atomic step, so two deliveries of one job can never both send.
    /// `complete`, `schedule_retry` and `dead_letter` release the lease.
    async fn claim(&self, job_id: Uuid, receipt: &str) -> Result<Claim, DeliveryQueueError>;

    /// Records the job as delivered and acknowledges the delivery, atomically.
    async fn complete(&self, receipt: &str, job_id: Uuid) -> Result<(), DeliveryQueueError>;

    /// Acknowledges the delivery without recording anything (a duplicate).
    async fn ack(&self, receipt: &str) -> Result<(), DeliveryQueueError>;

    /// Acknowledges the delivery and stores the job to be handed out again
    /// at `retry.due_at`, atomically.
    async fn schedule_retry(&self, receipt: &str, retry: Retry) -> Result<(), DeliveryQueueError>;

    /// Acknowledges the delivery and stores the dead letter, atomically;
    /// dead letters past their retention, or beyond the cap (oldest
    /// first), are dropped in the same step.
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

/// What an operator sees of the queue and does with dead letters.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait QueueAdmin: Send + Sync {
    /// How many jobs each part of the queue holds.
    async fn depths(&self) -> Result<QueueDepths, DeliveryQueueError>;

    /// Every dead letter within its retention, oldest first.
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, DeliveryQueueError>;

    /// Puts the dead letter back on the queue as a fresh job; `false` when
    /// there is no dead letter with this id.
    async fn requeue_dead_letter(&self, id: &str) -> Result<bool, DeliveryQueueError>;

    /// Requeues every dead letter; returns how many.
    async fn requeue_all_dead_letters(&self) -> Result<usize, DeliveryQueueError>;
}
