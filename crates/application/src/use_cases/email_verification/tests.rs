use std::sync::Arc;
use std::sync::atomic::Ordering;

use domain::{Role, SecretProof, User, UserId};
use mockall::predicate::eq;

use super::*;
use crate::Email;
use crate::error::{Dependency, DependencyError};
use crate::ports::{RepositoryError, SecretStoreError};
use crate::use_cases::AccountEmailSettings;
use crate::use_cases::test_support::{CountingTasks, fixed_secret, no_secret_mail, now, user};

use crate::use_cases::test_support::MockAccountPorts as Ports;

impl Ports {
    fn verification(self) -> EmailVerification {
        EmailVerification::new(self.into_ports())
    }
}

fn token_proof() -> SecretProof {
    SecretProof::Token(fixed_secret().token().to_owned())
}

#[tokio::test]
async fn a_valid_proof_verifies_and_returns_the_user() {
    let mut ports = Ports::new();
    ports
        .secrets
        .expect_verify_email()
        .with(eq(token_proof()), eq(now()))
        .times(1)
        .returning(|_, _| {
            let mut verified = user(1, Role::User);
            verified.email_verified = true;
            Ok(Some(verified))
        });
    let verified = ports.verification().verify(token_proof()).await.unwrap();
    assert!(verified.email_verified);
}

#[tokio::test]
async fn every_failed_proof_is_the_same_error() {
    let mut ports = Ports::new();
    ports
        .secrets
        .expect_verify_email()
        .times(1)
        .returning(|_, _| Ok(None));
    let verification = ports.verification();
    let error = verification.verify(token_proof()).await.unwrap_err();
    assert!(matches!(error, VerifyEmailError::InvalidOrExpired));
    // Malformed proofs never reach the store (it allows one call only).
    for proof in [
        SecretProof::Token("short".into()),
        SecretProof::Code {
            email: "a@b.io".into(),
            code: "12345".into(),
        },
    ] {
        let error = verification.verify(proof).await.unwrap_err();
        assert!(matches!(error, VerifyEmailError::InvalidOrExpired));
    }
}

#[tokio::test]
async fn a_store_outage_is_unavailable() {
    let mut ports = Ports::new();
    ports
        .secrets
        .expect_verify_email()
        .returning(|_, _| Err(SecretStoreError::Unavailable("down".into())));
    let error = ports
        .verification()
        .verify(token_proof())
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        VerifyEmailError::Dependency(DependencyError::Unavailable(Dependency::SecretStore, _))
    ));
}

#[tokio::test]
async fn resend_issues_a_new_secret_for_an_unverified_account() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_id_by_email()
        .with(eq("user1@example.io"))
        .returning(|_| Ok(Some(UserId::new(1))));
    ports.users.expect_find_by_id().returning(|_| {
        let mut unverified = user(1, Role::User);
        unverified.email_verified = false;
        Ok(Some(unverified))
    });
    let token = fixed_secret().token().to_owned();
    ports
        .secrets
        .expect_issue()
        .withf(move |user, secret, emails, interval| {
            *user == UserId::new(1)
                && secret.secret == fixed_secret()
                && *interval == AccountEmailSettings::RESEND_INTERVAL
                && emails.len() == 1
                && emails[0].email
                    == Email::VerifyEmail {
                        to: "user1@example.io".into(),
                        link: format!("https://app.example/verify-email#token={token}"),
                        code: "123456".into(),
                    }
        })
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    ports
        .verification()
        .resend("  USER1@example.io ")
        .await
        .unwrap();
}

#[tokio::test]
async fn resend_within_the_minute_sends_nothing_and_wakes_no_relay() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_id_by_email()
        .returning(|_| Ok(Some(UserId::new(1))));
    ports.users.expect_find_by_id().returning(|_| {
        let mut unverified = user(1, Role::User);
        unverified.email_verified = false;
        Ok(Some(unverified))
    });
    ports
        .secrets
        .expect_issue()
        .returning(|_, _, _, _| Ok(false));
    ports.outbox.expect_job_committed().never();
    ports
        .verification()
        .resend("user1@example.io")
        .await
        .unwrap();
}

#[tokio::test]
async fn resend_for_unknown_verified_or_malformed_addresses_does_nothing_quietly() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_id_by_email()
        .with(eq("nobody@example.io"))
        .returning(|_| Ok(None));
    ports
        .users
        .expect_find_id_by_email()
        .with(eq("user1@example.io"))
        .returning(|_| Ok(Some(UserId::new(1))));
    ports
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(1, Role::User))));
    ports.secrets.expect_issue().never();
    let verification = ports.verification();
    for email in ["nobody@example.io", "user1@example.io", "not an address"] {
        verification.resend(email).await.unwrap();
    }
}

#[tokio::test]
async fn resend_hands_one_task_and_makes_no_secret_before_answering_whatever_the_address() {
    let unverified = || User {
        email: domain::EmailAddress::parse("user2@example.io").unwrap(),
        email_verified: false,
        ..user(2, Role::User)
    };
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_id_by_email()
        .with(eq("nobody@example.io"))
        .returning(|_| Ok(None));
    ports
        .users
        .expect_find_id_by_email()
        .with(eq("user1@example.io"))
        .returning(|_| Ok(Some(UserId::new(1))));
    ports
        .users
        .expect_find_id_by_email()
        .with(eq("user2@example.io"))
        .returning(move |_| Ok(Some(unverified().id)));
    // Left to the detached task, which this one never runs.
    ports.secrets.expect_issue().never();
    ports.outbox.expect_job_committed().never();
    let mut account = ports.into_ports();
    let tasks = Arc::new(CountingTasks::default());
    account.tasks = tasks.clone();
    account.mail = no_secret_mail();
    let verification = EmailVerification::new(account);
    for (n, email) in ["nobody@example.io", "user1@example.io", "user2@example.io"]
        .into_iter()
        .enumerate()
    {
        verification.resend(email).await.unwrap();
        assert_eq!(tasks.handed.load(Ordering::SeqCst), n + 1, "{email}");
    }
}

#[tokio::test]
async fn resend_reports_an_outage() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_id_by_email()
        .returning(|_| Err(RepositoryError::Unavailable("down".into())));
    let error = ports
        .verification()
        .resend("user1@example.io")
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        ResendError::Dependency(DependencyError::Unavailable(Dependency::UserStore, _))
    ));
}
