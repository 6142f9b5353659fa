//! The loop that runs [`RevocationReplay`] rounds in every instance: the
//! timer lives here, in the binary, so the application crate needs no
//! runtime.

use std::future::Future;
use std::time::Duration;

use application::ErrorChain;
use application::RevocationReplay;

/// Replays until `shutdown` completes: a round every interval (at once
/// again while rounds come back full), with up to a tenth of the interval
/// of jitter so that instances started together do not take turns in
/// lockstep. A failed round is logged and retried at the next interval.
pub async fn run(replay: RevocationReplay, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let settings = *replay.settings();
    loop {
        match replay.replay_once().await {
            Ok(moved) if moved == settings.batch_size => continue,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(
                    error.chain = %ErrorChain(&error),
                    "revocation mark replay failed; will retry"
                );
            }
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(with_jitter(settings.interval)) => {}
        }
    }
}

/// `interval` minus up to a tenth of it, never more than the interval
/// itself: the bound behind "within 15 s" (`docs/http-api.md#revocation`).
fn with_jitter(interval: Duration) -> Duration {
    let tenth = interval / 10;
    let nanos = u64::try_from(tenth.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return interval;
    }
    let seed = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos(),
    );
    interval - Duration::from_nanos(seed % nanos)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use application::ports::{MockClock, MockRevocationMarkQueue, MockTokenRevocations};
    use application::{ReplaySettings, TokenLifetimes};

    use super::*;

    #[test]
    fn jitter_never_lengthens_the_interval() {
        for _ in 0..100 {
            let wait = with_jitter(Duration::from_secs(5));
            assert!(wait <= Duration::from_secs(5) && wait >= Duration::from_millis(4_500));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn rounds_repeat_every_interval_until_shutdown() {
        let (leased, mut rounds) = tokio::sync::mpsc::unbounded_channel();
        let mut queue = MockRevocationMarkQueue::new();
        queue.expect_lease().returning(move |_, _| {
            let _ = leased.send(tokio::time::Instant::now());
            Ok(vec![])
        });
        let replay = RevocationReplay::new(
            Arc::new(queue),
            Arc::new(MockTokenRevocations::new()),
            Arc::new(MockClock::new()),
            TokenLifetimes::default(),
            ReplaySettings {
                interval: Duration::from_secs(5),
                ..ReplaySettings::default()
            },
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(run(replay, async {
            let _ = stopped.await;
        }));
        let first = rounds.recv().await.unwrap();
        let second = rounds.recv().await.unwrap();
        let gap = second - first;
        assert!(gap <= Duration::from_secs(5) && gap >= Duration::from_millis(4_500));
        let _ = stop.send(());
        running.await.unwrap();
    }
}
