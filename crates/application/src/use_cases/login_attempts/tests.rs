//! What [`LoginAttempts`] does without a limiter, and the counter names it
//! builds (private). Its throttling on a real limiter is tested beside the
//! in-memory one, in rate-limit-adapter's `tests/login_attempts.rs`.

use domain::{DeviceToken, OneTimeSecret};

use super::*;

fn from_network(network: &str) -> AttemptSubject {
    AttemptSubject::new(
        "ada@example.io",
        Some(SessionEpoch(0)),
        AttemptClient::Network(Some(network.to_owned())),
    )
}

fn device(seed: u8) -> DeviceToken {
    DeviceToken::from_secret(&OneTimeSecret::from_entropy([seed; 32], 0))
}

fn from_device(token: DeviceToken) -> AttemptSubject {
    AttemptSubject::new(
        "ada@example.io",
        Some(SessionEpoch(0)),
        AttemptClient::KnownDevice(token.digest()),
    )
}

/// Begins and records one attempt; the refusal, if it was refused.
async fn attempt(
    attempts: &LoginAttempts,
    subject: AttemptSubject,
    outcome: AttemptOutcome,
) -> Option<RateLimited> {
    match attempts.begin(subject).await {
        Ok(attempt) => {
            attempt.record(outcome).await;
            None
        }
        Err(refused) => Some(refused),
    }
}

#[test]
fn every_spelling_of_an_address_is_one_account() {
    // Existing or not, the same subject: throttling reveals nothing.
    let network = || AttemptClient::Network(Some("198.51.100.0/24".into()));
    assert_eq!(
        AttemptSubject::new("  Ada@Example.IO ", None, network()),
        AttemptSubject::new("ada@example.io", None, network()),
    );
    assert_eq!(
        AttemptSubject::new(" Not An Address ", None, network()).pair(),
        "not an address|net:198.51.100.0/24"
    );
    assert_ne!(
        AttemptSubject::new("ada@example.io", Some(SessionEpoch(1)), network()).pair(),
        AttemptSubject::new("ada@example.io", Some(SessionEpoch(2)), network()).pair(),
    );
}

#[test]
fn counter_names_never_hold_the_device_token() {
    let token = device(3);
    let subject = from_device(token.clone());
    assert!(!subject.pair().contains(token.as_str()));
    assert_eq!(subject.account_wide(), None);
}

#[tokio::test]
async fn off_counts_nothing() {
    let attempts = LoginAttempts::off();
    for _ in 0..50 {
        let subject = from_network("198.51.100.0/24");
        assert_eq!(
            attempt(&attempts, subject, AttemptOutcome::Failed).await,
            None
        );
    }
}
