//! Each logout scope, against mocked ports.

use super::*;
use crate::ports::{EndedSession, Revocation};
use crate::use_cases::test_support::session;

fn ended(id: &str, was_live: bool) -> EndedSession {
    EndedSession {
        id: SessionId::new(id),
        expires_at: now() + Duration::seconds(1_000),
        was_live,
    }
}

/// The `user.logged_out` of user 1 in session "sid-1" with `scope`.
fn logged_out(scope: &str) -> crate::ports::NewAuditEvent {
    crate::ports::NewAuditEvent::by_user(
        domain::AuditEventKind::LoggedOut,
        UserId::new(1),
        Some(&SessionId::new("sid-1")),
        None,
        now(),
        serde_json::json!({ "scope": scope }),
    )
}

fn marks(ids: &[&str]) -> Vec<Revocation> {
    ids.iter()
        .map(|id| Revocation::Session {
            id: SessionId::new(*id),
            user: UserId::new(1),
            ttl_secs: 301,
        })
        .collect()
}

#[tokio::test]
async fn local_ends_this_session_in_the_store_then_marks_it() {
    let mut ports = Ports::new();
    let mut seq = mockall::Sequence::new();
    ports
        .sessions
        .expect_end()
        .with(
            eq(SessionId::new("sid-1")),
            eq(UserId::new(1)),
            eq(now()),
            eq(Some(logged_out("local"))),
        )
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _| Ok(Some(ended("sid-1", true))));
    ports
        .revocations
        .expect_revoke()
        .with(eq(marks(&["sid-1"])))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    ports
        .authentication()
        .logout(&claims(1, TokenKind::Refresh, false), LogoutScope::Local)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_session_ended_before_is_marked_again_and_answers_revoked() {
    let mut ports = Ports::new();
    ports
        .sessions
        .expect_end()
        .returning(|_, _, _, _| Ok(Some(ended("sid-1", false))));
    ports
        .revocations
        .expect_revoke()
        .with(eq(marks(&["sid-1"])))
        .times(1)
        .returning(|_| Ok(()));
    let error = ports
        .authentication()
        .logout(&claims(1, TokenKind::Refresh, false), LogoutScope::Local)
        .await
        .unwrap_err();
    assert!(matches!(error, LogoutError::Token(TokenRejection::Revoked)));
}

#[tokio::test]
async fn a_superseded_refresh_token_still_logs_its_session_out() {
    let mut ports = Ports::new();
    ports
        .sessions
        .expect_end()
        .times(1)
        .returning(|_, _, _, _| Ok(Some(ended("sid-1", true))));
    ports.revocations.expect_revoke().returning(|_| Ok(()));
    let mut superseded = claims(1, TokenKind::Refresh, false);
    superseded.generation = Some(0); // the session is at generation 5
    ports.sessions.expect_find().never();
    ports
        .authentication()
        .logout(&superseded, LogoutScope::Local)
        .await
        .unwrap();
}

#[tokio::test]
async fn others_ends_every_other_session_and_keeps_this_one() {
    let mut ports = Ports::new();
    ports
        .sessions
        .expect_find()
        .returning(|_| Ok(Some(session(1, 5, 100))));
    ports
        .sessions
        .expect_end_all()
        .with(
            eq(UserId::new(1)),
            eq(Some(SessionId::new("sid-1"))),
            eq(now()),
            eq(Some(logged_out("others"))),
        )
        .times(1)
        .returning(|_, _, _, _| Ok(vec![ended("s2", true), ended("s3", false)]));
    ports
        .revocations
        .expect_revoke()
        .with(eq(marks(&["s2", "s3"])))
        .times(1)
        .returning(|_| Ok(()));
    ports
        .authentication()
        .logout(&claims(1, TokenKind::Refresh, false), LogoutScope::Others)
        .await
        .unwrap();
}

#[tokio::test]
async fn global_ends_every_session_of_the_user() {
    let mut ports = Ports::new();
    ports
        .sessions
        .expect_find()
        .returning(|_| Ok(Some(session(1, 0, 0))));
    ports
        .sessions
        .expect_end_all()
        .with(
            eq(UserId::new(1)),
            eq(None),
            eq(now()),
            eq(Some(logged_out("global"))),
        )
        .times(1)
        .returning(|_, _, _, _| Ok(vec![ended("sid-1", true), ended("s2", true)]));
    ports
        .revocations
        .expect_revoke()
        .with(eq(marks(&["sid-1", "s2"])))
        .times(1)
        .returning(|_| Ok(()));
    ports
        .authentication()
        .logout(&claims(1, TokenKind::Refresh, false), LogoutScope::Global)
        .await
        .unwrap();
}

#[tokio::test]
async fn others_and_global_need_a_live_session() {
    for scope in [LogoutScope::Others, LogoutScope::Global] {
        let mut ports = Ports::new();
        let mut revoked = session(1, 0, 0);
        revoked.revoked_at = Some(now());
        ports
            .sessions
            .expect_find()
            .returning(move |_| Ok(Some(revoked.clone())));
        ports.sessions.expect_end_all().never();
        // The lost marks of the ended session are written again.
        ports
            .revocations
            .expect_revoke()
            .times(1)
            .returning(|_| Ok(()));
        let error = ports
            .authentication()
            .logout(&claims(1, TokenKind::Refresh, false), scope)
            .await
            .unwrap_err();
        assert!(matches!(error, LogoutError::Token(TokenRejection::Revoked)));
    }
}

/// The session store ended the session and queued its mark in the same
/// transaction: a revocation store outage right after cannot undo the
/// logout, and the mark stays queued for the replay.
#[tokio::test]
async fn a_revocation_store_outage_after_the_session_store_ended_it_leaves_the_mark_queued() {
    let mut ports = Ports::new();
    ports
        .sessions
        .expect_end()
        .times(1)
        .returning(|_, _, _, _| Ok(Some(ended("sid-1", true))));
    ports
        .revocations
        .expect_revoke()
        .returning(|_| Err(RevocationError::Unavailable("timeout".into())));
    ports.marks.expect_forget().never();
    ports
        .authentication()
        .logout(&claims(1, TokenKind::Refresh, false), LogoutScope::Local)
        .await
        .unwrap();
}

#[tokio::test]
async fn logout_needs_a_refresh_token() {
    let ports = Ports::new();
    let error = ports
        .authentication()
        .logout(&claims(1, TokenKind::Access, true), LogoutScope::Local)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        LogoutError::Token(TokenRejection::RefreshRequired)
    ));
}
