use chrono::Duration;
use domain::{Role, SecretPurpose, TokenKind, UserId};
use mockall::predicate::eq;

use super::*;
use crate::Email;
use crate::error::{Dependency, DependencyError};
use crate::ports::{RepositoryError, SecretStoreError};
use crate::use_cases::test_support::{claims, fixed_secret, now, user};

use crate::use_cases::test_support::MockAccountPorts as Ports;

impl Ports {
    fn email_change(self) -> EmailChange {
        EmailChange::new(self.into_ports())
    }

    /// User 1 (user1@example.io) exists.
    fn with_user(mut self) -> Self {
        self.users
            .expect_find_by_id()
            .with(eq(UserId::new(1)))
            .returning(|_| Ok(Some(user(1, Role::User))));
        self
    }
}

/// As typed: the address keeps its case for delivery; its normalised form
/// is "ada.new@example.io".
const NEW_EMAIL: &str = "Ada.New@Example.io";

fn fresh_claims() -> TokenClaims {
    claims(1, TokenKind::Access, true)
}

fn new_address() -> EmailAddress {
    EmailAddress::parse(NEW_EMAIL).unwrap()
}

fn token_proof() -> SecretProof {
    SecretProof::Token(fixed_secret().token().to_owned())
}

// --- request ------------------------------------------------------------------

#[tokio::test]
async fn request_needs_a_fresh_token() {
    let mut ports = Ports::new();
    ports.users.expect_find_by_id().never();
    ports.users.expect_find_by_email().never();
    ports.secrets.expect_issue().never();
    ports.outbox.expect_job_committed().never();
    let error = ports
        .email_change()
        .request(&claims(1, TokenKind::Access, false), new_address())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            RequestEmailChangeError::Token(TokenRejection::NotFresh)
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn request_for_a_deleted_account_is_a_revoked_token() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .times(1)
        .returning(|_| Ok(None));
    ports.secrets.expect_issue().never();
    let error = ports
        .email_change()
        .request(&fresh_claims(), new_address())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            RequestEmailChangeError::Token(TokenRejection::Revoked)
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn request_for_the_current_address_in_another_case_is_refused() {
    let mut ports = Ports::new().with_user();
    ports.users.expect_find_by_email().never();
    ports.secrets.expect_issue().never();
    ports.outbox.expect_job_committed().never();
    let error = ports
        .email_change()
        .request(
            &fresh_claims(),
            EmailAddress::parse("USER1@Example.IO").unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, RequestEmailChangeError::SameAddress),
        "{error:?}"
    );
}

#[tokio::test]
async fn request_for_a_free_address_asks_it_to_confirm_and_tells_the_old_one() {
    let mut ports = Ports::new().with_user();
    ports
        .users
        .expect_find_by_email()
        .with(eq("ada.new@example.io"))
        .times(1)
        .returning(|_| Ok(None));
    let token = fixed_secret().token().to_owned();
    ports
        .secrets
        .expect_issue()
        .withf(move |user, secret, emails, interval| {
            *user == UserId::new(1)
                && secret.purpose == SecretPurpose::ChangeEmail
                && secret.secret == fixed_secret()
                && secret.created_at == now()
                && secret.expires_at == now() + Duration::seconds(86_400)
                && secret.new_email.as_deref() == Some(NEW_EMAIL)
                && *interval == Duration::zero()
                && emails.iter().all(|job| job.created_at == now())
                && emails.iter().map(|job| &job.email).eq([
                    &Email::ConfirmEmailChange {
                        to: NEW_EMAIL.into(),
                        new_email: NEW_EMAIL.into(),
                        link: format!("https://app.example/confirm-email-change#token={token}"),
                        code: "123456".into(),
                    },
                    &Email::EmailChanging {
                        to: "user1@example.io".into(),
                        username: "user1".into(),
                        new_email: NEW_EMAIL.into(),
                    },
                ])
        })
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    ports
        .email_change()
        .request(&fresh_claims(), new_address())
        .await
        .unwrap();
}

