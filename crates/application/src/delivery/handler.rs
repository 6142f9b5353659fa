use std::sync::Arc;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::ports::{DeliveryQueue, DeliveryQueueError, EmailRenderer, MailError, Mailer};
use super::types::{DeadLetter, Delivery, FailedAttempt, Retry};
use crate::EmailJob;
use crate::ports::Clock;

/// Picks the actual wait given its ceiling: the worker passes a uniform
/// random draw in `[0, ceiling]` ("full jitter", so retries of many jobs
/// spread out instead of hitting the provider together); tests pass a
/// fixed function.
pub type Jitter = Arc<dyn Fn(Duration) -> Duration + Send + Sync>;

/// Builds a full-jitter [`Jitter`] from a source of uniform numbers in `[0, 1)`.
pub fn full_jitter_with(uniform: impl Fn() -> f64 + Send + Sync + 'static) -> Jitter {
    Arc::new(move |ceiling: Duration| ceiling.mul_f64(uniform().clamp(0.0, 1.0)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included, before a job whose
    /// failures are all temporary is dead-lettered.
    pub max_attempts: u32,
    /// Ceiling of the wait after the first failure; doubled after each.
    pub base_delay: Duration,
    /// The ceiling never grows past this.
    pub max_delay: Duration,
    /// A provider's `Retry-After` is honoured up to this much.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(15 * 60),
            max_retry_after: Duration::from_secs(60 * 60),
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the wait after the `attempt`-th failure (1-based):
    /// `base_delay * 2^(attempt - 1)`, at most `max_delay`.
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base_delay
            .checked_mul(factor)
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }
}

/// What became of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Already delivered earlier: acknowledged without sending again.
    Duplicate,
    RetryScheduled {
        delay: Duration,
        error: String,
    },
    DeadLettered {
        reason: String,
    },
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Duplicate => "duplicate",
            Outcome::RetryScheduled { .. } => "retry_scheduled",
            Outcome::DeadLettered { .. } => "dead_lettered",
        }
    }
}

/// After a successful send, recording it is retried this many times so
/// a short queue hiccup does not turn into a duplicate email.
const COMPLETE_TRIES: u32 = 3;
const COMPLETE_PAUSE: Duration = Duration::from_millis(250);

/// Handles one delivery from start to finish.
pub struct EmailDelivery {
    queue: Arc<dyn DeliveryQueue>,
    renderer: Arc<dyn EmailRenderer>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    jitter: Jitter,
    policy: RetryPolicy,
}

impl EmailDelivery {
    pub fn new(
        queue: Arc<dyn DeliveryQueue>,
        renderer: Arc<dyn EmailRenderer>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        jitter: Jitter,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            queue,
            renderer,
            mailer,
            clock,
            jitter,
            policy,
        }
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Sends, retries later, dead-letters or drops the delivery, and logs
    /// one line with the outcome. An `Err` means the queue could not record
    /// the outcome: the delivery stays pending and is handed out again.
    pub async fn handle(&self, delivery: Delivery) -> Result<Outcome, DeliveryQueueError> {
        let started = Instant::now();
        let attempt = attempt_number(&delivery);
        let job = match EmailJob::from_json(&delivery.payload) {
            Ok(job) => job,
            Err(error) => {
                let reason = format!("invalid job payload: {error}");
                let id = format!("invalid:{}", delivery.receipt);
                let history = self.history_with(&delivery, attempt, reason.clone());
                let result = self
                    .give_up(&delivery, id.clone(), None, reason, history)
                    .await;
                log(&id, "unknown", attempt, started, &result);
                return result;
            }
        };
        let result = self.deliver(&delivery, &job, attempt).await;
        log(
            &job.id.to_string(),
            job.email.kind(),
            attempt,
            started,
            &result,
        );
        result
    }

