use chrono::TimeZone;
use domain::{TokenKind, UserId};

use super::*;
use crate::ports::{AuditLogError, MockAuditLog};
use crate::use_cases::test_support::claims;

fn events(audit: MockAuditLog) -> SecurityEvents {
    SecurityEvents::new(Arc::new(audit))
}

fn empty() -> AuditPage {
    AuditPage {
        events: Vec::new(),
        next: None,
    }
}

#[tokio::test]
async fn the_callers_events_are_asked_for_with_the_default_limit() {
    let mut audit = MockAuditLog::new();
    audit
        .expect_query()
        .withf(|query| {
            *query
                == AuditQuery {
                    subject: Some(UserId::new(7)),
                    kind: None,
                    since: None,
                    until: None,
                    limit: 50,
                    after: None,
                }
        })
        .times(1)
        .returning(|_| Ok(empty()));
    let page = events(audit)
        .list(&claims(7, TokenKind::Access, false), None, None)
        .await
        .unwrap();
    assert_eq!(page, empty());
}

#[tokio::test]
async fn a_cursor_continues_after_its_position_and_keeps_the_subject() {
    let cursor = AuditCursor {
        at: chrono::Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).unwrap(),
        id: 42,
    };
    let mut audit = MockAuditLog::new();
    audit
        .expect_query()
        .withf(move |query| {
            query.after == Some(cursor) && query.limit == 2 && query.subject == Some(UserId::new(7))
        })
        .times(1)
        .returning(|_| Ok(empty()));
    events(audit)
        .list(
            &claims(7, TokenKind::Access, false),
            Some(2),
            Some(&cursor.encode()),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn limits_out_of_range_and_bad_cursors_are_refused_without_a_query() {
    let claims = claims(7, TokenKind::Access, false);
    for limit in [0, 201, u32::MAX] {
        let mut audit = MockAuditLog::new();
        audit.expect_query().never();
        let error = events(audit)
            .list(&claims, Some(limit), None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, SecurityEventsError::InvalidLimit),
            "{limit}"
        );
    }
    let mut audit = MockAuditLog::new();
    audit.expect_query().never();
    let error = events(audit)
        .list(&claims, Some(10), Some("not a cursor"))
        .await
        .unwrap_err();
    assert!(matches!(error, SecurityEventsError::InvalidCursor));
}

#[tokio::test]
async fn an_audit_log_outage_is_unavailable() {
    let mut audit = MockAuditLog::new();
    audit
        .expect_query()
        .returning(|_| Err(AuditLogError::Unavailable("down".into())));
    let error = events(audit)
        .list(&claims(7, TokenKind::Access, false), None, None)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        SecurityEventsError::Dependency(crate::error::DependencyError::Unavailable(
            crate::error::Dependency::AuditLog,
            _
        ))
    ));
}
