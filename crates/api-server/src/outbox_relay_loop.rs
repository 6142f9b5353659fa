//! The loop that runs [`OutboxRelay`] rounds: the timers and the wake-up
//! live here, in the binary, so the application crate needs no runtime.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use application::ErrorChain;
use application::OutboxRelay;
use application::ports::OutboxSignal;
use tokio::sync::Notify;

/// Wakes the relay loop when registration commits an email job.
#[derive(Clone, Default)]
pub struct OutboxWakeup(Arc<Notify>);

impl OutboxSignal for OutboxWakeup {
    fn job_committed(&self) {
        self.0.notify_one();
    }
}

/// Relays until `shutdown` completes: drains the outbox whenever woken or
/// every poll interval (less up to half of it, at random, so that
/// instances started together do not poll in lockstep; `FOR UPDATE SKIP
/// LOCKED` gives each row to one of them), and waits a poll interval after
/// an error.
pub async fn run(relay: OutboxRelay, wakeup: OutboxWakeup, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let settings = *relay.settings();
    loop {
        let pause = match relay.relay_once().await {
            Ok(moved) if moved == settings.batch_size => continue,
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(
                    error.chain = %ErrorChain(&error),
                    "email outbox relay failed; will retry"
                );
                Some(settings.poll_interval)
            }
        };
        let wait = async {
            match pause {
                // After an error, do not let a burst of wake-ups spin.
                Some(pause) => tokio::time::sleep(pause).await,
                None => {
                    let poll = with_jitter(settings.poll_interval);
                    let _ = tokio::time::timeout(poll, wakeup.0.notified()).await;
                }
            }
        };
        tokio::select! {
            () = &mut shutdown => return,
            () = wait => {}
        }
    }
}

/// `interval` less up to half of it, never more than the interval itself.
fn with_jitter(interval: Duration) -> Duration {
    let half = u64::try_from((interval / 2).as_nanos()).unwrap_or(u64::MAX);
    if half == 0 {
        return interval;
    }
    let seed = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos(),
    );
    interval - Duration::from_nanos(seed % half)
}

#[cfg(test)]
mod tests {
    use application::RelaySettings;
    use application::ports::{MockEmailOutbox, MockEmailQueue};

    use super::*;

    #[test]
    fn jitter_shortens_the_poll_by_at_most_half() {
        for _ in 0..100 {
            let poll = with_jitter(Duration::from_secs(1));
            assert!(poll <= Duration::from_secs(1) && poll >= Duration::from_millis(500));
        }
    }

    #[tokio::test]
    async fn stops_on_shutdown() {
        let mut outbox = MockEmailOutbox::new();
        outbox.expect_lease().returning(|_, _| Ok(vec![]));
        let relay = OutboxRelay::new(
            Arc::new(outbox),
            Arc::new(MockEmailQueue::new()),
            RelaySettings::default(),
        );
        let stopped = tokio::time::timeout(
            Duration::from_secs(5),
            run(relay, OutboxWakeup::default(), async {}),
        )
        .await;
        assert!(stopped.is_ok(), "run returns once shutdown completes");
    }

    #[tokio::test(start_paused = true)]
    async fn a_wakeup_starts_a_round_before_the_poll_interval() {
        let (leased, mut rounds) = tokio::sync::mpsc::unbounded_channel();
        let mut outbox = MockEmailOutbox::new();
        outbox.expect_lease().returning(move |_, _| {
            let _ = leased.send(());
            Ok(vec![])
        });
        let relay = OutboxRelay::new(
            Arc::new(outbox),
            Arc::new(MockEmailQueue::new()),
            RelaySettings {
                poll_interval: Duration::from_secs(3600),
                ..RelaySettings::default()
            },
        );
        let wakeup = OutboxWakeup::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(run(relay, wakeup.clone(), async {
            let _ = stopped.await;
        }));
        rounds.recv().await.unwrap();
        // The clock is paused and jumps only when every task waits, so the
        // second round came from the wake-up iff no time passed.
        let woken_at = tokio::time::Instant::now();
        wakeup.job_committed();
        rounds.recv().await.unwrap();
        assert_eq!(woken_at.elapsed(), Duration::ZERO);
        let _ = stop.send(());
        running.await.unwrap();
    }
}
