use std::sync::Arc;

use chrono::Duration;
use domain::{SecretPurpose, SessionId, TokenKind};

use super::*;
use crate::ports::{EndedSession, MockUserAdminStore, UserStatus};
use crate::use_cases::test_support::{MockAccountPorts, claims, now, user};

const ADMIN: i64 = 9;
const TARGET: i64 = 5;

fn device() -> ClientDevice {
    ClientDevice::new(Some("203.0.113.7".parse().unwrap()), Some("curl/8"))
}

/// The ports with caller [`ADMIN`] holding `role`, and every other user
/// existing as a plain user.
fn ports(role: Role) -> MockAccountPorts {
    let mut ports = MockAccountPorts::new();
    ports.users.expect_find_by_id().returning(move |id| {
        let role = if id.get() == ADMIN { role } else { Role::User };
        Ok(Some(user(id.get(), role)))
    });
    ports
}

fn actions(ports: MockAccountPorts, store: MockUserAdminStore) -> AdminActions {
    AdminActions::new(ports.into_ports(), Arc::new(store))
}

/// Runs `f` with a caller built from [`ADMIN`]'s token and [`device`].
macro_rules! as_admin {
    (|$caller:ident| $body:expr) => {{
        let token = claims(ADMIN, TokenKind::Access, true);
        let device = device();
        let $caller = AdminCaller {
            claims: &token,
            device: &device,
        };
        $body
    }};
}

fn new_user(password: Option<&str>) -> NewUserByAdmin {
    NewUserByAdmin {
        username: Username::parse("grace").unwrap(),
        email: EmailAddress::parse("Grace@Example.io").unwrap(),
        password: password
            .map(|raw| Password::parse(raw, domain::PasswordPolicy::default()).unwrap()),
        role: Role::Admin,
        email_verified: true,
    }
}

/// The audit event's who, whence and when, as every admin action has them.
fn assert_by_admin(event: &NewAuditEvent, kind: AuditEventKind, subject: Option<i64>) {
    assert_eq!(event.kind, kind);
    assert_eq!(event.actor, Some(UserId::new(ADMIN)));
    assert_eq!(event.subject, subject.map(UserId::new));
    assert_eq!(event.session, Some(SessionId::new("sid-1")));
    assert_eq!(event.ip, Some("203.0.113.7".parse().unwrap()));
    assert_eq!(event.user_agent.as_deref(), Some("curl/8"));
    assert_eq!(event.at, now());
}

fn ended(id: &str, was_live: bool) -> EndedSession {
    EndedSession {
        id: SessionId::new(id),
        expires_at: now() + Duration::hours(1),
        was_live,
    }
}

#[tokio::test]
async fn a_non_admin_is_forbidden_everything_and_nothing_is_stored() {
    let actions = actions(ports(Role::User), MockUserAdminStore::new());
    let target = UserId::new(TARGET);
    as_admin!(|caller| {
        assert!(matches!(
            actions.create_user(caller, new_user(None)).await,
            Err(CreateUserError::Forbidden)
        ));
        assert!(matches!(
            actions
                .update_user(caller, target, UserChanges::default())
                .await,
            Err(UpdateUserError::Forbidden)
        ));
        let ban = BanRequest {
            until: None,
            reason: "spam".into(),
        };
        assert!(matches!(
            actions.ban(caller, target, ban).await,
            Err(BanUserError::Forbidden)
        ));
        assert!(matches!(
            actions.unban(caller, target).await,
            Err(AdminUserActionError::Forbidden)
        ));
        assert!(matches!(
            actions.end_sessions(caller, target).await,
            Err(AdminUserActionError::Forbidden)
        ));
        assert!(matches!(
            actions.reset_mfa(caller, target).await,
            Err(AdminUserActionError::Forbidden)
        ));
    });
}

#[tokio::test]
async fn a_caller_whose_account_is_gone_is_refused_as_revoked() {
    let mut ports = MockAccountPorts::new();
    ports.users.expect_find_by_id().returning(|_| Ok(None));
    let actions = actions(ports, MockUserAdminStore::new());
    as_admin!(|caller| {
        let error = actions
            .unban(caller, UserId::new(TARGET))
            .await
            .unwrap_err();
        assert!(
            matches!(error, AdminUserActionError::Token(TokenRejection::Revoked)),
            "{error:?}"
        );
    });
}

