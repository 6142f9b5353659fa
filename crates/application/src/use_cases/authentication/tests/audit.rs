//! `user.login_failed`: who, why, from where; an unknown address only by
//! its digest; and a log that fails never fails the login.

use domain::{AuditEventKind, address_digest};
use serde_json::json;

use super::*;
use crate::ports::{AuditLogError, MockAuditLog, NewAuditEvent};

/// An audit log that expects exactly `event`, once.
fn expecting(event: NewAuditEvent) -> MockAuditLog {
    let mut audit = MockAuditLog::new();
    audit
        .expect_record()
        .withf(move |events| events == std::slice::from_ref(&event))
        .times(1)
        .returning(|_| Ok(()));
    audit
}

fn failed(user: Option<i64>, data: serde_json::Value) -> NewAuditEvent {
    NewAuditEvent {
        at: now(),
        kind: AuditEventKind::LoginFailed,
        actor: user.map(UserId::new),
        subject: user.map(UserId::new),
        session: None,
        ip: Some("203.0.113.7".parse().unwrap()),
        user_agent: Some("Firefox".to_owned()),
        data,
    }
}

#[tokio::test]
async fn a_wrong_password_is_audited_with_the_user_as_actor_and_subject() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(Some(credentials(1))));
    ports.hasher.expect_verify().returning(|_, _| Ok(false));
    ports.audit = Some(expecting(failed(
        Some(1),
        json!({ "reason": "invalid_credentials" }),
    )));
    let error = ports
        .authentication()
        .login(request("user1@example.io", "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials));
}

#[tokio::test]
async fn an_unknown_address_is_audited_without_subject_and_only_by_its_digest() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(None));
    ports.hasher.expect_verify().returning(|_, _| Ok(false));
    let event = failed(
        None,
        json!({
            "reason": "invalid_credentials",
            "email_sha256": address_digest("nobody@example.io"),
        }),
    );
    assert!(!event.data.to_string().contains("nobody"));
    ports.audit = Some(expecting(event));
    let error = ports
        .authentication()
        .login(request("Nobody@Example.io", "pw"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials));
}

#[tokio::test]
async fn a_failing_audit_log_does_not_fail_the_login_answer() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(Some(credentials(1))));
    ports.hasher.expect_verify().returning(|_, _| Ok(false));
    let mut audit = MockAuditLog::new();
    audit
        .expect_record()
        .times(1)
        .returning(|_| Err(AuditLogError::Unavailable("down".into())));
    ports.audit = Some(audit);
    let error = ports
        .authentication()
        .login(request("user1@example.io", "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials));
}

fn banned(id: i64) -> StoredCredentials {
    StoredCredentials {
        banned_until: Some(now() + chrono::Duration::minutes(5)),
        ..credentials(id)
    }
}

#[tokio::test]
async fn a_banned_account_with_the_right_password_is_refused_and_audited_as_banned() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(Some(banned(1))));
    ports.hasher.expect_verify().returning(|_, _| Ok(true));
    // No session is opened, and no second step: `sessions` and the second
    // factor's store expect nothing.
    ports.audit = Some(expecting(failed(Some(1), json!({ "reason": "banned" }))));
    let error = ports
        .authentication()
        .login(request("user1@example.io", "right"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::Banned), "{error:?}");
}

#[tokio::test]
async fn a_banned_account_with_a_wrong_password_is_the_usual_invalid_credentials() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(Some(banned(1))));
    ports.hasher.expect_verify().returning(|_, _| Ok(false));
    ports.audit = Some(expecting(failed(
        Some(1),
        json!({ "reason": "invalid_credentials" }),
    )));
    let error = ports
        .authentication()
        .login(request("user1@example.io", "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}
