//! The email worker's runtime: the loop that consumes the email queue
//! ([`Runner`]), the Tera renderer and the development file mailer. The
//! decisions about each job live in `application::delivery`.

mod file_mailer;
mod runner;
mod templates;

pub use file_mailer::FileMailer;
pub use runner::{RunSummary, Runner, RunnerSettings};
pub use templates::{TemplateError, TeraRenderer};

use application::delivery::{Jitter, full_jitter_with};

/// Full jitter from the thread-local random generator.
pub fn random_jitter() -> Jitter {
    full_jitter_with(rand::random::<f64>)
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
