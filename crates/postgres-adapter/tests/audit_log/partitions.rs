//! The monthly partitions: made ahead, made on demand, dropped whole.

use chrono::Datelike;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;

use super::*;

#[derive(QueryableByName)]
struct Placement {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    events: i64,
}

/// The partitions of `audit_events` (from `pg_inherits`), each with how
/// many events it holds, by name.
async fn partitions(url: &str) -> Vec<(String, i64)> {
    let mut conn = raw_connection(url).await;
    diesel::sql_query(
        "SELECT c.relname::text AS name, \
                (SELECT count(*) FROM audit_events e WHERE e.tableoid = c.oid) AS events \
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'audit_events'::regclass ORDER BY 1",
    )
    .load::<Placement>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|row| (row.name, row.events))
    .collect()
}

fn partition_name(at: DateTime<Utc>) -> String {
    format!("audit_events_y{:04}m{:02}", at.year(), at.month())
}

fn months_after(at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    at.checked_add_months(chrono::Months::new(months)).unwrap()
}

#[tokio::test]
async fn events_of_three_months_land_in_three_partitions() {
    let (db, log) = audit_log().await;
    let this_month = now();
    // The migration made this month and the next two.
    let months = [
        this_month,
        months_after(this_month, 1),
        months_after(this_month, 2),
    ];
    let expected: Vec<_> = months.iter().map(|at| (partition_name(*at), 0)).collect();
    assert_eq!(partitions(&db.url).await, expected);

    let events: Vec<_> = months
        .iter()
        .enumerate()
        .flat_map(|(i, at)| (0..=i).map(|_| event(AuditEventKind::MfaEnabled, Some(3), *at)))
        .collect();
    log.record(events).await.unwrap();
    let expected: Vec<_> = months
        .iter()
        .zip(1..)
        .map(|(at, count)| (partition_name(*at), count))
        .collect();
    assert_eq!(partitions(&db.url).await, expected);
}

#[tokio::test]
async fn prepare_partitions_keeps_two_months_ahead_and_is_idempotent() {
    let (db, log) = audit_log().await;
    let later = utc(2030, 11, 17);
    log.prepare_partitions(later).await.unwrap();
    log.prepare_partitions(later).await.unwrap();
    // Instances starting together race for the same months.
    let (a, b) = tokio::join!(
        log.prepare_partitions(utc(2030, 12, 1)),
        log.prepare_partitions(utc(2030, 12, 31))
    );
    a.unwrap();
    b.unwrap();

    let names: Vec<_> = partitions(&db.url)
        .await
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    for month in ["y2030m11", "y2030m12", "y2031m01", "y2031m02"] {
        let name = format!("audit_events_{month}");
        assert_eq!(names.iter().filter(|n| **n == name).count(), 1, "{name}");
    }
    assert_eq!(names.len(), 3 + 4, "the migration's three and these four");
}

#[tokio::test]
async fn an_event_in_a_month_without_a_partition_gets_one_and_is_recorded() {
    let (db, log) = audit_log().await;
    let far = utc(2035, 7, 4) + Duration::microseconds(5);
    let events = vec![
        event(AuditEventKind::KeysGenerated, None, far),
        event(AuditEventKind::KeysActivated, None, now()),
    ];
    log.record(events.clone()).await.unwrap();

    let page = log.query(everything(10)).await.unwrap();
    assert_eq!(page.events.len(), 2);
    assert_eq!(page.events[0], stored(page.events[0].id, &events[0]));
    let placed = partitions(&db.url).await;
    assert!(
        placed.contains(&("audit_events_y2035m07".to_owned(), 1)),
        "{placed:?}"
    );
    // Only the month needed, not a run of months up to it.
    assert_eq!(placed.len(), 4, "{placed:?}");
}

#[tokio::test]
async fn old_months_are_dropped_whole_with_their_events_and_newer_ones_stay() {
    let (db, log) = audit_log().await;
    let recent = now();
    log.record(vec![
        event(AuditEventKind::UserRegistered, Some(1), utc(2025, 1, 1)),
        event(
            AuditEventKind::UserRegistered,
            Some(2),
            utc(2025, 1, 31) + Duration::hours(23),
        ),
        event(AuditEventKind::UserRegistered, Some(3), utc(2025, 2, 14)),
        event(AuditEventKind::UserRegistered, Some(4), utc(2025, 3, 20)),
        event(AuditEventKind::UserRegistered, Some(5), recent),
    ])
    .await
    .unwrap();

    // A cut-off on a month's first instant: the month before ends there.
    let dropped = log.drop_partitions_before(utc(2025, 2, 1)).await.unwrap();
    assert_eq!(dropped, ["audit_events_y2025m01"]);
    // One within March keeps March whole (an event of 20 March is newer
    // than the cut-off) and drops February.
    let dropped = log
        .drop_partitions_before(utc(2025, 3, 15) + Duration::hours(3))
        .await
        .unwrap();
    assert_eq!(dropped, ["audit_events_y2025m02"]);
    assert!(
        log.drop_partitions_before(utc(2025, 3, 15))
            .await
            .unwrap()
            .is_empty()
    );

    let left: Vec<_> = log
        .query(everything(10))
        .await
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.subject.unwrap().get())
        .collect();
    assert_eq!(left, [5, 4]);
    let names: Vec<_> = partitions(&db.url)
        .await
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert!(names.contains(&"audit_events_y2025m03".to_owned()));
    assert!(names.contains(&partition_name(recent)));
    for gone in ["audit_events_y2025m01", "audit_events_y2025m02"] {
        assert!(!names.iter().any(|name| name == gone), "{gone}");
    }
    // A late event for a dropped month recreates the month rather than
    // failing (the next purge drops it again).
    log.record(vec![event(
        AuditEventKind::UserDeleted,
        Some(1),
        utc(2025, 1, 2),
    )])
    .await
    .unwrap();
}
