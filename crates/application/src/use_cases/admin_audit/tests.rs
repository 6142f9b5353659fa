use chrono::TimeZone;
use domain::{Role, TokenKind};

use super::*;
use crate::ports::{AuditCursor, MockAuditLog, MockUserRepository};
use crate::use_cases::test_support::{claims, user};

fn empty() -> AuditPage {
    AuditPage {
        events: Vec::new(),
        next: None,
    }
}

/// Caller 9 with `role`, over `audit`.
fn trail(role: Role, audit: MockAuditLog) -> AuditTrail {
    let mut users = MockUserRepository::new();
    users
        .expect_find_by_id()
        .returning(move |id| Ok(Some(user(id.get(), role))));
    AuditTrail::new(Arc::new(users), Arc::new(audit))
}

fn admin() -> TokenClaims {
    claims(9, TokenKind::Access, false)
}

#[tokio::test]
async fn an_admin_reads_every_subject_with_the_default_limit() {
    let mut audit = MockAuditLog::new();
    audit
        .expect_query()
        .withf(|query| {
            *query
                == AuditQuery {
                    subject: None,
                    kind: None,
                    since: None,
                    until: None,
                    limit: 50,
                    after: None,
                }
        })
        .times(1)
        .returning(|_| Ok(empty()));
    let page = trail(Role::Admin, audit)
        .search(&admin(), AuditTrailRequest::default())
        .await
        .unwrap();
    assert_eq!(page, empty());
}

#[tokio::test]
async fn every_filter_and_the_cursor_reach_the_query() {
    let since = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let until = Utc.with_ymd_and_hms(2026, 12, 5, 0, 0, 0).unwrap();
    let cursor = AuditCursor {
        at: Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap(),
        id: 42,
    };
    let mut audit = MockAuditLog::new();
    audit
        .expect_query()
        .withf(move |query| {
            *query
                == AuditQuery {
                    subject: Some(UserId::new(3)),
                    kind: Some(AuditEventKind::PasswordChanged),
                    since: Some(since),
                    until: Some(until),
                    limit: 2,
                    after: Some(cursor),
                }
        })
        .times(1)
        .returning(|_| Ok(empty()));
    trail(Role::Admin, audit)
        .search(
            &admin(),
            AuditTrailRequest {
                user_id: Some(UserId::new(3)),
                kind: Some(AuditEventKind::PasswordChanged),
                since: Some(since),
                until: Some(until),
                limit: Some(2),
                cursor: Some(cursor.encode()),
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_non_admin_is_forbidden_before_any_query() {
    let mut audit = MockAuditLog::new();
    audit.expect_query().never();
    let error = trail(Role::User, audit)
        .search(&admin(), AuditTrailRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(error, AuditTrailError::Forbidden), "{error:?}");
}

#[tokio::test]
async fn a_caller_whose_account_is_gone_is_refused_as_revoked() {
    let mut users = MockUserRepository::new();
    users.expect_find_by_id().returning(|_| Ok(None));
    let mut audit = MockAuditLog::new();
    audit.expect_query().never();
    let error = AuditTrail::new(Arc::new(users), Arc::new(audit))
        .search(&admin(), AuditTrailRequest::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuditTrailError::Token(TokenRejection::Revoked)),
        "{error:?}"
    );
}

#[tokio::test]
async fn limits_out_of_range_and_bad_cursors_are_refused_without_a_query() {
    for limit in [0, 201, u32::MAX] {
        let mut audit = MockAuditLog::new();
        audit.expect_query().never();
        let error = trail(Role::Admin, audit)
            .search(
                &admin(),
                AuditTrailRequest {
                    limit: Some(limit),
                    ..AuditTrailRequest::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(error, AuditTrailError::InvalidLimit), "{limit}");
    }
    let mut audit = MockAuditLog::new();
    audit.expect_query().never();
    let error = trail(Role::Admin, audit)
        .search(
            &admin(),
            AuditTrailRequest {
                cursor: Some("garbage".to_owned()),
                ..AuditTrailRequest::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(error, AuditTrailError::InvalidCursor), "{error:?}");
}