#[tokio::test]
async fn a_user_with_a_password_is_stored_with_its_hash_and_no_invitation() {
    let mut ports = ports(Role::Admin);
    ports
        .hasher
        .expect_hash()
        .withf(|password| password.expose() == "correct horse")
        .returning(|_| Ok(domain::PasswordHash::new("$argon2id$real".into())));
    ports.outbox.expect_job_committed().never();
    let mut store = MockUserAdminStore::new();
    store.expect_create_user().times(1).returning(|new| {
        assert!(new.invitation.is_none());
        assert_eq!(new.user.password_hash.as_str(), "$argon2id$real");
        assert_eq!(new.role, Role::Admin);
        assert!(new.email_verified);
        assert_by_admin(&new.audit, AuditEventKind::AdminUserCreated, None);
        let data = new.audit.data.to_string();
        assert!(
            !data.contains("correct horse") && !data.contains("argon2"),
            "{data}"
        );
        assert_eq!(new.audit.data["email"], "Grace@Example.io");
        assert_eq!(new.audit.data["invited"], false);
        Ok(user(42, Role::Admin))
    });
    let actions = actions(ports, store);
    let created = as_admin!(|caller| actions
        .create_user(caller, new_user(Some("correct horse")))
        .await
        .unwrap());
    assert_eq!(created.id, UserId::new(42));
}

