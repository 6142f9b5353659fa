#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! `PgAuditLog` against a real PostgreSQL: events round-trip, pages visit
//! every event once newest first, filters narrow, and the monthly
//! partitions are made ahead, made on demand and dropped whole.
#[path = "../support/mod.rs"]
mod support;

mod partitions;
mod queries;

use application::ports::{AuditCursor, AuditEvent, AuditLog, AuditQuery, NewAuditEvent};
use chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use domain::{AuditEventKind, SessionId, UserId};
use postgres_adapter::PgAuditLog;
use serde_json::json;
use support::*;

async fn audit_log() -> (TestDatabase, PgAuditLog) {
    let db = fresh_database().await;
    let log = PgAuditLog::new(pool(&db.url), settings());
    (db, log)
}

/// PostgreSQL keeps microseconds.
fn now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::microseconds(1))
        .unwrap()
}

fn utc(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn event(kind: AuditEventKind, subject: Option<i64>, at: DateTime<Utc>) -> NewAuditEvent {
    NewAuditEvent {
        at,
        kind,
        actor: subject.map(UserId::new),
        subject: subject.map(UserId::new),
        session: None,
        ip: None,
        user_agent: None,
        data: json!({}),
    }
}

fn everything(limit: u32) -> AuditQuery {
    AuditQuery {
        subject: None,
        kind: None,
        since: None,
        until: None,
        limit,
        after: None,
    }
}

/// The event as stored, for comparing with what a query reads.
fn stored(id: i64, event: &NewAuditEvent) -> AuditEvent {
    AuditEvent {
        id,
        at: event.at,
        kind: event.kind,
        actor: event.actor,
        subject: event.subject,
        session: event.session.clone(),
        ip: event.ip,
        user_agent: event.user_agent.clone(),
        data: event.data.clone(),
    }
}

/// Every page of `query`, following the cursor through its text form as a
/// client would.
async fn all_pages(log: &PgAuditLog, mut query: AuditQuery) -> Vec<Vec<AuditEvent>> {
    let mut pages = Vec::new();
    loop {
        let page = log.query(query.clone()).await.unwrap();
        pages.push(page.events);
        match page.next {
            Some(cursor) => query.after = Some(AuditCursor::decode(&cursor.encode()).unwrap()),
            None => return pages,
        }
        assert!(pages.len() < 100, "the pages never end");
    }
}
