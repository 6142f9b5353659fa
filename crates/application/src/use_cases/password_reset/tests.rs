use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use chrono::{Duration, SecondsFormat};
use domain::{PasswordHash, PasswordPolicy, Role, SecretPurpose, SessionId, UserId};
use mockall::predicate::eq;

use super::*;
use crate::error::{Dependency, DependencyError};
use crate::ports::{
    CompletedReset, EndedSession, HashError, RepositoryError, Revocation, RevocationError,
    SecretStoreError,
};
use crate::use_cases::test_support::{CountingTasks, fixed_secret, no_secret_mail, now, user};
use crate::{Email, EmailJob};

use crate::use_cases::test_support::MockAccountPorts as Ports;

impl Ports {
    fn reset(self) -> PasswordReset {
        PasswordReset::new(self.into_ports())
    }
}

fn token_proof() -> SecretProof {
    SecretProof::Token(fixed_secret().token().to_owned())
}

fn new_password() -> Password {
    Password::parse("correct horse battery", PasswordPolicy::default()).unwrap()
}

fn new_hash() -> PasswordHash {
    PasswordHash::new("$argon2id$new".into())
}

/// Two sessions the reset ended: "sid-1" with 1000 s of refresh left and
/// "sid-2", ended before, with 10 s left.
fn ended() -> Vec<EndedSession> {
    vec![
        EndedSession {
            id: SessionId::new("sid-1"),
            expires_at: now() + Duration::seconds(1_000),
            was_live: true,
        },
        EndedSession {
            id: SessionId::new("sid-2"),
            expires_at: now() + Duration::seconds(10),
            was_live: false,
        },
    ]
}

/// The marks of [`ended`]: each outlives its refresh token, and at least
/// every access token (300 s), by a second. Both are `user`'s.
fn ended_marks(user: i64) -> Vec<Revocation> {
    vec![
        Revocation::Session {
            id: SessionId::new("sid-1"),
            user: UserId::new(user),
            ttl_secs: 301,
        },
        Revocation::Session {
            id: SessionId::new("sid-2"),
            user: UserId::new(user),
            ttl_secs: 301,
        },
    ]
}

fn is_unavailable(error: &DependencyError, dependency: Dependency) -> bool {
    error.is_unavailable() && error.dependency() == dependency
}

// --- forgot -------------------------------------------------------------------

#[tokio::test]
async fn forgot_for_an_unknown_address_answers_ok_and_issues_nothing() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|id| Ok(Some(user(id.get(), Role::User))));
    ports
        .users
        .expect_find_id_by_email()
        .with(eq("nobody@example.io"))
        .times(1)
        .returning(|_| Ok(None));
    ports.secrets.expect_issue().never();
    ports.outbox.expect_job_committed().never();
    ports.reset().forgot("Nobody@Example.io").await.unwrap();
}

#[tokio::test]
async fn forgot_with_a_malformed_address_answers_ok_and_touches_no_store() {
    let mut ports = Ports::new();
    ports.users.expect_find_id_by_email().never();
    ports.secrets.expect_issue().never();
    ports.outbox.expect_job_committed().never();
    let reset = ports.reset();
    for email in ["not an address", "", "@example.io", "user1@", "a@b\u{0}c"] {
        reset.forgot(email).await.unwrap();
    }
}

#[tokio::test]
async fn forgot_issues_a_reset_secret_and_emails_its_link_and_code() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|id| Ok(Some(user(id.get(), Role::User))));
    ports
        .users
        .expect_find_id_by_email()
        .with(eq("user1@example.io"))
        .times(1)
        .returning(|_| Ok(Some(UserId::new(1))));
    let token = fixed_secret().token().to_owned();
    ports
        .secrets
        .expect_issue()
        .withf(move |user, secret, emails, interval| {
            *user == UserId::new(1)
                && secret.purpose == SecretPurpose::ResetPassword
                && secret.secret == fixed_secret()
                && secret.created_at == now()
                && secret.expires_at == now() + Duration::seconds(3_600)
                && secret.new_email.is_none()
                && *interval == AccountEmailSettings::RESET_INTERVAL
                && emails.len() == 1
                && emails[0].created_at == now()
                && emails[0].email
                    == Email::PasswordReset {
                        to: "user1@example.io".into(),
                        link: format!("https://app.example/reset-password#token={token}"),
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
    ports.reset().forgot("  USER1@example.io ").await.unwrap();
}

#[tokio::test]
async fn forgot_within_the_interval_sends_nothing_and_wakes_no_relay() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|id| Ok(Some(user(id.get(), Role::User))));
    ports
        .users
        .expect_find_id_by_email()
        .returning(|_| Ok(Some(UserId::new(1))));
    ports
        .secrets
        .expect_issue()
        .times(1)
        .returning(|_, _, _, _| Ok(false));
    ports.outbox.expect_job_committed().never();
    ports.reset().forgot("user1@example.io").await.unwrap();
}

