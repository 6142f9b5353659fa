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

/// Login attempts whose limiter answers `Throttled`.
fn throttling(ports: &mut Ports) {
    let mut limiter = crate::ports::MockRateLimiter::new();
    limiter.expect_begin_attempt().returning(|_, _| {
        Ok(crate::ports::AttemptDecision::Throttled {
            retry_after: std::time::Duration::from_secs(60),
        })
    });
    ports.attempts = LoginAttempts::new(
        Arc::new(limiter),
        crate::use_cases::LoginThrottles {
            per_client: crate::rate_limits::ThrottlePolicy::default(),
            per_account: crate::rate_limits::ThrottlePolicy::default(),
        },
    );
}

#[tokio::test]
async fn a_throttled_login_is_audited_as_throttled_for_the_user() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(Some(credentials(1))));
    ports.hasher.expect_verify().never();
    throttling(&mut ports);
    ports.audit = Some(expecting(failed(Some(1), json!({ "reason": "throttled" }))));
    let error = ports
        .authentication()
        .login(request("user1@example.io", "pw"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::Throttled(_)), "{error:?}");
}

#[tokio::test]
async fn a_throttled_unknown_address_is_audited_only_by_its_digest() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_find_credentials()
        .returning(|_| Ok(None));
    throttling(&mut ports);
    ports.audit = Some(expecting(failed(
        None,
        json!({
            "reason": "throttled",
            "email_sha256": address_digest("nobody@example.io"),
        }),
    )));
    let error = ports
        .authentication()
        .login(request("nobody@example.io", "pw"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::Throttled(_)), "{error:?}");
}

#[tokio::test]
async fn an_unverified_login_is_audited_as_unverified_when_the_rule_is_on() {
    let mut ports = Ports::new();
    ports.email_settings.require_verified_email = true;
    ports.users.expect_find_credentials().returning(|_| {
        let mut found = credentials(1);
        found.user.email_verified = false;
        Ok(Some(found))
    });
    ports.hasher.expect_verify().returning(|_, _| Ok(true));
    ports
        .secrets
        .expect_issue()
        .returning(|_, _, _, _| Ok(true));
    ports.outbox.expect_job_committed().return_const(());
    ports.audit = Some(expecting(failed(
        Some(1),
        json!({ "reason": "unverified" }),
    )));
    let error = ports
        .authentication()
        .login(request("user1@example.io", "pw"))
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::EmailNotVerified), "{error:?}");
}
