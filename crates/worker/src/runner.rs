//! The worker loop: keeps up to `concurrency` deliveries in flight, takes
//! over deliveries abandoned by dead workers, moves due retries back to the
//! queue, and on shutdown stops taking work and drains what it holds.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use application::EmailJob;
use application::ErrorChain;
use application::delivery::{Delivery, DeliveryQueue, DeliveryQueueError, EmailDelivery, Outcome};
use application::ports::Clock;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinError, JoinSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerSettings {
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// How often to look for deliveries abandoned by other workers.
    pub claim_interval: Duration,
    /// How often to move due retries back to the queue.
    pub promote_interval: Duration,
    /// Retries moved per round trip.
    pub promote_batch: usize,
    /// How long in-flight deliveries may take to finish after shutdown is
    /// asked; the rest stay pending and are taken over later.
    pub shutdown_grace: Duration,
    /// Longest pause between attempts while the queue is unreachable.
    pub max_error_pause: Duration,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self {
            concurrency: 16,
            claim_interval: Duration::from_secs(5),
            promote_interval: Duration::from_secs(1),
            promote_batch: 100,
            shutdown_grace: Duration::from_secs(20),
            max_error_pause: Duration::from_secs(5),
        }
    }
}

/// What one run did, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub sent: u64,
    pub duplicates: u64,
    /// Left pending because another delivery of the same job held it.
    pub claimed_elsewhere: u64,
    pub retries_scheduled: u64,
    pub dead_lettered: u64,
    /// Outcomes the queue could not record (the delivery stays pending).
    pub unrecorded: u64,
    /// Deliveries still running when the shutdown grace ran out.
    pub abandoned: usize,
}

impl RunSummary {
    fn note(&mut self, result: Result<Result<Outcome, DeliveryQueueError>, JoinError>) {
        match result {
            Ok(Ok(Outcome::Sent)) => self.sent += 1,
            Ok(Ok(Outcome::Duplicate)) => self.duplicates += 1,
            Ok(Ok(Outcome::ClaimedElsewhere)) => self.claimed_elsewhere += 1,
            Ok(Ok(Outcome::RetryScheduled { .. })) => self.retries_scheduled += 1,
            Ok(Ok(Outcome::DeadLettered { .. })) => self.dead_lettered += 1,
            Ok(Err(_)) => self.unrecorded += 1,
            Err(error) => {
                // A panic: the delivery stays pending and is handed out
                // again after the visibility timeout, until its hand-out
                // count passes the attempt limit and it is dead-lettered.
                self.unrecorded += 1;
                tracing::error!(error.chain = %ErrorChain(&error), "an email job task failed");
            }
        }
    }
}

const FIRST_ERROR_PAUSE: Duration = Duration::from_millis(100);

pub struct Runner {
    queue: Arc<dyn DeliveryQueue>,
    delivery: Arc<EmailDelivery>,
    clock: Arc<dyn Clock>,
    settings: RunnerSettings,
}

impl Runner {
    pub fn new(
        queue: Arc<dyn DeliveryQueue>,
        delivery: Arc<EmailDelivery>,
        clock: Arc<dyn Clock>,
        settings: RunnerSettings,
    ) -> Self {
        Self {
            queue,
            delivery,
            clock,
            settings,
        }
    }