#[tokio::test]
async fn forgot_reports_a_user_store_outage() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|id| Ok(Some(user(id.get(), Role::User))));
    ports
        .users
        .expect_find_id_by_email()
        .returning(|_| Err(RepositoryError::Unavailable("down".into())));
    ports.secrets.expect_issue().never();
    ports.outbox.expect_job_committed().never();
    let error = ports.reset().forgot("user1@example.io").await.unwrap_err();
    let ForgotPasswordError::Dependency(error) = error;
    assert!(is_unavailable(&error, Dependency::UserStore), "{error:?}");
}

#[tokio::test]
async fn forgot_answers_alike_when_the_secret_store_fails_after_the_lookup() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|id| Ok(Some(user(id.get(), Role::User))));
    ports
        .users
        .expect_find_id_by_email()
        .returning(|_| Ok(Some(UserId::new(1))));
    ports
        .secrets
        .expect_issue()
        .times(1)
        .returning(|_, _, _, _| Err(SecretStoreError::Unavailable("down".into())));
    ports.outbox.expect_job_committed().never();
    // The secret's transaction runs after the answer: its failure is
    // logged, and the answer is the one every address gets.
    ports.reset().forgot("user1@example.io").await.unwrap();
}

#[tokio::test]
async fn forgot_does_only_the_lookup_before_answering() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|id| Ok(Some(user(id.get(), Role::User))));
    ports
        .users
        .expect_find_id_by_email()
        .times(1)
        .returning(|_| Ok(Some(UserId::new(1))));
    // Left to the detached task, which this one never runs: no secret is
    // made, no transaction opened before the answer.
    ports.secrets.expect_issue().never();
    ports.outbox.expect_job_committed().never();
    let mut account = ports.into_ports();
    let tasks = Arc::new(CountingTasks::default());
    account.tasks = tasks.clone();
    account.mail = no_secret_mail();
    PasswordReset::new(account)
        .forgot("user1@example.io")
        .await
        .unwrap();
    assert_eq!(tasks.handed.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn forgot_hands_one_task_for_an_unknown_address_too() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|id| Ok(Some(user(id.get(), Role::User))));
    ports
        .users
        .expect_find_id_by_email()
        .times(1)
        .returning(|_| Ok(None));
    ports.secrets.expect_issue().never();
    ports.outbox.expect_job_committed().never();
    let mut account = ports.into_ports();
    let tasks = Arc::new(CountingTasks::default());
    account.tasks = tasks.clone();
    account.mail = no_secret_mail();
    PasswordReset::new(account)
        .forgot("nobody@example.io")
        .await
        .unwrap();
    // The same hand-over as for an account, so the same time.
    assert_eq!(tasks.handed.load(Ordering::SeqCst), 1);
}

// --- reset --------------------------------------------------------------------

#[tokio::test]
async fn reset_refuses_a_malformed_proof_before_hashing_or_the_store() {
    let mut ports = Ports::new();
    ports.hasher.expect_hash().never();
    ports.secrets.expect_reset_password().never();
    ports.revocations.expect_revoke().never();
    ports.outbox.expect_job_committed().never();
    let reset = ports.reset();
    for proof in [
        SecretProof::Token("short".into()),
        SecretProof::Token("!".repeat(43)),
        SecretProof::Code {
            email: "user1@example.io".into(),
            code: "12345".into(),
        },
        SecretProof::Code {
            email: "user1@example.io".into(),
            code: "12345a".into(),
        },
    ] {
        let error = reset.reset(proof, new_password()).await.unwrap_err();
        assert!(
            matches!(error, ResetPasswordError::InvalidOrExpired),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn reset_with_a_secret_the_store_refuses_is_invalid_and_revokes_nothing() {
    let mut ports = Ports::new();
    ports
        .hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok(new_hash()));
    ports
        .secrets
        .expect_reset_password()
        .times(1)
        .returning(|_, _, _, _| Ok(None));
    ports.revocations.expect_revoke().never();
    ports.outbox.expect_job_committed().never();
    let error = ports
        .reset()
        .reset(token_proof(), new_password())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ResetPasswordError::InvalidOrExpired),
        "{error:?}"
    );
}

