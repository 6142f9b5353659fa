use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use domain::{PasswordHash, Role, SecretPurpose, SessionId, TokenKind, UserId};
use mockall::predicate::eq;
use secrecy::ExposeSecret;

use super::*;
use crate::Email;
use crate::error::{Dependency, DependencyError};
use crate::ports::{
    AttemptDecision, EndedSession, MockRateLimiter, RepositoryError, Revocation, SecretStoreError,
    SessionEpoch, StoredCredentials,
};
use crate::rate_limits::{RateLimited, Rule, ThrottlePolicy};
use crate::use_cases::LoginThrottles;
use crate::use_cases::test_support::{MockAccountPorts, claims, fixed_secret, now, user};

const PASSWORD: &str = "correct horse battery";

/// The account mocks and, optionally, a rate limiter (without one, rate
/// limits are off).
struct Ports {
    account: MockAccountPorts,
    limiter: Option<MockRateLimiter>,
}

impl std::ops::Deref for Ports {
    type Target = MockAccountPorts;
    fn deref(&self) -> &MockAccountPorts {
        &self.account
    }
}

impl std::ops::DerefMut for Ports {
    fn deref_mut(&mut self) -> &mut MockAccountPorts {
        &mut self.account
    }
}

impl Ports {
    fn new() -> Self {
        Self {
            account: MockAccountPorts::new(),
            limiter: None,
        }
    }

    fn email_change(self) -> EmailChange {
        let attempts = match self.limiter {
            Some(limiter) => LoginAttempts::new(Arc::new(limiter), throttles()),
            None => LoginAttempts::off(),
        };
        EmailChange::new(self.account.into_ports(), attempts)
    }

    /// User 1 (user1@example.io) exists, its stored hash is "hash", and
    /// the hasher accepts [`PASSWORD`] against it (and nothing else).
    fn with_user(mut self) -> Self {
        self.users
            .expect_find_by_id()
            .with(eq(UserId::new(1)))
            .returning(|_| Ok(Some(user(1, Role::User))));
        self.users
            .expect_find_credentials()
            .with(eq("user1@example.io"))
            .returning(|_| {
                Ok(Some(StoredCredentials {
                    user: user(1, Role::User),
                    password_hash: PasswordHash::new("hash".into()),
                    session_epoch: SessionEpoch(0),
                    banned_until: None,
                }))
            });
        self.hasher
            .expect_verify()
            .withf(|_, stored| stored.as_ref().map(PasswordHash::as_str) == Some("hash"))
            .returning(|password, _| Ok(password.expose_secret() == PASSWORD));
        self
    }

    /// A limiter that lets one attempt for user 1 (epoch 0) from
    /// [`device`]'s network go ahead: counted on the account and the pair.
    fn allowing(mut self) -> Self {
        let mut limiter = MockRateLimiter::new();
        limiter
            .expect_begin_attempt()
            .with(eq(ACCOUNT_WIDE), eq(throttles().per_account))
            .times(1)
            .returning(|_, _| Ok(AttemptDecision::Allowed));
        limiter
            .expect_begin_attempt()
            .with(eq(PAIR), eq(throttles().per_client))
            .times(1)
            .returning(|_, _| Ok(AttemptDecision::Allowed));
        self.limiter = Some(limiter);
        self
    }

    fn limiter(&mut self) -> &mut MockRateLimiter {
        self.limiter.as_mut().unwrap()
    }
}

/// User 1's failed-login counters at epoch 0, from [`device`]'s network.
const ACCOUNT_WIDE: &str = "user1@example.io#0|all";
const PAIR: &str = "user1@example.io#0|net:203.0.113.0/24";

fn throttles() -> LoginThrottles {
    LoginThrottles {
        per_client: ThrottlePolicy::default(),
        per_account: ThrottlePolicy::budget(crate::rate_limits::RateLimit::per_secs(100, 3600)),
    }
}

