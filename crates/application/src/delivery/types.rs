use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One failed attempt to send a job, kept with the job until it is
/// delivered or dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAttempt {
    /// 1 for the first attempt.
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub error: String,
}

/// A job as the queue hands it to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The queue's handle for this delivery (a stream entry id); what
    /// `ack`, `schedule_retry` and friends take.
    pub receipt: String,
    /// The job JSON exactly as queued. The use case parses it, so a
    /// malformed job is dead-lettered with its raw text instead of being
    /// lost or crash-looping the worker.
    pub payload: String,
    /// Earlier failed attempts, oldest first; empty on a first delivery.
    pub history: Vec<FailedAttempt>,
    /// How many times the queue has handed out this very entry, this time
    /// included: 1 normally, more when an earlier holder died, panicked or
    /// could not record an outcome.
    pub handed_out: u32,
}

impl Delivery {
    /// A first delivery: no earlier attempts.
    pub fn new(receipt: impl Into<String>, payload: impl Into<String>) -> Self {
        Self {
            receipt: receipt.into(),
            payload: payload.into(),
            history: Vec::new(),
            handed_out: 1,
        }
    }
}

/// A job to put back on the queue at `due_at`, with its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    pub job_id: Uuid,
    pub payload: String,
    pub history: Vec<FailedAttempt>,
    pub due_at: DateTime<Utc>,
}

/// A job given up on, kept for an operator to inspect and requeue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The job id, or `invalid:<receipt>` for a payload that is not a job.
    pub id: String,
    /// The email kind, when the payload could be read.
    pub kind: Option<String>,
    /// The job JSON as queued (raw text when it did not parse).
    pub payload: String,
    /// Why it was given up on.
    pub reason: String,
    /// Every failed attempt, with its time and error.
    pub history: Vec<FailedAttempt>,
    pub dead_at: DateTime<Utc>,
}

/// An email ready to hand to a [`super::Mailer`]. `Debug` shows neither
/// the address nor the bodies, so it is safe in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub job_id: Uuid,
    /// When its job was made: the same on every delivery attempt.
    pub created_at: DateTime<Utc>,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl RenderedEmail {
    /// The part of the address after `@`, the most a log line may show.
    pub fn recipient_domain(&self) -> &str {
        self.to.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl fmt::Debug for RenderedEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedEmail")
            .field("job_id", &self.job_id)
            .field("kind", &self.kind)
            .field("to_domain", &self.recipient_domain())
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// How many jobs each part of the queue holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepths {
    /// Waiting or in flight (an entry leaves the queue once handled).
    pub stream: usize,
    /// Waiting for a retry.
    pub retrying: usize,
    pub dead: usize,
}
