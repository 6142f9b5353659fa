use chrono::Duration;
use domain::{Role, SessionId, TokenKind, TokenRejection, UserId};
use mockall::predicate::eq;

use super::*;
use crate::error::{Dependency, DependencyError};
use crate::ports::{EndedSession, Revocation, SessionStoreError};
use crate::use_cases::test_support::{MockAccountPorts, claims, now, session, user};

impl MockAccountPorts {
    fn with_user(mut self, id: i64, role: Role) -> Self {
        self.users
            .expect_find_by_id()
            .with(eq(UserId::new(id)))
            .returning(move |_| Ok(Some(user(id, role))));
        self
    }

    fn management(self) -> SessionManagement {
        SessionManagement::new(self.into_ports())
    }
}

fn ended(id: &str, was_live: bool) -> EndedSession {
    EndedSession {
        id: SessionId::new(id),
        expires_at: now() + Duration::seconds(1_000),
        was_live,
    }
}

use crate::ports::NewAuditEvent;
use domain::AuditEventKind;

fn access(user_id: i64, fresh: bool) -> domain::TokenClaims {
    claims(user_id, TokenKind::Access, fresh)
}

#[tokio::test]
async fn a_user_lists_its_own_live_sessions() {
    let mut ports = MockAccountPorts::new().with_user(1, Role::User);
    ports
        .sessions
        .expect_list_live()
        .with(eq(UserId::new(1)), eq(now()))
        .times(1)
        .returning(|_, _| Ok(vec![session(1, 0, 0)]));
    let listed = ports
        .management()
        .list(&access(1, false), UserId::new(1))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn another_users_sessions_are_forbidden_to_a_user() {
    let mut ports = MockAccountPorts::new().with_user(1, Role::User);
    ports.sessions.expect_list_live().never();
    let error = ports
        .management()
        .list(&access(1, false), UserId::new(2))
        .await
        .unwrap_err();
    assert!(matches!(error, SessionAccessError::Forbidden));
}

#[tokio::test]
async fn an_admin_lists_anyones_sessions_and_learns_of_missing_users() {
    let mut ports = MockAccountPorts::new()
        .with_user(9, Role::Admin)
        .with_user(2, Role::User);
    ports
        .users
        .expect_find_by_id()
        .with(eq(UserId::new(3)))
        .returning(|_| Ok(None));
    ports
        .sessions
        .expect_list_live()
        .with(eq(UserId::new(2)), eq(now()))
        .returning(|_, _| Ok(vec![]));
    let management = ports.management();
    assert!(
        management
            .list(&access(9, false), UserId::new(2))
            .await
            .unwrap()
            .is_empty()
    );
    let error = management
        .list(&access(9, false), UserId::new(3))
        .await
        .unwrap_err();
    assert!(matches!(error, SessionAccessError::UserNotFound));
}

#[tokio::test]
async fn revoking_one_session_ends_and_marks_it() {
    let mut ports = MockAccountPorts::new();
    ports
        .sessions
        .expect_end()
        .with(
            eq(SessionId::new("s2")),
            eq(UserId::new(1)),
            eq(now()),
            eq(Some(NewAuditEvent::by_user(
                AuditEventKind::SessionRevoked,
                UserId::new(1),
                Some(&SessionId::new("sid-1")),
                None,
                now(),
                serde_json::json!({ "revoked_session_id": "s2" }),
            ))),
        )
        .times(1)
        .returning(|_, _, _, _| Ok(Some(ended("s2", true))));
    ports
        .revocations
        .expect_revoke()
        .with(eq(vec![Revocation::Session {
            id: SessionId::new("s2"),
            user: UserId::new(1),
            ttl_secs: 301,
        }]))
        .times(1)
        .returning(|_| Ok(()));
    ports
        .management()
        .revoke_own(&access(1, true), &SessionId::new("s2"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unknown_ended_or_foreign_session_is_not_found() {
    for found in [None, Some(ended("s2", false))] {
        let mut ports = MockAccountPorts::new();
        ports
            .sessions
            .expect_end()
            .returning(move |_, _, _, _| Ok(found.clone()));
        ports.revocations.expect_revoke().returning(|_| Ok(()));
        let error = ports
            .management()
            .revoke_own(&access(1, true), &SessionId::new("s2"))
            .await
            .unwrap_err();
        assert!(matches!(error, SessionAccessError::SessionNotFound));
    }
}

#[tokio::test]
async fn revoking_needs_a_fresh_token() {
    let mut ports = MockAccountPorts::new();
    ports.sessions.expect_end().never();
    ports.sessions.expect_end_all().never();
    let management = ports.management();
    let error = management
        .revoke_own(&access(1, false), &SessionId::new("s2"))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        SessionAccessError::Token(TokenRejection::NotFresh)
    ));
    let error = management
        .revoke_all(&access(1, false), UserId::new(1))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        SessionAccessError::Token(TokenRejection::NotFresh)
    ));
}

#[tokio::test]
async fn revoking_all_counts_only_the_sessions_that_were_live() {
    let mut ports = MockAccountPorts::new()
        .with_user(9, Role::Admin)
        .with_user(2, Role::User);
    ports
        .sessions
        .expect_end_all()
        .with(
            eq(UserId::new(2)),
            eq(None),
            eq(now()),
            eq(Some(NewAuditEvent {
                at: now(),
                kind: AuditEventKind::SessionRevoked,
                actor: Some(UserId::new(9)),
                subject: Some(UserId::new(2)),
                session: Some(SessionId::new("sid-1")),
                ip: None,
                user_agent: None,
                data: serde_json::json!({ "all": true }),
            })),
        )
        .times(1)
        .returning(|_, _, _, _| Ok(vec![ended("a", true), ended("b", false), ended("c", true)]));
    ports
        .revocations
        .expect_revoke()
        .withf(|marks| marks.len() == 3)
        .times(1)
        .returning(|_| Ok(()));
    let revoked = ports
        .management()
        .revoke_all(&access(9, true), UserId::new(2))
        .await
        .unwrap();
    assert_eq!(revoked, 2);
}

#[tokio::test]
async fn a_session_store_outage_is_unavailable() {
    let mut ports = MockAccountPorts::new().with_user(1, Role::User);
    ports
        .sessions
        .expect_list_live()
        .returning(|_, _| Err(SessionStoreError::Unavailable("refused".into())));
    let error = ports
        .management()
        .list(&access(1, false), UserId::new(1))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        SessionAccessError::Dependency(DependencyError::Unavailable(Dependency::SessionStore, _))
    ));
}