fn device() -> ClientDevice {
    ClientDevice::new(Some("203.0.113.7".parse().unwrap()), Some("Firefox"))
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

fn password(raw: &str) -> SecretString {
    SecretString::from(raw.to_owned())
}

fn token_proof() -> SecretProof {
    SecretProof::Token(fixed_secret().token().to_owned())
}

/// Requests a change of user 1 to [`NEW_EMAIL`] with `current`.
async fn request(ports: Ports, current: &str) -> Result<(), RequestEmailChangeError> {
    ports
        .email_change()
        .request(&fresh_claims(), &device(), new_address(), password(current))
        .await
}

/// The other sessions a change ended: "sid-2" with 1000 s of refresh left.
fn ended() -> Vec<EndedSession> {
    vec![EndedSession {
        id: SessionId::new("sid-2"),
        expires_at: now() + Duration::seconds(1_000),
        was_live: true,
    }]
}

/// The marks of [`ended`]: as long as its refresh token lives, plus 1 s.
fn ended_marks() -> Vec<Revocation> {
    vec![Revocation::Session {
        id: SessionId::new("sid-2"),
        user: UserId::new(1),
        ttl_secs: 301,
    }]
}

fn completed(user: User) -> EmailChangeOutcome {
    EmailChangeOutcome::Changed(CompletedEmailChange {
        user,
        ended: ended(),
    })
}

// --- request ------------------------------------------------------------------

#[tokio::test]
async fn request_needs_a_fresh_token() {
    let mut ports = Ports::new();
    ports.users.expect_find_by_id().never();
    ports.users.expect_find_by_email().never();
    ports.secrets.expect_issue_email_change().never();
    ports.outbox.expect_job_committed().never();
    let error = ports
        .email_change()
        .request(
            &claims(1, TokenKind::Access, false),
            &device(),
            new_address(),
            password(PASSWORD),
        )
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
    ports.secrets.expect_issue_email_change().never();
    let error = request(ports, PASSWORD).await.unwrap_err();
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
    ports.secrets.expect_issue_email_change().never();
    ports.outbox.expect_job_committed().never();
    let error = ports
        .email_change()
        .request(
            &fresh_claims(),
            &device(),
            EmailAddress::parse("USER1@Example.IO").unwrap(),
            password(PASSWORD),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, RequestEmailChangeError::SameAddress),
        "{error:?}"
    );
}

#[tokio::test]
async fn request_for_a_free_address_asks_it_to_confirm_and_tells_the_old_one_how_to_undo() {
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
        .expect_issue_email_change()
        .withf(move |user, change, emails| {
            let secret = &change.change;
            let undo = &change.undo;
            *user == UserId::new(1)
                && secret.purpose == SecretPurpose::ChangeEmail
                && secret.secret == fixed_secret()
                && secret.created_at == now()
                && secret.expires_at == now() + Duration::seconds(86_400)
                && secret.new_email.as_deref() == Some(NEW_EMAIL)
                // The session a confirmed change keeps.
                && change.session == SessionId::new("sid-1")
                && undo.secret == fixed_secret()
                && undo.old_email == "user1@example.io"
                && undo.created_at == now()
                && undo.expires_at == now() + Duration::days(7)
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
                        new_email: NEW_EMAIL.into(),
                        undo_link: format!("https://app.example/undo-email-change#token={token}"),
                    },
                ])
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    request(ports, PASSWORD).await.unwrap();
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
        .expect_issue_email_change()
        .withf(|user, change, emails| {
            *user == UserId::new(1)
                && change.change.purpose == SecretPurpose::ChangeEmail
                && change.change.new_email.as_deref() == Some(NEW_EMAIL)
                && change.undo.old_email == "user1@example.io"
                && emails.len() == 1
                && matches!(
                    &emails[0].email,
                    Email::EmailChanging { to, new_email, undo_link, .. }
                        if to == "user1@example.io"
                            && new_email == NEW_EMAIL
                            && undo_link.starts_with("https://app.example/undo-email-change#token=")
                )
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    request(ports, PASSWORD).await.unwrap();
}

#[tokio::test]
async fn request_with_a_wrong_password_is_refused_and_counted_as_a_failed_login() {
    let mut ports = Ports::new().with_user().allowing();
    // The failure counted by `begin_attempt` stays.
    ports.limiter().expect_clear_failures().never();
    ports.limiter().expect_forgive_attempt().never();
    ports.users.expect_find_by_email().never();
    ports.secrets.expect_issue_email_change().never();
    ports.outbox.expect_job_committed().never();
    let error = request(ports, "not the password").await.unwrap_err();
    assert!(
        matches!(error, RequestEmailChangeError::InvalidCurrentPassword),
        "{error:?}"
    );
}

#[tokio::test]
async fn request_with_the_right_password_clears_the_failures() {
    let mut ports = Ports::new().with_user().allowing();
    ports
        .limiter()
        .expect_clear_failures()
        .with(eq(PAIR))
        .times(1)
        .returning(|_| Ok(()));
    ports
        .limiter()
        .expect_forgive_attempt()
        .with(eq(ACCOUNT_WIDE))
        .times(1)
        .returning(|_| Ok(()));
    ports.users.expect_find_by_email().returning(|_| Ok(None));
    ports
        .secrets
        .expect_issue_email_change()
        .times(1)
        .returning(|_, _, _| Ok(()));
    ports.outbox.expect_job_committed().return_const(());
    request(ports, PASSWORD).await.unwrap();
}

#[tokio::test]
async fn request_of_a_throttled_account_is_refused_before_its_password_is_checked() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(1, Role::User))));
    ports.users.expect_find_credentials().returning(|_| {
        Ok(Some(StoredCredentials {
            user: user(1, Role::User),
            password_hash: PasswordHash::new("hash".into()),
            session_epoch: SessionEpoch(0),
            banned_until: None,
        }))
    });
    let mut limiter = MockRateLimiter::new();
    limiter
        .expect_begin_attempt()
        .with(eq(ACCOUNT_WIDE), eq(throttles().per_account))
        .returning(|_, _| Ok(AttemptDecision::Allowed));
    limiter
        .expect_begin_attempt()
        .with(eq(PAIR), eq(throttles().per_client))
        .returning(|_, _| {
            Ok(AttemptDecision::Throttled {
                retry_after: StdDuration::from_secs(4),
            })
        });
    limiter
        .expect_forgive_attempt()
        .with(eq(ACCOUNT_WIDE))
        .times(1)
        .returning(|_| Ok(()));
    ports.limiter = Some(limiter);
    ports.hasher.expect_verify().never();
    ports.secrets.expect_issue_email_change().never();
    let error = request(ports, PASSWORD).await.unwrap_err();
    let RequestEmailChangeError::RateLimited(limited) = error else {
        panic!("expected RateLimited, got {error:?}");
    };
    assert_eq!(
        limited,
        RateLimited {
            rule: Rule::FailedLogins,
            quota: ThrottlePolicy::default().as_quota(),
            retry_after: StdDuration::from_secs(4),
        }
    );
}

