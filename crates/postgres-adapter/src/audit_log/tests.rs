//! `record_in` inside a caller's transaction (it is crate-private, so
//! these live here rather than in `tests/`).

use chrono::{Duration, TimeZone};
use diesel::sql_types::BigInt;

use super::*;
use crate::connector::Pooler;
use domain::AuditEventKind;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

async fn count(conn: &mut PgConn, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .await
        .expect("a count")
        .count
}

const EVENTS: &str = "SELECT count(*) AS count FROM audit_events";
const FAR_MONTH: &str =
    "SELECT count(*) AS count FROM pg_class WHERE relname = 'audit_events_y2033m05'";

fn event(at: DateTime<Utc>) -> NewAuditEvent {
    NewAuditEvent {
        at,
        kind: AuditEventKind::PasswordChanged,
        actor: Some(UserId::new(5)),
        subject: Some(UserId::new(5)),
        session: None,
        ip: None,
        user_agent: None,
        data: serde_json::json!({}),
    }
}

/// Both a month that exists and one that must be made (the savepoint and
/// retry path), in both pooler modes (a pooler in transaction mode opens
/// transactions its own way).
fn batch() -> Vec<NewAuditEvent> {
    let far = Utc
        .with_ymd_and_hms(2033, 5, 9, 8, 0, 0)
        .single()
        .expect("a date");
    vec![event(Utc::now() - Duration::seconds(1)), event(far)]
}

/// Why the test's transaction ended without committing.
#[derive(Debug)]
enum Stop {
    RolledBack,
    Failed(DieselError),
}

impl From<DieselError> for Stop {
    fn from(error: DieselError) -> Self {
        Self::Failed(error)
    }
}

#[tokio::test]
async fn events_recorded_in_a_transaction_that_rolls_back_are_not_there() {
    for pooler in [Pooler::Session, Pooler::Transaction] {
        let db = test_support::TestDatabase::fresh("pgaudit_").await;
        let settings = PgSettings {
            pooler,
            ..PgSettings::default()
        };
        let pool = crate::connect(&db.url, &settings).expect("a pool");
        let mut conn = pool.get().await.expect("a connection");

        let outcome = conn
            .transaction::<(), Stop, _>(async |conn| {
                record_in(conn, &batch()).await?;
                // Written, and visible within the transaction.
                assert_eq!(count(conn, EVENTS).await, 2);
                Err(Stop::RolledBack)
            })
            .await;
        match outcome {
            Err(Stop::RolledBack) => {}
            Err(Stop::Failed(error)) => panic!("record_in failed: {error}"),
            Ok(()) => panic!("the transaction committed"),
        }
        assert_eq!(count(&mut conn, EVENTS).await, 0, "{pooler:?}");
        // The month made for the event went with it.
        assert_eq!(count(&mut conn, FAR_MONTH).await, 0, "{pooler:?}");

        // The same, committed: the caller's transaction survived the
        // missing month and holds both events.
        conn.transaction::<(), DieselError, _>(async |conn| record_in(conn, &batch()).await)
            .await
            .expect("committed");
        assert_eq!(count(&mut conn, EVENTS).await, 2, "{pooler:?}");
        assert_eq!(count(&mut conn, FAR_MONTH).await, 1, "{pooler:?}");
    }
}

#[tokio::test]
async fn only_a_missing_partition_is_taken_for_one() {
    let db = test_support::TestDatabase::fresh("pgaudit_").await;
    let pool = crate::connect(&db.url, &PgSettings::default()).expect("a pool");
    let mut conn = pool.get().await.expect("a connection");
    let error =
        diesel::sql_query("INSERT INTO audit_events (at, type) VALUES (now(), 'user.nope')")
            .execute(&mut conn)
            .await
            .expect_err("the CHECK refuses it");
    assert!(!is_missing_partition(&error), "{error}");
    let error = diesel::sql_query(
        "INSERT INTO audit_events (at, type) VALUES ('2039-01-01Z', 'user.deleted')",
    )
    .execute(&mut conn)
    .await
    .expect_err("no partition");
    assert!(is_missing_partition(&error), "{error}");
}