#[tokio::test]
async fn a_user_without_a_password_gets_an_unknown_one_and_a_seven_day_invitation() {
    let mut ports = ports(Role::Admin);
    // A random 43-character password, never the fixed secret's code.
    ports
        .hasher
        .expect_hash()
        .withf(|password| password.expose().len() == 43)
        .returning(|_| Ok(domain::PasswordHash::new("$argon2id$unknown".into())));
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    let mut store = MockUserAdminStore::new();
    store.expect_create_user().times(1).returning(|new| {
        let (secret, job) = new.invitation.expect("an invitation");
        assert_eq!(secret.purpose, SecretPurpose::ResetPassword);
        assert_eq!(secret.expires_at, now() + Duration::days(7));
        match job.email {
            Email::Invitation { to, link, code } => {
                assert_eq!(to, "Grace@Example.io");
                assert!(
                    link.starts_with("https://app.example/reset-password#token="),
                    "{link}"
                );
                assert_eq!(code, "123456");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(new.audit.data["invited"], true);
        Ok(user(42, Role::Admin))
    });
    let actions = actions(ports, store);
    as_admin!(|caller| actions.create_user(caller, new_user(None)).await.unwrap());
}

#[tokio::test]
async fn a_taken_address_is_the_register_conflict() {
    let mut ports = ports(Role::Admin);
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(domain::PasswordHash::new("h".into())));
    let mut store = MockUserAdminStore::new();
    store
        .expect_create_user()
        .returning(|_| Err(RepositoryError::EmailTaken));
    let actions = actions(ports, store);
    let error = as_admin!(|caller| actions
        .create_user(caller, new_user(Some("correct horse")))
        .await
        .unwrap_err());
    assert!(matches!(error, CreateUserError::EmailTaken), "{error:?}");
}

#[tokio::test]
async fn an_admin_cannot_demote_itself_and_the_store_is_not_asked() {
    let actions = actions(ports(Role::Admin), MockUserAdminStore::new());
    let changes = UserChanges {
        role: Some(Role::User),
        ..UserChanges::default()
    };
    let error = as_admin!(|caller| actions
        .update_user(caller, UserId::new(ADMIN), changes)
        .await
        .unwrap_err());
    assert!(matches!(error, UpdateUserError::SelfDemotion), "{error:?}");
}

#[tokio::test]
async fn an_update_names_what_changed_and_maps_each_refusal_of_the_store() {
    for (answer, expected) in [
        (UserUpdate::NotFound, "UserNotFound"),
        (UserUpdate::LastAdmin, "LastAdmin"),
        (UserUpdate::ActorNotAdmin, "Forbidden"),
        (UserUpdate::Updated(user(TARGET, Role::Admin)), "Ok"),
    ] {
        let mut store = MockUserAdminStore::new();
        store
            .expect_update_user()
            .times(1)
            .returning(move |actor, id, changes, audit| {
                assert_eq!(actor, UserId::new(ADMIN));
                assert_eq!(id, UserId::new(TARGET));
                assert_eq!(changes.role, Some(Role::Admin));
                assert_by_admin(&audit, AuditEventKind::AdminUserUpdated, Some(TARGET));
                assert_eq!(
                    audit.data,
                    json!({"changes": {"role": "admin", "email_verified": false}})
                );
                Ok(answer.clone())
            });
        let actions = actions(ports(Role::Admin), store);
        let changes = UserChanges {
            username: None,
            role: Some(Role::Admin),
            email_verified: Some(false),
        };
        let result = as_admin!(|caller| actions
            .update_user(caller, UserId::new(TARGET), changes)
            .await);
        let got = match result {
            Ok(_) => "Ok",
            Err(UpdateUserError::UserNotFound) => "UserNotFound",
            Err(UpdateUserError::LastAdmin) => "LastAdmin",
            Err(UpdateUserError::Forbidden) => "Forbidden",
            Err(other) => panic!("{other:?}"),
        };
        assert_eq!(got, expected);
    }
}

#[tokio::test]
async fn an_admin_cannot_ban_itself_nor_until_a_past_time() {
    let actions = actions(ports(Role::Admin), MockUserAdminStore::new());
    let ban = |until| BanRequest {
        until,
        reason: "spam".into(),
    };
    as_admin!(|caller| {
        let error = actions
            .ban(caller, UserId::new(ADMIN), ban(None))
            .await
            .unwrap_err();
        assert!(matches!(error, BanUserError::SelfBan), "{error:?}");
        for until in [now(), now() - Duration::seconds(1)] {
            let error = actions
                .ban(caller, UserId::new(TARGET), ban(Some(until)))
                .await
                .unwrap_err();
            assert!(matches!(error, BanUserError::UntilInPast), "{error:?}");
        }
    });
}

#[tokio::test]
async fn a_ban_ends_every_session_and_writes_their_marks() {
    let until = now() + Duration::days(3);
    let mut ports = ports(Role::Admin);
    ports
        .revocations
        .expect_revoke()
        .times(1)
        .withf(|revocations| revocations.len() == 2)
        .returning(|_| Ok(()));
    let mut store = MockUserAdminStore::new();
    store
        .expect_ban()
        .times(1)
        .returning(move |id, stored, at, audit| {
            assert_eq!(id, UserId::new(TARGET));
            assert_eq!(stored, until);
            assert_eq!(at, now());
            assert_by_admin(&audit, AuditEventKind::AdminUserBanned, Some(TARGET));
            assert_eq!(audit.data["reason"], "spam");
            assert_eq!(audit.data["until"], rfc3339(until));
            Ok(Some(vec![ended("a", true), ended("b", true)]))
        });
    let actions = actions(ports, store);
    let request = BanRequest {
        until: Some(until),
        reason: "spam".into(),
    };
    as_admin!(|caller| actions
        .ban(caller, UserId::new(TARGET), request)
        .await
        .unwrap());
}

#[tokio::test]
async fn an_indefinite_ban_is_stored_far_ahead_and_shown_as_banned_without_an_end() {
    let mut store = MockUserAdminStore::new();
    store.expect_ban().times(1).returning(|_, until, _, audit| {
        assert_eq!(until, indefinite_ban());
        assert_eq!(audit.data["until"], Value::Null);
        Ok(Some(Vec::new()))
    });
    let actions = actions(ports(Role::Admin), store);
    let request = BanRequest {
        until: None,
        reason: "spam".into(),
    };
    as_admin!(|caller| actions
        .ban(caller, UserId::new(TARGET), request)
        .await
        .unwrap());
    let stored = Some(indefinite_ban());
    assert_eq!(UserStatus::of(stored, now()), UserStatus::Banned);
    assert_eq!(crate::ports::shown_ban_end(stored), None);
}

#[tokio::test]
async fn banning_an_unknown_user_is_not_found() {
    let mut store = MockUserAdminStore::new();
    store.expect_ban().returning(|_, _, _, _| Ok(None));
    let actions = actions(ports(Role::Admin), store);
    let request = BanRequest {
        until: None,
        reason: "spam".into(),
    };
    let error = as_admin!(|caller| actions
        .ban(caller, UserId::new(TARGET), request)
        .await
        .unwrap_err());
    assert!(matches!(error, BanUserError::UserNotFound), "{error:?}");
}

#[tokio::test]
async fn unban_writes_its_event_or_finds_no_user() {
    for exists in [true, false] {
        let mut store = MockUserAdminStore::new();
        store.expect_unban().times(1).returning(move |id, audit| {
            assert_eq!(id, UserId::new(TARGET));
            assert_by_admin(&audit, AuditEventKind::AdminUserUnbanned, Some(TARGET));
            Ok(exists)
        });
        let actions = actions(ports(Role::Admin), store);
        let result = as_admin!(|caller| actions.unban(caller, UserId::new(TARGET)).await);
        assert_eq!(result.is_ok(), exists, "{result:?}");
        if !exists {
            assert!(matches!(result, Err(AdminUserActionError::UserNotFound)));
        }
    }
}

#[tokio::test]
async fn ending_sessions_counts_the_live_ones_and_marks_them_all() {
    let mut ports = ports(Role::Admin);
    ports
        .revocations
        .expect_revoke()
        .times(1)
        .returning(|_| Ok(()));
    let mut store = MockUserAdminStore::new();
    store
        .expect_end_sessions()
        .times(1)
        .returning(|_, _, audit| {
            assert_by_admin(&audit, AuditEventKind::AdminSessionsRevoked, Some(TARGET));
            Ok(Some(vec![ended("a", true), ended("b", false)]))
        });
    let actions = actions(ports, store);
    let revoked = as_admin!(|caller| actions
        .end_sessions(caller, UserId::new(TARGET))
        .await
        .unwrap());
    assert_eq!(revoked, 1);
}

#[tokio::test]
async fn ending_the_sessions_of_an_unknown_user_is_not_found() {
    let mut store = MockUserAdminStore::new();
    store.expect_end_sessions().returning(|_, _, _| Ok(None));
    let actions = actions(ports(Role::Admin), store);
    let error = as_admin!(|caller| actions
        .end_sessions(caller, UserId::new(TARGET))
        .await
        .unwrap_err());
    assert!(matches!(error, AdminUserActionError::UserNotFound));
}

#[tokio::test]
async fn a_mfa_reset_tells_the_user_and_writes_its_event() {
    let mut ports = ports(Role::Admin);
    ports
        .outbox
        .expect_job_committed()
        .times(1)
        .return_const(());
    let mut store = MockUserAdminStore::new();
    store
        .expect_reset_mfa()
        .times(1)
        .returning(|id, notice, audit| {
            assert_eq!(id, UserId::new(TARGET));
            assert_eq!(notice.email.recipient(), "user5@example.io");
            assert_eq!(notice.email.kind(), "mfa_disabled");
            assert_by_admin(&audit, AuditEventKind::AdminMfaReset, Some(TARGET));
            Ok(true)
        });
    let actions = actions(ports, store);
    as_admin!(|caller| actions
        .reset_mfa(caller, UserId::new(TARGET))
        .await
        .unwrap());
}

#[tokio::test]
async fn a_mfa_reset_of_an_unknown_user_is_not_found() {
    let mut ports = MockAccountPorts::new();
    ports
        .users
        .expect_find_by_id()
        .returning(|id| Ok((id.get() == ADMIN).then(|| user(ADMIN, Role::Admin))));
    let actions = actions(ports, MockUserAdminStore::new());
    let error = as_admin!(|caller| actions
        .reset_mfa(caller, UserId::new(TARGET))
        .await
        .unwrap_err());
    assert!(matches!(error, AdminUserActionError::UserNotFound));
}

#[tokio::test]
async fn a_failing_store_is_a_dependency_error() {
    let mut store = MockUserAdminStore::new();
    store
        .expect_unban()
        .returning(|_, _| Err(RepositoryError::Unavailable("down".into())));
    let actions = actions(ports(Role::Admin), store);
    let error = as_admin!(|caller| actions
        .unban(caller, UserId::new(TARGET))
        .await
        .unwrap_err());
    match error {
        AdminUserActionError::Dependency(error) => assert!(error.is_unavailable()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_demotion_is_authorised_by_the_store_under_the_admins_lock() {
    // A caller that lost its role a moment ago (the race's loser): the
    // store answers, and its last-admin verdict stands.
    let mut store = MockUserAdminStore::new();
    store
        .expect_update_user()
        .times(1)
        .returning(|_, _, _, _| Ok(UserUpdate::LastAdmin));
    let actions = actions(ports(Role::User), store);
    let changes = UserChanges {
        role: Some(Role::User),
        ..UserChanges::default()
    };
    let error = as_admin!(|caller| actions
        .update_user(caller, UserId::new(TARGET), changes)
        .await
        .unwrap_err());
    assert!(matches!(error, UpdateUserError::LastAdmin), "{error:?}");
}