    async fn deliver(
        &self,
        delivery: &Delivery,
        job: &EmailJob,
        attempt: u32,
    ) -> Result<Outcome, DeliveryQueueError> {
        if self.queue.was_delivered(job.id).await? {
            self.queue.ack(&delivery.receipt).await?;
            return Ok(Outcome::Duplicate);
        }
        let kind = Some(job.email.kind().to_owned());
        let rendered = match self.renderer.render(job.id, &job.email) {
            Ok(rendered) => rendered,
            Err(error) => {
                let history = self.history_with(delivery, attempt, error.to_string());
                return self
                    .give_up(
                        delivery,
                        job.id.to_string(),
                        kind,
                        error.to_string(),
                        history,
                    )
                    .await;
            }
        };
        match self.mailer.send(&rendered).await {
            Ok(()) => {
                self.complete(&delivery.receipt, job.id).await?;
                Ok(Outcome::Sent)
            }
            Err(MailError::Permanent { reason }) => {
                let history = self.history_with(delivery, attempt, reason.clone());
                self.give_up(delivery, job.id.to_string(), kind, reason, history)
                    .await
            }
            Err(MailError::Retryable {
                reason,
                retry_after,
            }) => {
                let history = self.history_with(delivery, attempt, reason.clone());
                if attempt >= self.policy.max_attempts {
                    let reason = format!("gave up after {attempt} attempts; last error: {reason}");
                    return self
                        .give_up(delivery, job.id.to_string(), kind, reason, history)
                        .await;
                }
                let delay = self.retry_delay(attempt, retry_after);
                let due_at = self.clock.now()
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                let retry = Retry {
                    job_id: job.id,
                    payload: delivery.payload.clone(),
                    history,
                    due_at,
                };
                self.queue.schedule_retry(&delivery.receipt, retry).await?;
                Ok(Outcome::RetryScheduled {
                    delay,
                    error: reason,
                })
            }
        }
    }

    /// Full-jitter backoff, but never sooner than the provider asked.
    fn retry_delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.policy.backoff_ceiling(attempt);
        let backoff = (self.jitter)(ceiling).min(ceiling);
        let asked = retry_after.map_or(Duration::ZERO, |asked| {
            asked.min(self.policy.max_retry_after)
        });
        backoff.max(asked)
    }

    fn history_with(&self, delivery: &Delivery, attempt: u32, error: String) -> Vec<FailedAttempt> {
        let mut history = delivery.history.clone();
        history.push(FailedAttempt {
            attempt,
            at: self.clock.now(),
            error,
        });
        history
    }

    async fn give_up(
        &self,
        delivery: &Delivery,
        id: String,
        kind: Option<String>,
        reason: String,
        history: Vec<FailedAttempt>,
    ) -> Result<Outcome, DeliveryQueueError> {
        let letter = DeadLetter {
            id,
            kind,
            payload: delivery.payload.clone(),
            reason: reason.clone(),
            history,
            dead_at: self.clock.now(),
        };
        self.queue.dead_letter(&delivery.receipt, letter).await?;
        Ok(Outcome::DeadLettered { reason })
    }

    async fn complete(&self, receipt: &str, job_id: Uuid) -> Result<(), DeliveryQueueError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.queue.complete(receipt, job_id).await {
                Ok(()) => return Ok(()),
                Err(error) if tries >= COMPLETE_TRIES => return Err(error),
                Err(error) => {
                    tracing::warn!(job_id = %job_id, %error, "sent, but recording the delivery failed; trying again");
                    tokio::time::sleep(COMPLETE_PAUSE * tries).await;
                }
            }
        }
    }
}

/// This attempt's number: one more than the failures recorded so far.
fn attempt_number(delivery: &Delivery) -> u32 {
    u32::try_from(delivery.history.len())
        .unwrap_or(u32::MAX)
        .saturating_add(1)
}

/// The one log line per delivery: ids, kind, attempt, outcome, latency.
/// Never the address or the bodies.
fn log(
    job_id: &str,
    kind: &str,
    attempt: u32,
    started: Instant,
    result: &Result<Outcome, DeliveryQueueError>,
) {
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(Outcome::Sent | Outcome::Duplicate) => {
            let outcome = result.as_ref().map_or("", Outcome::as_str);
            tracing::info!(job_id, kind, attempt, outcome, latency_ms, "email job done");
        }
        Ok(Outcome::RetryScheduled { delay, error }) => {
            let retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            tracing::warn!(
                job_id,
                kind,
                attempt,
                outcome = "retry_scheduled",
                latency_ms,
                retry_in_ms,
                error = %error,
                "email job failed; will retry"
            );
        }
        Ok(Outcome::DeadLettered { reason }) => {
            tracing::error!(
                job_id,
                kind,
                attempt,
                outcome = "dead_lettered",
                latency_ms,
                reason = %reason,
                "email job dead-lettered"
            );
        }
        Err(error) => {
            tracing::warn!(
                job_id,
                kind,
                attempt,
                outcome = "queue_error",
                latency_ms,
                error = %error,
                "email job outcome not recorded; it stays pending and will be handed out again"
            );
        }
    }
}
