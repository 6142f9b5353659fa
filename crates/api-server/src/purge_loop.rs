//! The loop that runs the [`Purge`] in every instance: at start, then
//! every `PURGE_INTERVAL`. The timer lives here, in the binary, so the
//! application crate needs no runtime.

use std::future::Future;

use application::{ErrorChain, Purge};

/// Purges until `shutdown` completes. Another instance purging at the same
/// moment makes this one give way (the lock is per batch, see
/// `PgDataPurge`), and a failed purge is logged and retried at the next
/// interval: deleting old rows is never urgent.
pub async fn run(purge: Purge, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let interval = purge.settings().interval;
    loop {
        let round = async {
            if let Err(error) = purge.purge_once().await {
                tracing::warn!(
                    error.chain = %ErrorChain(&error),
                    "purge failed; will retry at the next interval"
                );
            }
        };
        // A purge cut short by shutdown loses nothing: each batch commits
        // on its own.
        tokio::select! {
            () = &mut shutdown => return,
            () = round => {}
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use application::PurgeSettings;
    use application::ports::{MockClock, MockDataPurge, PurgedBatch};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn purges_at_start_then_every_interval_until_shutdown() {
        let (purged, mut rounds) = tokio::sync::mpsc::unbounded_channel();
        let mut store = MockDataPurge::new();
        store.expect_purge_batch().returning(move |what, _, _| {
            if what == application::ports::Purgeable::Sessions {
                let _ = purged.send(tokio::time::Instant::now());
            }
            Ok(PurgedBatch::Deleted(0))
        });
        let mut clock = MockClock::new();
        clock.expect_now().returning(chrono::Utc::now);
        let purge = Purge::new(
            Arc::new(store),
            Arc::new(clock),
            PurgeSettings {
                interval: Duration::from_secs(3_600),
                ..PurgeSettings::default()
            },
        );
        let started = tokio::time::Instant::now();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(run(purge, async {
            let _ = stopped.await;
        }));
        let first = rounds.recv().await.unwrap();
        assert_eq!(
            first - started,
            Duration::ZERO,
            "the first purge is at start"
        );
        let second = rounds.recv().await.unwrap();
        assert_eq!(second - first, Duration::from_secs(3_600));
        let _ = stop.send(());
        running.await.unwrap();
    }
}
