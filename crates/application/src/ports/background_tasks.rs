use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;

/// Work detached from the request that asked for it.
pub type BackgroundTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Runs work after the answer has gone. The routes that must not tell
/// whether an account exists (`/password/forgot`, `/verify-email/resend`)
/// do the same lookup for every address inside the request, and leave the
/// writes only a real account needs to a task, so both answers take the
/// same time.
#[async_trait]
pub trait BackgroundTasks: Send + Sync {
    /// Starts `task` and returns without waiting for it; an implementation
    /// at its bound may run it to the end first (a slower answer, never a
    /// lost task).
    async fn detach(&self, task: BackgroundTask);
}
