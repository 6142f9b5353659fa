//! After a successful send, recording it is worth a few quick tries: a
//! short queue hiccup must not turn into a duplicate email.

use std::sync::Arc;
use std::time::Duration;

use application::ErrorChain;
use application::delivery::{
    Claim, DeadLetter, Delivery, DeliveryQueue, DeliveryQueueError, Retry,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A [`DeliveryQueue`] whose `complete` is tried up to `tries` times,
/// pausing a little longer each time; every other call goes straight
/// through.
pub struct CompletionRetries {
    inner: Arc<dyn DeliveryQueue>,
    tries: u32,
    pause: Duration,
}

impl CompletionRetries {
    /// Three tries, 250 ms then 500 ms apart.
    pub fn new(inner: Arc<dyn DeliveryQueue>) -> Self {
        Self::with(inner, 3, Duration::from_millis(250))
    }

    pub fn with(inner: Arc<dyn DeliveryQueue>, tries: u32, pause: Duration) -> Self {
        Self {
            inner,
            tries: tries.max(1),
            pause,
        }
    }
}

#[async_trait]
impl DeliveryQueue for CompletionRetries {
    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, DeliveryQueueError> {
        self.inner.receive(max).await
    }

    async fn claim_abandoned(&self, max: usize) -> Result<Vec<Delivery>, DeliveryQueueError> {
        self.inner.claim_abandoned(max).await
    }

    async fn claim(&self, job_id: Uuid, receipt: &str) -> Result<Claim, DeliveryQueueError> {
        self.inner.claim(job_id, receipt).await
    }

    async fn complete(&self, receipt: &str, job_id: Uuid) -> Result<(), DeliveryQueueError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.inner.complete(receipt, job_id).await {
                Ok(()) => return Ok(()),
                Err(error) if tries >= self.tries => return Err(error),
                Err(error) => {
                    tracing::warn!(
                        %job_id,
                        error.chain = %ErrorChain(&error),
                        "sent, but recording the delivery failed; trying again"
                    );
                    tokio::time::sleep(self.pause.saturating_mul(tries)).await;
                }
            }
        }
    }

    async fn ack(&self, receipt: &str) -> Result<(), DeliveryQueueError> {
        self.inner.ack(receipt).await
    }

    async fn schedule_retry(&self, receipt: &str, retry: Retry) -> Result<(), DeliveryQueueError> {
        self.inner.schedule_retry(receipt, retry).await
    }

    async fn dead_letter(
        &self,
        receipt: &str,
        letter: DeadLetter,
    ) -> Result<(), DeliveryQueueError> {
        self.inner.dead_letter(receipt, letter).await
    }

    async fn promote_due_retries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, DeliveryQueueError> {
        self.inner.promote_due_retries(now, limit).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use application::delivery::MockDeliveryQueue;

    use super::*;

    fn failing_first(failures: usize) -> (MockDeliveryQueue, Arc<Mutex<usize>>) {
        let calls = Arc::new(Mutex::new(0));
        let counter = calls.clone();
        let mut queue = MockDeliveryQueue::new();
        queue.expect_complete().returning(move |_, _| {
            let mut calls = counter.lock().unwrap();
            *calls += 1;
            if *calls <= failures {
                Err(DeliveryQueueError::Unavailable("timeout".into()))
            } else {
                Ok(())
            }
        });
        (queue, calls)
    }

    #[tokio::test]
    async fn recording_a_sent_job_is_retried_through_a_short_outage() {
        let (queue, calls) = failing_first(1);
        let queue = CompletionRetries::with(Arc::new(queue), 3, Duration::from_millis(1));
        queue.complete("1-0", Uuid::nil()).await.unwrap();
        assert_eq!(*calls.lock().unwrap(), 2);
    }

    #[tokio::test]
    async fn a_longer_outage_is_reported_after_the_last_try() {
        let (queue, calls) = failing_first(5);
        let queue = CompletionRetries::with(Arc::new(queue), 3, Duration::from_millis(1));
        let error = queue.complete("1-0", Uuid::nil()).await.unwrap_err();
        assert!(matches!(error, DeliveryQueueError::Unavailable(_)));
        assert_eq!(*calls.lock().unwrap(), 3);
    }
}
