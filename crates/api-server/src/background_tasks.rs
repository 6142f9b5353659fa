//! [`BackgroundTasks`] on the server's main tokio runtime, never on the
//! actix worker that took the request.

use std::sync::Arc;
use std::time::Duration;

use application::ports::{BackgroundTask, BackgroundTasks};
use async_trait::async_trait;
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

/// Runs each task on `runtime` (the main runtime, whose threads serve no
/// HTTP request), `start_delay` after it was handed over, at most `limit`
/// at once.
///
/// A task spawned on the actix worker serving the request could be polled
/// on that thread (pool checkout, first query write) before the answer is
/// flushed, making an account's answer slower than an unknown address's.
/// Handing it to another runtime costs the caller the same whatever the
/// task does. Started at once, though, an account's task (a transaction,
/// the PostgreSQL backend it wakes) competes for the CPU with the answer
/// still being written, and on two loaded cores that showed (an AUC of
/// 0.67-0.74 in `bench/forgot_password.sh`); `start_delay` lets the answer
/// go first.
///
/// Past the bound, `detach` waits for a running task to end, then spawns:
/// a flood cannot pile up unbounded work behind answers already sent, and
/// no task is lost. Running the task inline instead would make an
/// account's answer (a transaction) slower than an unknown address's (a
/// task that does nothing) exactly when the bound is reached; waiting costs
/// every caller alike, since every caller hands over one task.
pub struct TokioBackgroundTasks {
    permits: Arc<Semaphore>,
    start_delay: Duration,
    runtime: Handle,
}

impl TokioBackgroundTasks {
    pub fn new(limit: usize, start_delay: Duration, runtime: Handle) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            start_delay,
            runtime,
        }
    }
}

#[async_trait]
impl BackgroundTasks for TokioBackgroundTasks {
    async fn detach(&self, task: BackgroundTask) {
        // The semaphore is never closed, so this is always a permit.
        let permit = self.permits.clone().acquire_owned().await.ok();
        let start_delay = self.start_delay;
        self.runtime.spawn(async move {
            if !start_delay.is_zero() {
                tokio::time::sleep(start_delay).await;
            }
            task.await;
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread::{self, ThreadId};

    use tokio::sync::oneshot;

    use super::*;

    /// A runtime standing for the main one: one thread, named.
    fn background_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("background-tasks-test")
            .enable_all()
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn a_task_runs_on_the_given_runtime_not_on_the_calling_thread() {
        let runtime = background_runtime();
        let tasks = TokioBackgroundTasks::new(4, Duration::ZERO, runtime.handle().clone());
        let (sender, receiver) = oneshot::channel::<(ThreadId, Option<String>)>();
        tasks
            .detach(Box::pin(async move {
                let current = thread::current();
                let _ = sender.send((current.id(), current.name().map(str::to_owned)));
            }))
            .await;
        let (id, name) = receiver.await.unwrap();
        assert_ne!(id, thread::current().id());
        assert_eq!(name.as_deref(), Some("background-tasks-test"));
        runtime.shutdown_background();
    }

    #[tokio::test]
    async fn detach_returns_before_the_task_ends() {
        let runtime = background_runtime();
        let tasks = TokioBackgroundTasks::new(4, Duration::ZERO, runtime.handle().clone());
        let ran = Arc::new(AtomicUsize::new(0));
        let (release, released) = oneshot::channel::<()>();
        let (done, finished) = oneshot::channel::<()>();
        let counter = ran.clone();
        tasks
            .detach(Box::pin(async move {
                let _ = released.await;
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = done.send(());
            }))
            .await;
        // Detached: it waits for `release`, and `detach` did not.
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        release.send(()).unwrap();
        finished.await.unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        runtime.shutdown_background();
    }

    #[tokio::test]
    async fn past_the_bound_detach_waits_for_a_task_to_end_and_never_runs_one_inline() {
        let runtime = background_runtime();
        let tasks = TokioBackgroundTasks::new(1, Duration::ZERO, runtime.handle().clone());
        let (release, released) = oneshot::channel::<()>();
        tasks
            .detach(Box::pin(async move {
                let _ = released.await;
            }))
            .await;

        // The one permit is taken: the second `detach` neither returns nor
        // runs its task.
        let ran_on = Arc::new(std::sync::Mutex::new(None::<ThreadId>));
        let (done, finished) = oneshot::channel::<()>();
        let recorder = ran_on.clone();
        let mut second = tasks.detach(Box::pin(async move {
            *recorder.lock().unwrap() = Some(thread::current().id());
            let _ = done.send(());
        }));
        let returned = tokio::select! {
            biased;
            () = &mut second => true,
            () = std::future::ready(()) => false,
        };
        assert!(!returned, "detach returned past the bound");
        assert_eq!(*ran_on.lock().unwrap(), None);

        // The first task ends: the second is spawned, on the runtime.
        release.send(()).unwrap();
        second.await;
        finished.await.unwrap();
        let thread = ran_on.lock().unwrap().expect("the second task ran");
        assert_ne!(thread, thread::current().id());
        runtime.shutdown_background();
    }

    #[tokio::test]
    async fn a_task_waits_for_the_start_delay() {
        let runtime = background_runtime();
        let tasks =
            TokioBackgroundTasks::new(4, Duration::from_secs(3_600), runtime.handle().clone());
        let (done, mut finished) = oneshot::channel::<()>();
        tasks
            .detach(Box::pin(async move {
                let _ = done.send(());
            }))
            .await;
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        // An hour has not passed: the task has not started.
        assert_eq!(
            finished.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        );
        runtime.shutdown_background();
    }
}
