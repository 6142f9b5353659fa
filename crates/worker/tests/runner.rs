#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! The worker loop with an in-memory queue and a fake mailer: concurrency
//! bound, draining on shutdown, the shutdown grace, queue outages.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use application::delivery::{
    Claim, DeadLetter, Delivery, DeliveryQueue, DeliveryQueueError, EmailDelivery, MailError,
    Mailer, RenderedEmail, Retry, RetryPolicy,
};
use application::ports::SystemClock;
use application::{Email, EmailJob};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use uuid::Uuid;
use worker::{RunSummary, Runner, RunnerSettings, TeraRenderer};

#[derive(Default)]
struct FakeQueue {
    waiting: Mutex<VecDeque<Delivery>>,
    completed: Mutex<Vec<Uuid>>,
    /// Reads that fail before the queue "comes back".
    outages_left: AtomicUsize,
}

impl FakeQueue {
    fn with_jobs(n: usize) -> Arc<Self> {
        let queue = Self::default();
        for i in 0..n {
            let job = EmailJob::new(
                Email::Welcome {
                    to: format!("user{i}@example.io"),
                    verification_link: String::new(),
                    code: String::new(),
                },
                Utc::now(),
            );
            queue
                .waiting
                .lock()
                .unwrap()
                .push_back(Delivery::new(format!("{i}-0"), job.to_json()));
        }
        Arc::new(queue)
    }

    fn completed(&self) -> usize {
        self.completed.lock().unwrap().len()
    }
}

#[async_trait]
impl DeliveryQueue for FakeQueue {
    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, DeliveryQueueError> {
        if self
            .outages_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(DeliveryQueueError::Unavailable("connection refused".into()));
        }
        let batch: Vec<Delivery> = {
            let mut waiting = self.waiting.lock().unwrap();
            let n = max.min(waiting.len());
            waiting.drain(..n).collect()
        };
        if batch.is_empty() {
            // Like a blocking read that times out.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(batch)
    }
    async fn claim_abandoned(&self, _max: usize) -> Result<Vec<Delivery>, DeliveryQueueError> {
        Ok(Vec::new())
    }
    async fn claim(&self, _job_id: Uuid, _receipt: &str) -> Result<Claim, DeliveryQueueError> {
        Ok(Claim::Acquired)
    }
    async fn complete(&self, _receipt: &str, job_id: Uuid) -> Result<(), DeliveryQueueError> {
        self.completed.lock().unwrap().push(job_id);
        Ok(())
    }
    async fn ack(&self, _receipt: &str) -> Result<(), DeliveryQueueError> {
        Ok(())
    }
    async fn schedule_retry(
        &self,
        _receipt: &str,
        _retry: Retry,
    ) -> Result<(), DeliveryQueueError> {
        Ok(())
    }
    async fn dead_letter(
        &self,
        _receipt: &str,
        _letter: DeadLetter,
    ) -> Result<(), DeliveryQueueError> {
        Ok(())
    }
    async fn promote_due_retries(
        &self,
        _now: DateTime<Utc>,
        _limit: usize,
    ) -> Result<usize, DeliveryQueueError> {
        Ok(0)
    }
}

/// Takes `latency` per email and records how many sends overlap.
struct SlowMailer {
    latency: Duration,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    sent: AtomicUsize,
}

impl SlowMailer {
    fn new(latency: Duration) -> Arc<Self> {
        Arc::new(Self {
            latency,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            sent: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Mailer for SlowMailer {
    async fn send(&self, _email: &RenderedEmail) -> Result<(), MailError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.latency).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.sent.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn runner(queue: Arc<FakeQueue>, mailer: Arc<SlowMailer>, settings: RunnerSettings) -> Runner {
    let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
    let delivery = EmailDelivery::new(
        queue.clone(),
        Arc::new(TeraRenderer::load(templates).unwrap()),
        mailer,
        Arc::new(SystemClock),
        worker::random_jitter(),
        RetryPolicy::default(),
    );
    Runner::new(queue, Arc::new(delivery), Arc::new(SystemClock), settings)
}

fn settings(concurrency: usize) -> RunnerSettings {
    RunnerSettings {
        concurrency,
        max_error_pause: Duration::from_millis(50),
        ..RunnerSettings::default()
    }
}

/// Runs until `done` says so, then asks for shutdown.
async fn run_until(runner: &Runner, done: impl Fn() -> bool) -> RunSummary {
    let (stop, stopped) = oneshot::channel::<()>();
    let run = runner.run(async {
        let _ = stopped.await;
    });
    let watch = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = stop.send(());
    };
    let (summary, ()) = tokio::join!(run, watch);
    summary
}

#[tokio::test]
async fn never_more_than_the_concurrency_in_flight_and_every_job_sent() {
    let queue = FakeQueue::with_jobs(40);
    let mailer = SlowMailer::new(Duration::from_millis(30));
    let runner = runner(queue.clone(), mailer.clone(), settings(4));

    let summary = run_until(&runner, || queue.completed() == 40).await;

    assert_eq!(summary.sent, 40);
    assert_eq!(mailer.sent.load(Ordering::SeqCst), 40);
    let max = mailer.max_in_flight.load(Ordering::SeqCst);
    assert!(max <= 4, "{max} sends overlapped");
    assert!(max > 1, "sends did not overlap at all");
}

#[tokio::test]
async fn shutdown_lets_in_flight_jobs_finish_and_takes_no_more() {
    let queue = FakeQueue::with_jobs(10);
    let mailer = SlowMailer::new(Duration::from_millis(300));
    let runner = runner(queue.clone(), mailer.clone(), settings(4));

    // Ask for shutdown as soon as the first four are being sent.
    let summary = run_until(&runner, || mailer.in_flight.load(Ordering::SeqCst) == 4).await;

    assert_eq!(summary.sent, 4);
    assert_eq!(summary.abandoned, 0);
    assert_eq!(queue.completed(), 4);
    assert_eq!(
        queue.waiting.lock().unwrap().len(),
        6,
        "the rest was never taken"
    );
}

#[tokio::test]
async fn jobs_still_running_after_the_grace_are_left_pending() {
    let queue = FakeQueue::with_jobs(3);
    let mailer = SlowMailer::new(Duration::from_secs(60));
    let mut settings = settings(4);
    settings.shutdown_grace = Duration::from_millis(100);
    let runner = runner(queue.clone(), mailer.clone(), settings);

    let summary = run_until(&runner, || mailer.in_flight.load(Ordering::SeqCst) == 3).await;

    assert_eq!(summary.abandoned, 3);
    assert_eq!(summary.sent, 0);
    assert_eq!(
        queue.completed(),
        0,
        "no outcome recorded, so they stay pending"
    );
}

#[tokio::test]
async fn a_queue_outage_is_waited_out() {
    let queue = FakeQueue::with_jobs(5);
    queue.outages_left.store(4, Ordering::SeqCst);
    let mailer = SlowMailer::new(Duration::from_millis(1));
    let runner = runner(queue.clone(), mailer.clone(), settings(4));

    let summary = run_until(&runner, || queue.completed() == 5).await;

    assert_eq!(summary.sent, 5);
    assert_eq!(queue.outages_left.load(Ordering::SeqCst), 0);
}
