//! The email worker's runtime: the loop that consumes the email queue
//! ([`Runner`]), the Tera renderer, the development file mailer, the
//! operator listener and the dead-letter commands. The decisions about
//! each job live in `application::delivery`.

mod completion_retries;
pub mod dead_letter_commands;
mod file_mailer;
pub mod operator_listener;
mod runner;
mod templates;

pub use completion_retries::CompletionRetries;
pub use file_mailer::FileMailer;
pub use runner::{RunSummary, Runner, RunnerSettings};
pub use templates::{TemplateError, TeraRenderer};

use application::delivery::{Jitter, uniform_jitter_with};

/// Jitter drawn from the thread-local random generator.
pub fn random_jitter() -> Jitter {
    uniform_jitter_with(rand::random::<f64>)
}

/// Completes on SIGTERM or SIGINT (Ctrl-C). The handlers are installed
/// when this is called, not when the future is first polled, so a signal
/// that arrives while the worker is still starting is not lost (and does
/// not kill the process with the default action).
pub fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};

    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        match (terminate, interrupt) {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => tracing::info!("SIGTERM received"),
                    _ = interrupt.recv() => tracing::info!("SIGINT received"),
                }
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(
                    error.chain = %application::ErrorChain(&error),
                    "cannot listen for signals; only Ctrl-C stops the worker"
                );
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

/// A consumer name unique to this process: `hostname-pid-random`. A
/// restarted worker gets a new name, so what the old process held is
/// taken over through the visibility timeout like any dead worker's.
pub fn consumer_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn consumer_names_differ_per_call() {
        let a = super::consumer_name();
        assert_ne!(a, super::consumer_name());
        assert!(a.contains(&format!("-{}-", std::process::id())));
    }
}
