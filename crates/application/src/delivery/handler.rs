use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

use super::policy::{Jitter, RetryPolicy};
use super::ports::{Claim, DeliveryQueue, DeliveryQueueError, EmailRenderer, MailError, Mailer};
use super::types::{DeadLetter, Delivery, FailedAttempt, Retry};
use crate::EmailJob;
use crate::error_chain::ErrorChain;
use crate::ports::Clock;

/// What became of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Already delivered earlier: acknowledged without sending again.
    Duplicate,
    /// Another delivery of the same job holds its claim: left pending,
    /// untouched, and handed out again after the visibility timeout.
    ClaimedElsewhere,
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
            Outcome::ClaimedElsewhere => "claimed_elsewhere",
            Outcome::RetryScheduled { .. } => "retry_scheduled",
            Outcome::DeadLettered { .. } => "dead_lettered",
        }
    }
}

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

    /// Sends, retries later, dead-letters or drops the delivery, and logs
    /// one line with the outcome. An `Err` means the queue could not record
    /// the outcome: the delivery stays pending and is handed out again.
    #[tracing::instrument(
        level = "debug",
        name = "email_job",
        skip_all,
        fields(receipt = %delivery.receipt, handed_out = delivery.handed_out)
    )]
    pub async fn handle(&self, delivery: Delivery) -> Result<Outcome, DeliveryQueueError> {
        let started = Instant::now();
        let attempt = attempt_number(&delivery);
        let job = match EmailJob::from_json(&delivery.payload) {
            Ok(job) => job,
            Err(error) => {
                let reason = format!("invalid job payload: {error}");
                let id = format!("invalid:{}", delivery.receipt);
                let result = self
                    .give_up(&delivery, id.clone(), None, attempt, reason)
                    .await;
                log(&id, "unknown", attempt, started, &result);
                return result;
            }
        };
        let result = if delivery.handed_out > self.policy.max_attempts {
            // Every earlier hand-out of this entry ended without an outcome:
            // the worker died or handling it panicked. Trying again would
            // loop forever.
            let reason = format!(
                "handed out {} times without an outcome (a worker crashed or handling it panicked); \
                 the limit is {}",
                delivery.handed_out, self.policy.max_attempts
            );
            let kind = Some(job.email.kind().to_owned());
            self.give_up(&delivery, job.id.to_string(), kind, attempt, reason)
                .await
        } else {
            self.deliver(&delivery, &job, attempt).await
        };
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
        match self.queue.claim(job.id, &delivery.receipt).await? {
            Claim::Acquired => {}
            Claim::AlreadyDelivered => {
                self.queue.ack(&delivery.receipt).await?;
                return Ok(Outcome::Duplicate);
            }
            Claim::HeldElsewhere => return Ok(Outcome::ClaimedElsewhere),
        }
        let kind = Some(job.email.kind().to_owned());
        let rendered = match self.renderer.render(job) {
            Ok(rendered) => rendered,
            Err(error) => {
                let reason = ErrorChain(&error).to_string();
                return self
                    .give_up(delivery, job.id.to_string(), kind, attempt, reason)
                    .await;
            }
        };
        let error = match self.mailer.send(&rendered).await {
            Ok(()) => {
                self.queue.complete(&delivery.receipt, job.id).await?;
                return Ok(Outcome::Sent);
            }
            Err(error) => error,
        };
        let reason = ErrorChain(&error).to_string();
        let MailError::Retryable { retry_after, .. } = error else {
            return self
                .give_up(delivery, job.id.to_string(), kind, attempt, reason)
                .await;
        };
        if attempt >= self.policy.max_attempts {
            let history = self.history_with(delivery, attempt, reason.clone());
            let reason = format!("gave up after {attempt} attempts; last error: {reason}");
            return self
                .dead_letter(delivery, job.id.to_string(), kind, history, reason)
                .await;
        }
        let delay = self.retry_delay(attempt, retry_after);
        let retry = Retry {
            job_id: job.id,
            payload: delivery.payload.clone(),
            history: self.history_with(delivery, attempt, reason.clone()),
            due_at: later(self.clock.now(), delay),
        };
        self.queue.schedule_retry(&delivery.receipt, retry).await?;
        Ok(Outcome::RetryScheduled {
            delay,
            error: reason,
        })
    }

    /// Backoff with equal jitter, but never sooner than the provider asked.
    fn retry_delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self.policy.backoff(attempt, &self.jitter);
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

    /// Dead-letters the delivery; this attempt's error is the reason.
    async fn give_up(
        &self,
        delivery: &Delivery,
        id: String,
        kind: Option<String>,
        attempt: u32,
        reason: String,
    ) -> Result<Outcome, DeliveryQueueError> {
        let history = self.history_with(delivery, attempt, reason.clone());
        self.dead_letter(delivery, id, kind, history, reason).await
    }

    async fn dead_letter(
        &self,
        delivery: &Delivery,
        id: String,
        kind: Option<String>,
        history: Vec<FailedAttempt>,
        reason: String,
    ) -> Result<Outcome, DeliveryQueueError> {
        let letter = DeadLetter {
            id,
            kind,
            payload: delivery.payload.clone(),
            history,
            reason: reason.clone(),
            dead_at: self.clock.now(),
        };
        self.queue.dead_letter(&delivery.receipt, letter).await?;
        Ok(Outcome::DeadLettered { reason })
    }
}

/// `now + delay`, saturating at the latest representable time.
fn later(now: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(delay)
        .ok()
        .and_then(|delay| now.checked_add_signed(delay))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
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
        Ok(outcome @ (Outcome::Sent | Outcome::Duplicate | Outcome::ClaimedElsewhere)) => {
            let outcome = outcome.as_str();
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
                error.chain = %ErrorChain(error),
                "email job outcome not recorded; it stays pending and will be handed out again"
            );
        }
    }
}