#[tokio::test]
async fn request_reports_a_user_store_outage() {
    let mut ports = Ports::new().with_user();
    ports
        .users
        .expect_find_by_email()
        .returning(|_| Err(RepositoryError::Unavailable("down".into())));
    ports.secrets.expect_issue_email_change().never();
    ports.outbox.expect_job_committed().never();
    let error = request(ports, PASSWORD).await.unwrap_err();
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
async fn confirm_returns_the_moved_account_and_revokes_the_sessions_it_ended() {
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
        .returning(move |_, _| Ok(completed(answer.clone())));
    ports
        .revocations
        .expect_revoke()
        .with(eq(ended_marks()))
        .times(1)
        .returning(|_| Ok(()));
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

// --- undo ---------------------------------------------------------------------

#[tokio::test]
async fn undo_refuses_a_malformed_token_without_asking_the_store() {
    let mut ports = Ports::new();
    ports.secrets.expect_undo_email_change().never();
    let email_change = ports.email_change();
    for token in ["short", &"!".repeat(43), ""] {
        let error = email_change.undo(token.to_owned()).await.unwrap_err();
        assert!(
            matches!(error, UndoEmailChangeError::InvalidOrExpired),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn undo_returns_the_restored_account_and_revokes_every_session_it_ended() {
    let mut ports = Ports::new();
    let token = fixed_secret().token().to_owned();
    ports
        .secrets
        .expect_undo_email_change()
        .with(eq(token.clone()), eq(now()))
        .times(1)
        .returning(|_, _| Ok(completed(user(1, Role::User))));
    ports
        .revocations
        .expect_revoke()
        .with(eq(ended_marks()))
        .times(1)
        .returning(|_| Ok(()));
    let restored = ports.email_change().undo(token).await.unwrap();
    assert_eq!(restored, user(1, Role::User));
}

#[tokio::test]
async fn undo_stands_when_the_marks_cannot_be_written() {
    let mut ports = Ports::new();
    ports
        .secrets
        .expect_undo_email_change()
        .returning(|_, _| Ok(completed(user(1, Role::User))));
    ports
        .revocations
        .expect_revoke()
        .times(1)
        .returning(|_| Err(crate::ports::RevocationError::Unavailable("down".into())));
    let token = fixed_secret().token().to_owned();
    assert!(ports.email_change().undo(token).await.is_ok());
}

#[tokio::test]
async fn undo_to_an_address_taken_meanwhile_is_email_taken() {
    let mut ports = Ports::new();
    ports
        .secrets
        .expect_undo_email_change()
        .times(1)
        .returning(|_, _| Ok(EmailChangeOutcome::AddressTaken));
    ports.revocations.expect_revoke().never();
    let token = fixed_secret().token().to_owned();
    let error = ports.email_change().undo(token).await.unwrap_err();
    assert!(
        matches!(error, UndoEmailChangeError::EmailTaken),
        "{error:?}"
    );
}

#[tokio::test]
async fn undo_with_a_token_the_store_refuses_is_invalid() {
    let mut ports = Ports::new();
    ports
        .secrets
        .expect_undo_email_change()
        .times(1)
        .returning(|_, _| Ok(EmailChangeOutcome::InvalidOrExpired));
    let token = fixed_secret().token().to_owned();
    let error = ports.email_change().undo(token).await.unwrap_err();
    assert!(
        matches!(error, UndoEmailChangeError::InvalidOrExpired),
        "{error:?}"
    );
}