    /// Runs until `shutdown` completes, then drains in-flight deliveries
    /// for at most the shutdown grace.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> RunSummary {
        tokio::pin!(shutdown);
        let concurrency = self.settings.concurrency.max(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut tasks = JoinSet::new();
        let mut summary = RunSummary::default();
        let (stop, stopped) = watch::channel(false);
        let promoter = tokio::spawn(promote_loop(
            self.queue.clone(),
            self.clock.clone(),
            self.settings,
            stopped,
        ));
        let mut last_claim: Option<Instant> = None;
        let mut error_pause = FIRST_ERROR_PAUSE;

        loop {
            while let Some(result) = tasks.try_join_next() {
                summary.note(result);
            }
            // Never block a read on a full house: wait for a free slot.
            if slots.available_permits() == 0 {
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    Some(result) = tasks.join_next() => summary.note(result),
                }
                continue;
            }
            match self.fetch(&slots, &mut tasks, &mut last_claim).await {
                Ok(()) => error_pause = FIRST_ERROR_PAUSE,
                Err(error) => {
                    tracing::warn!(
                        error.chain = %ErrorChain(&error),
                        retry_in_ms = u64::try_from(error_pause.as_millis()).unwrap_or(u64::MAX),
                        "cannot read email jobs; retrying"
                    );
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(error_pause) => {}
                    }
                    error_pause = error_pause
                        .saturating_mul(2)
                        .min(self.settings.max_error_pause);
                }
            }
            // Stop taking work as soon as shutdown is asked.
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = std::future::ready(()) => {}
            }
        }

        tracing::info!(
            in_flight = tasks.len(),
            "email worker stopping: taking no more jobs"
        );
        let _ = stop.send(true);
        let drained = tokio::time::timeout(self.settings.shutdown_grace, async {
            while let Some(result) = tasks.join_next().await {
                summary.note(result);
            }
        })
        .await;
        if drained.is_err() {
            summary.abandoned = tasks.len();
            tracing::warn!(
                abandoned = summary.abandoned,
                "shutdown grace ran out; unfinished jobs stay pending and will be taken over"
            );
            tasks.shutdown().await;
        }
        if let Err(error) = promoter.await {
            tracing::error!(error.chain = %ErrorChain(&error), "the retry mover failed");
        }
        summary
    }

    /// Fills free slots: first with abandoned deliveries (when a claim is
    /// due), then with new ones.
    async fn fetch(
        &self,
        slots: &Arc<Semaphore>,
        tasks: &mut JoinSet<Result<Outcome, DeliveryQueueError>>,
        last_claim: &mut Option<Instant>,
    ) -> Result<(), DeliveryQueueError> {
        let claim_due = last_claim.is_none_or(|at| at.elapsed() >= self.settings.claim_interval);
        if claim_due {
            let claimed = self
                .queue
                .claim_abandoned(slots.available_permits())
                .await?;
            *last_claim = Some(Instant::now());
            if !claimed.is_empty() {
                tracing::info!(
                    count = claimed.len(),
                    "took over email jobs abandoned by another worker"
                );
            }
            self.start(slots, tasks, claimed);
        }
        let free = slots.available_permits();
        if free > 0 {
            let received = self.queue.receive(free).await?;
            self.start(slots, tasks, received);
        }
        Ok(())
    }

    fn start(
        &self,
        slots: &Arc<Semaphore>,
        tasks: &mut JoinSet<Result<Outcome, DeliveryQueueError>>,
        deliveries: Vec<Delivery>,
    ) {
        for delivery in deliveries {
            // Reads ask for at most the free slots, so a permit is there;
            // should one not be, the job still runs (briefly over the limit)
            // rather than being left pending for no reason.
            let permit = slots.clone().try_acquire_owned().ok();
            let handler = self.delivery.clone();
            let attempt = delivery.history.len().saturating_add(1);
            // The use case parses the payload too; reading the kind here
            // keeps metrics out of the application layer.
            let kind =
                EmailJob::from_json(&delivery.payload).map_or("invalid", |job| job.email.kind());
            tasks.spawn(async move {
                let _permit = permit;
                let started = Instant::now();
                let result = handler.handle(delivery).await;
                record(kind, attempt, started, &result);
                result
            });
        }
    }
}

/// Counts each handled delivery by kind and outcome, with its attempt
/// number and how long it took.
fn record(
    kind: &'static str,
    attempt: usize,
    started: Instant,
    result: &Result<Outcome, DeliveryQueueError>,
) {
    let outcome = match result {
        Ok(outcome) => outcome.as_str(),
        Err(_) => "unrecorded",
    };
    metrics::counter!("email_jobs_total", "kind" => kind, "outcome" => outcome).increment(1);
    metrics::histogram!("email_job_attempt", "kind" => kind, "outcome" => outcome)
        .record(attempt as f64);
    metrics::histogram!("email_job_duration_seconds", "kind" => kind, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
}

/// Moves due retries back to the queue until told to stop.
async fn promote_loop(
    queue: Arc<dyn DeliveryQueue>,
    clock: Arc<dyn Clock>,
    settings: RunnerSettings,
    mut stopped: watch::Receiver<bool>,
) {
    let mut failing = false;
    loop {
        let pause = match queue
            .promote_due_retries(clock.now(), settings.promote_batch)
            .await
        {
            Ok(moved) => {
                if failing {
                    tracing::info!("retry mover reaches the queue again");
                    failing = false;
                }
                if moved == settings.promote_batch {
                    Duration::ZERO
                } else {
                    settings.promote_interval
                }
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(
                        error.chain = %ErrorChain(&error),
                        "cannot move due email retries; will keep trying"
                    );
                    failing = true;
                }
                settings.promote_interval
            }
        };
        tokio::select! {
            _ = stopped.changed() => return,
            () = tokio::time::sleep(pause) => {}
        }
        if *stopped.borrow() {
            return;
        }
    }
}
