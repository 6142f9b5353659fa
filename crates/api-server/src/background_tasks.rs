//! [`BackgroundTasks`] on the tokio runtime of the worker that took the
//! request.

use std::sync::Arc;

use application::ports::{BackgroundTask, BackgroundTasks};
use async_trait::async_trait;
use tokio::sync::Semaphore;

/// Spawns at most `limit` tasks at once; past that, a task runs before the
/// answer (slower, never lost). The bound keeps a flood of requests from
/// piling up unbounded work behind answers already sent.
pub struct TokioBackgroundTasks {
    permits: Arc<Semaphore>,
}

impl TokioBackgroundTasks {
    pub fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit)),
        }
    }
}

#[async_trait]
impl BackgroundTasks for TokioBackgroundTasks {
    async fn detach(&self, task: BackgroundTask) {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(async move {
                    task.await;
                    drop(permit);
                });
            }
            Err(_) => task.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::oneshot;

    use super::*;

    #[tokio::test]
    async fn a_task_runs_after_detach_returns_and_past_the_bound_before() {
        let tasks = TokioBackgroundTasks::new(1);
        let ran = Arc::new(AtomicUsize::new(0));
        let (release, released) = oneshot::channel::<()>();
        let first = ran.clone();
        tasks
            .detach(Box::pin(async move {
                let _ = released.await;
                first.fetch_add(1, Ordering::SeqCst);
            }))
            .await;
        // Detached: it waits for `release`, and `detach` did not.
        assert_eq!(ran.load(Ordering::SeqCst), 0);

        // The one permit is taken: this task runs inside `detach`.
        let second = ran.clone();
        tasks
            .detach(Box::pin(async move {
                second.fetch_add(10, Ordering::SeqCst);
            }))
            .await;
        assert_eq!(ran.load(Ordering::SeqCst), 10);

        release.send(()).unwrap();
        for _ in 0..100 {
            if ran.load(Ordering::SeqCst) == 11 {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the detached task never ran");
    }
}
