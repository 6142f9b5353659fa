use domain::{
    AuditEventKind, ClientDevice, EmailAddress, Password, PasswordHash, PasswordPolicy, Role,
    TokenKind, TokenRejection, User, UserId, Username,
};
use mockall::predicate::{always, eq};

use super::*;
use crate::error::{Dependency, DependencyError};
use crate::ports::{
    HashError, NewAuditEvent, QueuedMark, RepositoryError, Revocation, RevocationError,
};
use crate::use_cases::test_support::{MockAccountPorts, claims, fixed_secret, now, user};

impl MockAccountPorts {
    fn accounts(self) -> UserAccounts {
        UserAccounts::new(self.into_ports())
    }
}

fn registration() -> Registration {
    Registration {
        username: Username::parse("ada").unwrap(),
        email: EmailAddress::parse("Ada@Example.io").unwrap(),
        password: Password::parse("correct horse", PasswordPolicy::default()).unwrap(),
    }
}

fn device() -> ClientDevice {
    ClientDevice::new(Some("203.0.113.7".parse().unwrap()), Some("Firefox"))
}

/// The `user.deleted` of `subject` by `actor`, from [`device`] in the
/// session of [`claims`].
fn deleted(actor: i64, subject: i64) -> NewAuditEvent {
    NewAuditEvent {
        at: now(),
        kind: AuditEventKind::UserDeleted,
        actor: Some(UserId::new(actor)),
        subject: Some(UserId::new(subject)),
        session: Some(domain::SessionId::new("sid-1")),
        ip: Some("203.0.113.7".parse().unwrap()),
        user_agent: Some("Firefox".to_owned()),
        data: serde_json::json!({}),
    }
}

fn hashing(ports: &mut MockAccountPorts) {
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("h".into())));
}

// --- register ---------------------------------------------------------------

#[tokio::test]
async fn register_stores_the_hash_and_a_welcome_job_together_then_wakes_the_relay() {
    let mut ports = MockAccountPorts::new();
    ports
        .hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok(PasswordHash::new("$argon2id$fake".into())));
    ports
        .users
        .expect_create()
        .withf(|new_user, verification, job, registered| {
            let token = fixed_secret().token().to_owned();
            *registered
                == NewAuditEvent {
                    at: now(),
                    kind: AuditEventKind::UserRegistered,
                    actor: None,
                    subject: None,
                    session: None,
                    ip: Some("203.0.113.7".parse().unwrap()),
                    user_agent: Some("Firefox".to_owned()),
                    data: serde_json::json!({}),
                }
                && registered.clone().for_new_user(UserId::new(1)).actor == Some(UserId::new(1))
                && new_user.password_hash.as_str() == "$argon2id$fake"
                && new_user.email.as_str() == "Ada@Example.io"
                && verification.purpose == domain::SecretPurpose::VerifyEmail
                && verification.secret == fixed_secret()
                && verification.created_at == now()
                && verification.expires_at == now() + chrono::Duration::seconds(86_400)
                && job.email
                    == crate::Email::Welcome {
                        to: "Ada@Example.io".into(),
                        verification_link: format!(
                            "https://app.example/verify-email#token={token}"
                        ),
                        code: "123456".into(),
                    }
        })
        .times(1)
        .returning(|new_user, _, _, _| {
            Ok(User {
                id: UserId::new(1),
                username: new_user.username,
                email: new_user.email,
                role: Role::User,
                email_verified: false,
                created_at: now(),
            })
        });
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    let created = ports
        .accounts()
        .register(registration(), &device())
        .await
        .unwrap();
    assert_eq!(created.id, UserId::new(1));
    assert_eq!(created.role, Role::User);
}

#[tokio::test]
async fn register_reports_a_duplicate_email() {
    let mut ports = MockAccountPorts::new();
    hashing(&mut ports);
    ports
        .users
        .expect_create()
        .returning(|_, _, _, _| Err(RepositoryError::EmailTaken));
    ports.outbox.expect_job_committed().never();
    let error = ports
        .accounts()
        .register(registration(), &device())
        .await
        .unwrap_err();
    assert!(matches!(error, RegisterError::EmailTaken));
}

