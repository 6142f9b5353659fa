//! `authenticate_live`: routes that change an account also need the
//! token's session live in the session store, whatever Redis says.

use chrono::Duration;
use domain::{Session, TokenKind, TokenRejection};
use mockall::predicate::eq;

use super::*;
use crate::ports::{Revocation, SessionStoreError};
use crate::use_cases::test_support::session;

/// A token that passes the Redis check.
fn unmarked(fresh: bool) -> Ports {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Access, fresh));
    ports
        .revocations
        .expect_is_revoked()
        .times(1)
        .returning(|_| Ok(false));
    ports
}

fn finding(ports: &mut Ports, found: Option<Session>) {
    ports
        .sessions
        .expect_find()
        .with(eq(domain::SessionId::new("sid-1")))
        .times(1)
        .returning(move |_| Ok(found.clone()));
}

/// The user's TOTP factor: `Some(enabled)`, or none at all.
fn second_factor(ports: &mut Ports, enabled: Option<bool>) {
    ports
        .factor_store
        .expect_totp()
        .with(eq(domain::UserId::new(1)))
        .times(1)
        .returning(move |_| {
            Ok(enabled.map(|enabled| crate::ports::StoredTotp {
                sealed: crate::ports::SealedTotpSecret {
                    key_id: "k".into(),
                    nonce: vec![0; 12],
                    ciphertext: vec![0; 36],
                },
                enabled_at: enabled.then(now),
                last_step: None,
            }))
        });
}

async fn live_check(
    ports: Ports,
    requirement: TokenRequirement,
) -> Result<TokenClaims, AuthenticateError> {
    ports
        .authentication()
        .authenticate_live("t", requirement)
        .await
}