#[tokio::test]
async fn request_for_a_taken_address_only_tells_the_old_one_and_answers_the_same() {
    let mut ports = Ports::new().with_user();
    ports
        .users
        .expect_find_by_email()
        .with(eq("ada.new@example.io"))
        .times(1)
        .returning(|_| Ok(Some(user(2, Role::User))));
    ports
        .secrets
        .expect_issue()
        .withf(|user, secret, emails, interval| {
            *user == UserId::new(1)
                && secret.purpose == SecretPurpose::ChangeEmail
                && secret.new_email.as_deref() == Some(NEW_EMAIL)
                && *interval == Duration::zero()
                && emails.len() == 1
                && emails[0].email
                    == Email::EmailChanging {
                        to: "user1@example.io".into(),
                        username: "user1".into(),
                        new_email: NEW_EMAIL.into(),
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
        .email_change()
        .request(&fresh_claims(), new_address())
        .await
        .unwrap();
}

#[tokio::test]
async fn request_reports_a_user_store_outage() {
    let mut ports = Ports::new().with_user();
    ports
        .users
        .expect_find_by_email()
        .returning(|_| Err(RepositoryError::Unavailable("down".into())));
    ports.secrets.expect_issue().never();
    ports.outbox.expect_job_committed().never();
    let error = ports
        .email_change()
        .request(&fresh_claims(), new_address())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            RequestEmailChangeError::Dependency(DependencyError::Unavailable(
                Dependency::UserStore,
                _
            ))
        ),
        "{error:?}"
    );
}

// --- confirm ------------------------------------------------------------------

#[tokio::test]
async fn confirm_refuses_a_malformed_proof_without_asking_the_store() {
    let mut ports = Ports::new();
    ports.secrets.expect_change_email().never();
    let email_change = ports.email_change();
    for proof in [
        SecretProof::Token("short".into()),
        SecretProof::Code {
            email: "user1@example.io".into(),
            code: "12345".into(),
        },
    ] {
        let error = email_change.confirm(proof).await.unwrap_err();
        assert!(
            matches!(error, ConfirmEmailChangeError::InvalidOrExpired),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn confirm_returns_the_moved_account() {
    let mut ports = Ports::new();
    let moved = User {
        email: new_address(),
        ..user(1, Role::User)
    };
    let answer = moved.clone();
    ports
        .secrets
        .expect_change_email()
        .with(eq(token_proof()), eq(now()))
        .times(1)
        .returning(move |_, _| Ok(EmailChangeOutcome::Changed(answer.clone())));
    let confirmed = ports.email_change().confirm(token_proof()).await.unwrap();
    assert_eq!(confirmed, moved);
}

#[tokio::test]
async fn confirm_with_a_secret_the_store_refuses_is_invalid() {
    let mut ports = Ports::new();
    ports
        .secrets
        .expect_change_email()
        .times(1)
        .returning(|_, _| Ok(EmailChangeOutcome::InvalidOrExpired));
    let error = ports
        .email_change()
        .confirm(token_proof())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfirmEmailChangeError::InvalidOrExpired),
        "{error:?}"
    );
}

#[tokio::test]
async fn confirm_to_an_address_taken_meanwhile_is_email_taken() {
    let mut ports = Ports::new();
    ports
        .secrets
        .expect_change_email()
        .times(1)
        .returning(|_, _| Ok(EmailChangeOutcome::AddressTaken));
    let error = ports
        .email_change()
        .confirm(token_proof())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfirmEmailChangeError::EmailTaken),
        "{error:?}"
    );
}

#[tokio::test]
async fn confirm_reports_a_secret_store_outage() {
    let mut ports = Ports::new();
    ports
        .secrets
        .expect_change_email()
        .times(1)
        .returning(|_, _| Err(SecretStoreError::Unavailable("down".into())));
    let error = ports
        .email_change()
        .confirm(token_proof())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ConfirmEmailChangeError::Dependency(DependencyError::Unavailable(
                Dependency::SecretStore,
                _
            ))
        ),
        "{error:?}"
    );
}