#[tokio::test]
async fn reset_stores_the_new_hash_queues_the_notice_and_marks_the_ended_sessions() {
    let mut ports = Ports::new();
    ports
        .hasher
        .expect_hash()
        .with(eq(new_password()))
        .times(1)
        .returning(|_| Ok(new_hash()));
    // The store builds the notice once it knows the user: here, user 7.
    let notice_sent: Arc<Mutex<Option<EmailJob>>> = Arc::default();
    let notice_slot = notice_sent.clone();
    ports
        .secrets
        .expect_reset_password()
        .withf(|proof, password_hash, at, _| {
            *proof == token_proof() && *password_hash == new_hash() && *at == now()
        })
        .times(1)
        .returning(move |_, _, _, notice| {
            let reset_user = user(7, Role::User);
            *notice_slot.lock().unwrap() = Some(notice(&reset_user));
            Ok(Some(CompletedReset {
                user: reset_user,
                ended: ended(),
            }))
        });
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    ports
        .revocations
        .expect_revoke()
        .with(eq(ended_marks(7)))
        .times(1)
        .returning(|_| Ok(()));
    ports
        .reset()
        .reset(token_proof(), new_password())
        .await
        .unwrap();

    let notice = notice_sent.lock().unwrap().take().unwrap();
    assert_eq!(notice.created_at, now());
    assert_eq!(
        notice.email,
        Email::PasswordChanged {
            to: "user7@example.io".into(),
            changed_at: now().to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    );
}

#[tokio::test]
async fn reset_with_the_emailed_code_works_too() {
    let mut ports = Ports::new();
    let code = SecretProof::Code {
        email: "user1@example.io".into(),
        code: "123456".into(),
    };
    ports.hasher.expect_hash().returning(|_| Ok(new_hash()));
    ports
        .secrets
        .expect_reset_password()
        .with(
            eq(code.clone()),
            eq(new_hash()),
            eq(now()),
            mockall::predicate::always(),
        )
        .times(1)
        .returning(|_, _, _, _| {
            Ok(Some(CompletedReset {
                user: user(1, Role::User),
                ended: Vec::new(),
            }))
        });
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    // No session was live: no mark to write.
    ports.revocations.expect_revoke().never();
    ports.reset().reset(code, new_password()).await.unwrap();
}

#[tokio::test]
async fn reset_stands_when_the_sessions_cannot_be_marked_after_the_commit() {
    let mut ports = Ports::new();
    ports.hasher.expect_hash().returning(|_| Ok(new_hash()));
    ports
        .secrets
        .expect_reset_password()
        .returning(|_, _, _, _| {
            Ok(Some(CompletedReset {
                user: user(1, Role::User),
                ended: ended(),
            }))
        });
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    ports
        .revocations
        .expect_revoke()
        .times(1)
        .returning(|_| Err(RevocationError::Unavailable("down".into())));
    // The marks stay queued for the replay.
    ports.marks.expect_forget().never();
    ports
        .reset()
        .reset(token_proof(), new_password())
        .await
        .unwrap();
}

#[tokio::test]
async fn reset_reports_a_secret_store_outage() {
    let mut ports = Ports::new();
    ports.hasher.expect_hash().returning(|_| Ok(new_hash()));
    ports
        .secrets
        .expect_reset_password()
        .times(1)
        .returning(|_, _, _, _| Err(SecretStoreError::Unavailable("down".into())));
    ports.revocations.expect_revoke().never();
    ports.outbox.expect_job_committed().never();
    let error = ports
        .reset()
        .reset(token_proof(), new_password())
        .await
        .unwrap_err();
    let ResetPasswordError::Dependency(error) = error else {
        panic!("expected a dependency error, got {error:?}");
    };
    assert!(is_unavailable(&error, Dependency::SecretStore), "{error:?}");
}

#[tokio::test]
async fn reset_with_a_busy_hasher_consumes_no_secret() {
    let mut ports = Ports::new();
    ports
        .hasher
        .expect_hash()
        .times(1)
        .returning(|_| Err(HashError::Busy));
    ports.secrets.expect_reset_password().never();
    let error = ports
        .reset()
        .reset(token_proof(), new_password())
        .await
        .unwrap_err();
    let ResetPasswordError::Dependency(error) = error else {
        panic!("expected a dependency error, got {error:?}");
    };
    assert!(
        is_unavailable(&error, Dependency::PasswordHasher),
        "{error:?}"
    );
}

/// The reset's transaction queued the marks of the sessions it ended; once
/// Redis has them, exactly those leave the queue.
#[tokio::test]
async fn reset_forgets_the_queued_marks_once_written() {
    let mut ports = Ports::new();
    let mut sequence = mockall::Sequence::new();
    ports.hasher.expect_hash().returning(|_| Ok(new_hash()));
    ports
        .secrets
        .expect_reset_password()
        .times(1)
        .returning(|_, _, _, _| {
            Ok(Some(CompletedReset {
                user: user(1, Role::User),
                ended: ended(),
            }))
        });
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    ports
        .revocations
        .expect_revoke()
        .with(eq(ended_marks(1)))
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_| Ok(()));
    let queued: Vec<_> = ended()
        .into_iter()
        .map(|session| crate::ports::QueuedMark::Session {
            id: session.id,
            user: UserId::new(1),
            expires_at: session.expires_at,
            ended_at: now(),
        })
        .collect();
    ports
        .marks
        .expect_forget()
        .with(eq(queued))
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_| Ok(()));
    ports
        .reset()
        .reset(token_proof(), new_password())
        .await
        .unwrap();
}