fn assert_revoked(result: Result<TokenClaims, AuthenticateError>) {
    assert!(
        matches!(
            result,
            Err(AuthenticateError::Token(TokenRejection::Revoked))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn accepts_a_token_whose_session_is_live_in_the_session_store() {
    let mut ports = unmarked(true);
    finding(&mut ports, Some(session(1, 0, 0)));
    second_factor(&mut ports, None);
    let claims = live_check(ports, TokenRequirement::FreshAccess)
        .await
        .unwrap();
    assert_eq!(claims.user_id, UserId::new(1));
}

/// The finding: Redis lost (or never got) the marks of a session that a
/// password reset ended. The session store has the last word, and the
/// marks are written again on the way.
#[tokio::test]
async fn refuses_a_session_ended_only_in_the_session_store_and_writes_its_marks_again() {
    let mut ports = unmarked(false);
    let mut ended = session(1, 0, 0);
    ended.revoked_at = Some(now() - Duration::seconds(5));
    finding(&mut ports, Some(ended));
    ports
        .revocations
        .expect_revoke()
        .with(eq(vec![Revocation::Session {
            id: domain::SessionId::new("sid-1"),
            user: domain::UserId::new(1),
            ttl_secs: 301,
        }]))
        .times(1)
        .returning(|_| Ok(()));
    assert_revoked(live_check(ports, TokenRequirement::Access).await);
}

#[tokio::test]
async fn a_failed_rewrite_of_the_marks_still_refuses_the_token() {
    let mut ports = unmarked(false);
    let mut ended = session(1, 0, 0);
    ended.revoked_at = Some(now());
    finding(&mut ports, Some(ended));
    ports
        .revocations
        .expect_revoke()
        .returning(|_| Err(RevocationError::Unavailable("refused".into())));
    assert_revoked(live_check(ports, TokenRequirement::Access).await);
}

#[tokio::test]
async fn refuses_an_expired_session() {
    let mut ports = unmarked(false);
    let mut expired = session(1, 0, 0);
    expired.expires_at = now();
    finding(&mut ports, Some(expired));
    ports.revocations.expect_revoke().never();
    assert_revoked(live_check(ports, TokenRequirement::Access).await);
}

/// Gone with its user, or the `sid` of someone else's session.
#[tokio::test]
async fn refuses_a_missing_session_and_one_of_another_user() {
    for found in [None, Some(session(2, 0, 0))] {
        let mut ports = unmarked(false);
        finding(&mut ports, found);
        ports.revocations.expect_revoke().never();
        assert_revoked(live_check(ports, TokenRequirement::Access).await);
    }
}

#[tokio::test]
async fn a_session_store_outage_is_unavailable_never_accepted() {
    let mut ports = unmarked(false);
    ports
        .sessions
        .expect_find()
        .returning(|_| Err(SessionStoreError::Unavailable("refused".into())));
    let result = live_check(ports, TokenRequirement::Access).await;
    assert!(
        matches!(
            result,
            Err(AuthenticateError::Dependency(DependencyError::Unavailable(
                Dependency::SessionStore,
                _
            )))
        ),
        "{result:?}"
    );
}

/// A token the ordinary check refuses costs no session store read.
#[tokio::test]
async fn the_ordinary_check_decides_first() {
    let mut ports = Ports::new();
    decoding(&mut ports, claims(1, TokenKind::Access, false));
    ports
        .revocations
        .expect_is_revoked()
        .returning(|_| Ok(true));
    ports.sessions.expect_find().never();
    assert_revoked(live_check(ports, TokenRequirement::Access).await);

    let mut ports = unmarked(false);
    ports.sessions.expect_find().never();
    let result = live_check(ports, TokenRequirement::FreshAccess).await;
    assert!(
        matches!(
            result,
            Err(AuthenticateError::Token(TokenRejection::NotFresh))
        ),
        "{result:?}"
    );
}

/// `/protected`, `/users/me` and the like keep their cost: one Redis read,
/// never the session store.
#[tokio::test]
async fn the_ordinary_token_check_never_reads_the_session_store() {
    let mut ports = unmarked(true);
    ports.sessions.expect_find().never();
    ports
        .authentication()
        .authenticate("t", TokenRequirement::FreshAccess)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_aal1_token_of_a_user_with_totp_enabled_needs_the_second_factor() {
    let mut ports = unmarked(true);
    finding(&mut ports, Some(session(1, 0, 0)));
    second_factor(&mut ports, Some(true));
    let result = live_check(ports, TokenRequirement::FreshAccess).await;
    assert!(
        matches!(result, Err(AuthenticateError::SecondFactorRequired)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_pending_enrolment_asks_nothing_more_of_an_aal1_token() {
    let mut ports = unmarked(true);
    finding(&mut ports, Some(session(1, 0, 0)));
    second_factor(&mut ports, Some(false));
    assert!(
        live_check(ports, TokenRequirement::FreshAccess)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_aal2_token_passes_without_reading_the_second_factor() {
    for methods in [
        domain::AuthMethods::PasswordAndTotp,
        domain::AuthMethods::PasswordAndRecoveryCode,
    ] {
        let mut ports = Ports::new();
        let mut aal2 = claims(1, TokenKind::Access, true);
        aal2.methods = methods;
        decoding(&mut ports, aal2);
        ports
            .revocations
            .expect_is_revoked()
            .times(1)
            .returning(|_| Ok(false));
        finding(&mut ports, Some(session(1, 0, 0)));
        // No expectation on the second-factor store: a read would panic.
        let claims = live_check(ports, TokenRequirement::FreshAccess)
            .await
            .unwrap();
        assert_eq!(claims.methods, methods);
    }
}

#[tokio::test]
async fn the_set_up_routes_check_the_session_but_not_the_second_factor() {
    let mut ports = unmarked(true);
    finding(&mut ports, Some(session(1, 0, 0)));
    let claims = ports
        .authentication()
        .authenticate_live_any_level("t", TokenRequirement::FreshAccess)
        .await
        .unwrap();
    assert_eq!(claims.user_id, UserId::new(1));
}
