//! Moves committed email jobs from the outbox to the queue. A job leaves
//! the outbox only after the queue has accepted it, so a queue outage
//! delays emails but never loses one.

use std::sync::Arc;
use std::time::Duration;

use crate::error::RelayError;
use crate::ports::{EmailOutbox, EmailQueue};

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
        }
    }

    pub fn settings(&self) -> &RelaySettings {
        &self.settings
    }

    /// Moves one batch; returns how many jobs moved.
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
        if let Err(error) = self.queue.push(jobs).await {
            // Best effort: if this fails too, the lease runs out instead.
            if let Err(release) = self.outbox.release(ids).await {
                tracing::warn!(
                    error = &release as &dyn std::error::Error,
                    "could not release leased email jobs"
                );
            }
            return Err(error.into());
        }
        self.outbox.remove(ids).await?;
        tracing::Span::current().record("moved", moved);
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::{MockEmailOutbox, MockEmailQueue, OutboxError, QueueError};
    use crate::{Email, EmailJob};

    fn job(n: u8) -> EmailJob {
        EmailJob::new(
            Email::Welcome {
                to: format!("user{n}@example.io"),
                username: format!("user{n}"),
                verification_link: String::new(),
                code: String::new(),
            },
            DateTime::<Utc>::UNIX_EPOCH,
        )
    }

    fn relay(outbox: MockEmailOutbox, queue: MockEmailQueue) -> OutboxRelay {
        OutboxRelay::new(Arc::new(outbox), Arc::new(queue), RelaySettings::default())
    }

    #[tokio::test]
    async fn moves_jobs_then_removes_them() {
        let jobs = vec![job(1), job(2)];
        let ids = jobs.iter().map(|j| j.id).collect::<Vec<_>>();
        let mut outbox = MockEmailOutbox::new();
        let leased = jobs.clone();
        outbox
            .expect_lease()
            .times(1)
            .returning(move |_, _| Ok(leased.clone()));
        outbox
            .expect_remove()
            .with(eq(ids))
            .times(1)
            .returning(|_| Ok(()));
        let mut queue = MockEmailQueue::new();
        queue
            .expect_push()
            .with(eq(jobs))
            .times(1)
            .returning(|_| Ok(()));
        assert_eq!(relay(outbox, queue).relay_once().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn releases_jobs_at_once_when_the_queue_is_down() {
        let leased = job(1);
        let id = leased.id;
        let mut outbox = MockEmailOutbox::new();
        outbox
            .expect_lease()
            .returning(move |_, _| Ok(vec![leased.clone()]));
        outbox.expect_remove().never();
        // Released rather than left to its lease, so the next round
        // retries it as soon as the queue is back.
        outbox
            .expect_release()
            .with(eq(vec![id]))
            .times(1)
            .returning(|_| Ok(()));
        let mut queue = MockEmailQueue::new();
        queue
            .expect_push()
            .returning(|_| Err(QueueError::Unavailable("connection refused".into())));
        let error = relay(outbox, queue).relay_once().await.unwrap_err();
        assert!(matches!(
            error,
            RelayError::Queue(QueueError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn an_empty_outbox_touches_nothing() {
        let mut outbox = MockEmailOutbox::new();
        outbox.expect_lease().returning(|_, _| Ok(vec![]));
        outbox.expect_remove().never();
        let mut queue = MockEmailQueue::new();
        queue.expect_push().never();
        assert_eq!(relay(outbox, queue).relay_once().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn reports_an_outbox_outage() {
        let mut outbox = MockEmailOutbox::new();
        outbox
            .expect_lease()
            .returning(|_, _| Err(OutboxError::Unavailable("timeout".into())));
        let mut queue = MockEmailQueue::new();
        queue.expect_push().never();
        let error = relay(outbox, queue).relay_once().await.unwrap_err();
        assert!(matches!(
            error,
            RelayError::Outbox(OutboxError::Unavailable(_))
        ));
    }
}
