//! Moves committed email jobs from the outbox to the queue. A job leaves
//! the outbox only after the queue has accepted it, so a queue outage
//! delays emails but never loses one. With a recipient limit, a job a
//! stranger can trigger that is over its recipient's budget is dropped
//! (logged, never queued); security notices are never capped.

use std::sync::Arc;
use std::time::Duration;

use crate::EmailJob;
use crate::error::RelayError;
use crate::error_chain::ErrorChain;
use crate::ports::{EmailOutbox, EmailQueue, RateDecision, RateLimiter};
use crate::rate_limits::{RateLimit, Rule, email_subject};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelaySettings {
    /// Jobs moved per round trip.
    pub batch_size: usize,
    /// How long a leased batch stays hidden from other relays.
    pub lease: Duration,
    /// How often the outbox is checked when nobody wakes the relay; this
    /// also bounds how soon jobs left by a failed round are retried.
    pub poll_interval: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch_size: 100,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// One relay round at a time; the binary runs the rounds in a loop, woken
/// by [`crate::ports::OutboxSignal`] or its poll timer, so that timers and
/// the async runtime stay out of this crate.
pub struct OutboxRelay {
    outbox: Arc<dyn EmailOutbox>,
    queue: Arc<dyn EmailQueue>,
    settings: RelaySettings,
    /// Emails per recipient (`None`: unlimited).
    recipient_limit: Option<(Arc<dyn RateLimiter>, RateLimit)>,
}

impl OutboxRelay {
    pub fn new(
        outbox: Arc<dyn EmailOutbox>,
        queue: Arc<dyn EmailQueue>,
        settings: RelaySettings,
    ) -> Self {
        Self {
            outbox,
            queue,
            settings,
            recipient_limit: None,
        }
    }

    /// Drops the jobs that would send a recipient more than `limit` emails
    /// a stranger can trigger instead of queueing them. Security notices
    /// neither count nor are dropped ([`crate::Email::stranger_can_trigger`]).
    pub fn with_recipient_limit(mut self, limiter: Arc<dyn RateLimiter>, limit: RateLimit) -> Self {
        self.recipient_limit = Some((limiter, limit));
        self
    }

    pub fn settings(&self) -> &RelaySettings {
        &self.settings
    }

    /// Moves one batch; returns how many jobs left the outbox (queued or
    /// dropped over a recipient's limit).
    #[tracing::instrument(level = "debug", name = "relay_outbox", skip_all, fields(moved = tracing::field::Empty))]
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        let jobs = self
            .outbox
            .lease(self.settings.batch_size, self.settings.lease)
            .await?;
        if jobs.is_empty() {
            return Ok(0);
        }
        let ids = jobs.iter().map(|job| job.id).collect::<Vec<_>>();
        let moved = ids.len();
        let jobs = self.within_recipient_limits(jobs).await;
        let pushed = if jobs.is_empty() {
            Ok(())
        } else {
            self.queue.push(jobs).await
        };
        if let Err(error) = pushed {
            // Best effort: if this fails too, the lease runs out instead.
            if let Err(release) = self.outbox.release(ids).await {
                tracing::warn!(
                    error.chain = %ErrorChain(&release),
                    "could not release leased email jobs"
                );
            }
            return Err(error.into());
        }
        self.outbox.remove(ids).await?;
        tracing::Span::current().record("moved", moved);
        Ok(moved)
    }

    /// The jobs whose recipients are within their limit; the others are
    /// logged and left out (the caller removes them from the outbox with
    /// the rest). A job asked about again (its batch is retried after a
    /// queue failure) is admitted again without spending twice.
    async fn within_recipient_limits(&self, jobs: Vec<EmailJob>) -> Vec<EmailJob> {
        let Some((limiter, limit)) = &self.recipient_limit else {
            return jobs;
        };
        let mut admitted = Vec::with_capacity(jobs.len());
        for job in jobs {
            if !job.email.stranger_can_trigger() {
                admitted.push(job);
                continue;
            }
            let recipient = email_subject(job.email.recipient());
            let decision = limiter
                .admit(
                    Rule::EmailsPerRecipient,
                    &recipient,
                    &job.id.to_string(),
                    *limit,
                )
                .await;
            match decision {
                Ok(RateDecision::Limited { .. }) => {
                    // The address stays out of the log; the job id leads to it.
                    tracing::warn!(
                        job_id = %job.id,
                        kind = job.email.kind(),
                        "email dropped: its recipient reached the emails-per-recipient limit"
                    );
                }
                Ok(RateDecision::Allowed { .. }) => admitted.push(job),
                // Only a limiter without a fallback gets here: send.
                Err(error) => {
                    tracing::error!(
                        error.chain = %ErrorChain(&error),
                        job_id = %job.id,
                        "the recipient limit could not be checked"
                    );
                    admitted.push(job);
                }
            }
        }
        admitted
    }
}

#[cfg(test)]
mod tests;