#[tokio::test]
async fn register_reports_input_the_store_refuses() {
    let mut ports = MockAccountPorts::new();
    hashing(&mut ports);
    ports
        .users
        .expect_create()
        .returning(|_, _, _, _| Err(RepositoryError::InvalidInput("NUL byte".into())));
    let error = ports
        .accounts()
        .register(registration(), &device())
        .await
        .unwrap_err();
    assert!(matches!(error, RegisterError::InvalidInput(_)));
}

#[tokio::test]
async fn register_reports_a_database_outage_as_unavailable() {
    let mut ports = MockAccountPorts::new();
    hashing(&mut ports);
    ports
        .users
        .expect_create()
        .returning(|_, _, _, _| Err(RepositoryError::Unavailable("timed out".into())));
    let error = ports
        .accounts()
        .register(registration(), &device())
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        RegisterError::Dependency(DependencyError::Unavailable(Dependency::UserStore, _))
    ));
}

#[tokio::test]
async fn register_does_not_touch_the_store_when_hashing_is_saturated() {
    let mut ports = MockAccountPorts::new();
    ports
        .hasher
        .expect_hash()
        .returning(|_| Err(HashError::Busy));
    ports.users.expect_create().never();
    let error = ports
        .accounts()
        .register(registration(), &device())
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        RegisterError::Dependency(DependencyError::Unavailable(Dependency::PasswordHasher, _))
    ));
}

// --- reading users ------------------------------------------------------------

#[tokio::test]
async fn current_user_of_a_deleted_account_is_a_revoked_token() {
    let mut ports = MockAccountPorts::new();
    ports.users.expect_find_by_id().returning(|_| Ok(None));
    let error = ports
        .accounts()
        .current_user(&claims(1, TokenKind::Access, true))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        UserAccessError::Token(TokenRejection::Revoked)
    ));
}

#[tokio::test]
async fn a_user_reads_itself_with_one_lookup() {
    let mut ports = MockAccountPorts::new();
    ports
        .users
        .expect_find_by_id()
        .with(eq(UserId::new(1)))
        .times(1)
        .returning(|_| Ok(Some(user(1, Role::User))));
    let found = ports
        .accounts()
        .get_user(&claims(1, TokenKind::Access, false), UserId::new(1))
        .await
        .unwrap();
    assert_eq!(found.id, UserId::new(1));
}

#[tokio::test]
async fn a_user_may_not_read_someone_else_even_if_it_does_not_exist() {
    let mut ports = MockAccountPorts::new();
    ports
        .users
        .expect_find_by_id()
        .with(eq(UserId::new(1)))
        .returning(|_| Ok(Some(user(1, Role::User))));
    let accounts = ports.accounts();
    for target in [2, 999] {
        let error = accounts
            .get_user(&claims(1, TokenKind::Access, false), UserId::new(target))
            .await
            .unwrap_err();
        assert!(matches!(error, UserAccessError::Forbidden));
    }
}

#[tokio::test]
async fn an_admin_reads_anyone_and_learns_when_they_do_not_exist() {
    let mut ports = MockAccountPorts::new();
    ports.users.expect_find_by_id().returning(|id| {
        Ok(match id.get() {
            1 => Some(user(1, Role::Admin)),
            2 => Some(user(2, Role::User)),
            _ => None,
        })
    });
    let accounts = ports.accounts();
    let admin = claims(1, TokenKind::Access, false);
    assert_eq!(
        accounts.get_user(&admin, UserId::new(2)).await.unwrap().id,
        UserId::new(2)
    );
    let error = accounts.get_user(&admin, UserId::new(3)).await.unwrap_err();
    assert!(matches!(error, UserAccessError::UserNotFound));
}

// --- deleting users -----------------------------------------------------------

#[tokio::test]
async fn delete_needs_a_fresh_token() {
    let mut ports = MockAccountPorts::new();
    ports.users.expect_delete().never();
    let error = ports
        .accounts()
        .delete_user(
            &claims(1, TokenKind::Access, false),
            UserId::new(1),
            &device(),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        UserAccessError::Token(TokenRejection::NotFresh)
    ));
}

