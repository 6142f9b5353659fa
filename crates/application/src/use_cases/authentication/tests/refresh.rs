//! Every branch of refresh-token rotation, against mocked ports.

use super::*;
use crate::ports::{EndedSession, Revocation, SessionStoreError};
use crate::use_cases::test_support::session;

/// A refresh token of session "sid-1" (user 1) at `generation`.
fn refresh_token(generation: u64) -> TokenClaims {
    let mut claims = claims(1, TokenKind::Refresh, false);
    claims.generation = Some(generation);
    claims
}

fn finding(ports: &mut Ports, found: Option<Session>) {
    ports
        .sessions
        .expect_find()
        .with(eq(SessionId::new("sid-1")))
        .returning(move |_| Ok(found.clone()));
}

#[tokio::test]
async fn the_current_token_rotates_the_session_and_returns_the_next_generation() {
    let mut ports = Ports::new().with_readable_tokens();
    finding(&mut ports, Some(session(1, 3, 60)));
    ports
        .sessions
        .expect_rotate()
        .with(
            eq(SessionId::new("sid-1")),
            eq(3),
            // now + refresh lifetime: the session's 90-day cap is far off.
            eq(now() + Duration::seconds(2_592_000)),
            eq(now()),
        )
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    let tokens = ports
        .authentication()
        .refresh(&refresh_token(3))
        .await
        .unwrap();
    assert_eq!(tokens.access_token, "access:false:sid-1:300:-");
    assert_eq!(
        tokens.refresh_token.as_deref(),
        Some("refresh:false:sid-1:2592000:4")
    );
    assert_eq!(tokens.expires_in, 300);
}

#[tokio::test]
async fn rotation_never_takes_a_session_past_its_maximum_lifetime() {
    let mut ports = Ports::new().with_readable_tokens();
    ports.settings.max_lifetime = Duration::hours(1) + Duration::seconds(50);
    finding(&mut ports, Some(session(1, 0, 0)));
    ports
        .sessions
        .expect_rotate()
        .withf(|_, from, expires_at, _| *from == 0 && *expires_at == now() + Duration::seconds(50))
        .returning(|_, _, _, _| Ok(true));
    let tokens = ports
        .authentication()
        .refresh(&refresh_token(0))
        .await
        .unwrap();
    assert_eq!(
        tokens.refresh_token.as_deref(),
        Some("refresh:false:sid-1:50:1")
    );
}

#[tokio::test]
async fn the_previous_token_within_the_interval_gets_the_current_generation() {
    let mut ports = Ports::new().with_readable_tokens();
    finding(&mut ports, Some(session(1, 3, 4)));
    ports.sessions.expect_rotate().never();
    ports
        .sessions
        .expect_touch()
        .with(eq(SessionId::new("sid-1")), eq(now()))
        .times(1)
        .returning(|_, _| Ok(()));
    let tokens = ports
        .authentication()
        .refresh(&refresh_token(2))
        .await
        .unwrap();
    // The current generation, ending when the session's current token ends.
    assert_eq!(
        tokens.refresh_token.as_deref(),
        Some("refresh:false:sid-1:1000:3")
    );
}

/// Expects the whole session to be ended and marked, then `Reused`.
async fn assert_reuse_revokes(presented: u64, rotated_secs_ago: i64) {
    let mut ports = Ports::new();
    finding(&mut ports, Some(session(1, 3, rotated_secs_ago)));
    ports.sessions.expect_rotate().never();
    ports.tokens.expect_encode().never();
    ports
        .sessions
        .expect_end()
        .withf(move |id, user, at, audit| {
            *id == SessionId::new("sid-1")
                && *user == UserId::new(1)
                && *at == now()
                && *audit
                    == Some(crate::ports::NewAuditEvent {
                        at: now(),
                        kind: domain::AuditEventKind::SessionReuseDetected,
                        actor: None,
                        subject: Some(UserId::new(1)),
                        session: Some(SessionId::new("sid-1")),
                        ip: None,
                        user_agent: None,
                        data: serde_json::json!({
                            "presented_generation": presented,
                            "current_generation": 3,
                        }),
                    })
        })
        .times(1)
        .returning(|id, _, _, _| {
            Ok(Some(EndedSession {
                id,
                expires_at: now() + Duration::seconds(1_000),
                was_live: true,
            }))
        });
    ports
        .revocations
        .expect_revoke()
        .with(eq(vec![Revocation::Session {
            id: SessionId::new("sid-1"),
            user: UserId::new(1),
            ttl_secs: 301,
        }]))
        .times(1)
        .returning(|_| Ok(()));
    let error = ports
        .authentication()
        .refresh(&refresh_token(presented))
        .await
        .unwrap_err();
    assert!(matches!(error, RefreshError::Reused), "{error:?}");
}