#[tokio::test]
async fn delete_of_someone_else_is_forbidden() {
    let mut ports = MockAccountPorts::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(1, Role::User))));
    ports.users.expect_delete().never();
    ports.revocations.expect_revoke().never();
    let error = ports
        .accounts()
        .delete_user(
            &claims(1, TokenKind::Access, true),
            UserId::new(2),
            &device(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, UserAccessError::Forbidden));
}

/// The delete queues the user's mark in its transaction; the mark then
/// goes to the revocation store and off the queue. It names the user with
/// no point in time, so tokens that a login in flight signs after the
/// deletion are covered as well; it lives as long as the longest token
/// could.
#[tokio::test]
async fn delete_removes_the_user_then_marks_it_revoked_and_forgets_the_queued_mark() {
    let mut ports = MockAccountPorts::new();
    let mut sequence = mockall::Sequence::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(1, Role::User))));
    ports
        .users
        .expect_delete()
        .with(eq(UserId::new(1)), eq(now()), eq(deleted(1, 1)))
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_, _, _| Ok(true));
    ports
        .revocations
        .expect_revoke()
        .with(eq(vec![Revocation::User {
            id: UserId::new(1),
            ttl_secs: 301,
        }]))
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_| Ok(()));
    ports
        .marks
        .expect_forget()
        .with(eq(vec![QueuedMark::User {
            id: UserId::new(1),
            ended_at: now(),
        }]))
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_| Ok(()));
    ports
        .accounts()
        .delete_user(
            &claims(1, TokenKind::Access, true),
            UserId::new(1),
            &device(),
        )
        .await
        .unwrap();
}

/// An admin deleting someone else is the actor of its `user.deleted`.
#[tokio::test]
async fn an_admin_deleting_another_user_is_the_actor_of_its_event() {
    let mut ports = MockAccountPorts::new();
    ports.users.expect_find_by_id().returning(|id| {
        Ok(Some(user(
            id.get(),
            if id.get() == 1 {
                Role::Admin
            } else {
                Role::User
            },
        )))
    });
    ports
        .users
        .expect_delete()
        .with(eq(UserId::new(2)), eq(now()), eq(deleted(1, 2)))
        .times(1)
        .returning(|_, _, _| Ok(true));
    ports.revocations.expect_revoke().returning(|_| Ok(()));
    ports.marks.expect_forget().returning(|_| Ok(()));
    ports
        .accounts()
        .delete_user(
            &claims(1, TokenKind::Access, true),
            UserId::new(2),
            &device(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_admin_deleting_a_missing_user_gets_not_found() {
    let mut ports = MockAccountPorts::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|id| Ok((id.get() == 1).then(|| user(1, Role::Admin))));
    ports.revocations.expect_revoke().never();
    ports.users.expect_delete().never();
    let error = ports
        .accounts()
        .delete_user(
            &claims(1, TokenKind::Access, true),
            UserId::new(5),
            &device(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, UserAccessError::UserNotFound));
}

/// Redis failing after the delete committed: the deletion stands, and the
/// queued mark stays for the replay (nothing forgets it).
#[tokio::test]
async fn delete_succeeds_and_leaves_the_mark_queued_when_revocation_fails() {
    let mut ports = MockAccountPorts::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(1, Role::User))));
    ports
        .users
        .expect_delete()
        .times(1)
        .returning(|_, _, _| Ok(true));
    ports
        .revocations
        .expect_revoke()
        .with(always())
        .returning(|_| Err(RevocationError::Unavailable("down".into())));
    ports.marks.expect_forget().never();
    ports
        .accounts()
        .delete_user(
            &claims(1, TokenKind::Access, true),
            UserId::new(1),
            &device(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn delete_of_a_user_gone_meanwhile_writes_no_mark() {
    let mut ports = MockAccountPorts::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(1, Role::User))));
    ports.users.expect_delete().returning(|_, _, _| Ok(false));
    ports.revocations.expect_revoke().never();
    let error = ports
        .accounts()
        .delete_user(
            &claims(1, TokenKind::Access, true),
            UserId::new(1),
            &device(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, UserAccessError::UserNotFound));
}