#[tokio::test]
async fn the_previous_token_after_the_interval_revokes_the_session() {
    assert_reuse_revokes(2, 11).await;
}

#[tokio::test]
async fn an_older_token_revokes_the_session_even_at_once() {
    assert_reuse_revokes(1, 0).await;
    assert_reuse_revokes(0, 0).await;
}

#[tokio::test]
async fn a_revoked_session_is_refused_and_its_lost_marks_rewritten() {
    let mut ports = Ports::new();
    let mut revoked = session(1, 3, 60);
    revoked.revoked_at = Some(now() - Duration::seconds(5));
    finding(&mut ports, Some(revoked));
    ports.sessions.expect_end().never();
    ports.tokens.expect_encode().never();
    ports
        .revocations
        .expect_revoke()
        .with(eq(vec![Revocation::Session {
            id: SessionId::new("sid-1"),
            user: UserId::new(1),
            ttl_secs: 301,
        }]))
        .times(1)
        .returning(|_| Ok(()));
    let error = ports
        .authentication()
        .refresh(&refresh_token(3))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        RefreshError::Token(TokenRejection::Revoked)
    ));
}

#[tokio::test]
async fn an_expired_session_is_expired() {
    let mut ports = Ports::new();
    let mut idle = session(1, 3, 60);
    idle.expires_at = now();
    finding(&mut ports, Some(idle));
    ports.tokens.expect_encode().never();
    let error = ports
        .authentication()
        .refresh(&refresh_token(3))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        RefreshError::Token(TokenRejection::Expired)
    ));
}

#[tokio::test]
async fn a_session_past_its_maximum_lifetime_is_expired() {
    let mut ports = Ports::new();
    ports.settings.max_lifetime = Duration::hours(1);
    finding(&mut ports, Some(session(1, 3, 60)));
    ports.sessions.expect_rotate().never();
    let error = ports
        .authentication()
        .refresh(&refresh_token(3))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        RefreshError::Token(TokenRejection::Expired)
    ));
}

#[tokio::test]
async fn losing_a_rotation_race_replays_the_winners_generation() {
    let mut ports = Ports::new().with_readable_tokens();
    let mut reads = 0;
    ports.sessions.expect_find().times(2).returning(move |_| {
        reads += 1;
        // First read: generation 3; the winner has moved it to 4 since.
        Ok(Some(if reads == 1 {
            session(1, 3, 60)
        } else {
            session(1, 4, 0)
        }))
    });
    ports
        .sessions
        .expect_rotate()
        .times(1)
        .returning(|_, _, _, _| Ok(false));
    ports.sessions.expect_touch().returning(|_, _| Ok(()));
    let tokens = ports
        .authentication()
        .refresh(&refresh_token(3))
        .await
        .unwrap();
    assert_eq!(
        tokens.refresh_token.as_deref(),
        Some("refresh:false:sid-1:1000:4")
    );
}

#[tokio::test]
async fn without_rotation_a_refresh_returns_only_an_access_token() {
    let mut ports = Ports::new().with_readable_tokens();
    ports.settings.rotation = false;
    finding(&mut ports, Some(session(1, 0, 0)));
    ports.sessions.expect_rotate().never();
    ports
        .sessions
        .expect_touch()
        .times(1)
        .returning(|_, _| Ok(()));
    let tokens = ports
        .authentication()
        .refresh(&refresh_token(0))
        .await
        .unwrap();
    assert_eq!(tokens.access_token, "access:false:sid-1:300:-");
    assert_eq!(tokens.refresh_token, None);
}

#[tokio::test]
async fn a_session_that_is_gone_or_someone_elses_is_revoked() {
    for found in [None, Some(session(2, 0, 0))] {
        let mut ports = Ports::new();
        finding(&mut ports, found);
        ports.tokens.expect_encode().never();
        let error = ports
            .authentication()
            .refresh(&refresh_token(0))
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            RefreshError::Token(TokenRejection::Revoked)
        ));
    }
}

#[tokio::test]
async fn a_session_store_outage_rotates_and_revokes_nothing() {
    let mut ports = Ports::new();
    ports
        .sessions
        .expect_find()
        .returning(|_| Err(SessionStoreError::Unavailable("timeout".into())));
    ports.sessions.expect_rotate().never();
    ports.sessions.expect_end().never();
    ports.revocations.expect_revoke().never();
    let error = ports
        .authentication()
        .refresh(&refresh_token(0))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        RefreshError::Dependency(DependencyError::Unavailable(Dependency::SessionStore, _))
    ));
}

#[tokio::test]
async fn a_refresh_token_without_a_generation_is_invalid() {
    let ports = Ports::new();
    let mut token = refresh_token(0);
    token.generation = None;
    let error = ports.authentication().refresh(&token).await.unwrap_err();
    assert!(matches!(
        error,
        RefreshError::Token(TokenRejection::Invalid)
    ));
}
