use std::sync::Mutex;

use mockall::predicate::eq;

use super::*;
use crate::ports::MockDataPurge;
use crate::use_cases::test_support::{clock, now};

fn settings() -> PurgeSettings {
    PurgeSettings {
        batch_size: 10,
        ..PurgeSettings::default()
    }
}

fn purge(store: MockDataPurge) -> Purge {
    Purge::new(Arc::new(store), Arc::new(clock()), settings())
}

#[tokio::test]
async fn deletes_batch_after_batch_until_one_comes_back_short() {
    let mut store = MockDataPurge::new();
    let session_batches = Mutex::new(vec![10, 10, 3].into_iter());
    store
        .expect_purge_batch()
        .with(
            eq(Purgeable::Sessions),
            eq(now() - TimeDelta::days(30)),
            eq(10),
        )
        .times(3)
        .returning(move |_, _, _| {
            Ok(PurgedBatch::Deleted(
                session_batches.lock().unwrap().next().unwrap(),
            ))
        });
    store
        .expect_purge_batch()
        .with(
            eq(Purgeable::OneTimeSecrets),
            eq(now() - TimeDelta::days(7)),
            eq(10),
        )
        .times(1)
        .returning(|_, _, _| Ok(PurgedBatch::Deleted(0)));
    let report = purge(store).purge_once().await.unwrap();
    assert_eq!(
        report,
        PurgeReport {
            sessions: 23,
            secrets: 0,
            gave_way: false,
            audit_months: 0,
        }
    );
}

#[tokio::test]
async fn gives_way_to_a_purge_running_elsewhere() {
    let mut store = MockDataPurge::new();
    let batches = Mutex::new(vec![PurgedBatch::Deleted(10), PurgedBatch::Busy].into_iter());
    store
        .expect_purge_batch()
        .with(
            eq(Purgeable::Sessions),
            mockall::predicate::always(),
            eq(10),
        )
        .times(2)
        .returning(move |_, _, _| Ok(batches.lock().unwrap().next().unwrap()));
    // The secrets are left to the other purge too.
    store
        .expect_purge_batch()
        .with(
            eq(Purgeable::OneTimeSecrets),
            mockall::predicate::always(),
            mockall::predicate::always(),
        )
        .never();
    let report = purge(store).purge_once().await.unwrap();
    assert!(report.gave_way);
    assert_eq!(report.sessions, 10);
}

#[tokio::test]
async fn a_store_failure_is_returned() {
    let mut store = MockDataPurge::new();
    store
        .expect_purge_batch()
        .returning(|_, _, _| Err(PurgeStoreError::Unavailable("refused".into())));
    let result = purge(store).purge_once().await;
    assert!(matches!(result, Err(PurgeStoreError::Unavailable(_))));
}

fn quiet_store() -> MockDataPurge {
    let mut store = MockDataPurge::new();
    store
        .expect_purge_batch()
        .returning(|_, _, _| Ok(PurgedBatch::Deleted(0)));
    store
}

#[tokio::test]
async fn the_audit_log_gets_its_coming_months_and_loses_those_past_its_retention() {
    let mut audit = crate::ports::MockAuditLog::new();
    audit
        .expect_prepare_partitions()
        .with(eq(now()))
        .times(1)
        .returning(|_| Ok(()));
    audit
        .expect_drop_partitions_before()
        .with(eq(now() - TimeDelta::days(365)))
        .times(1)
        .returning(|_| {
            Ok(vec![
                "audit_events_y2025m01".to_owned(),
                "audit_events_y2025m02".to_owned(),
            ])
        });
    let report = purge(quiet_store())
        .with_audit_log(Arc::new(audit))
        .purge_once()
        .await
        .unwrap();
    assert_eq!(report.audit_months, 2);
}

#[tokio::test]
async fn an_audit_log_that_fails_does_not_fail_the_purge() {
    let mut audit = crate::ports::MockAuditLog::new();
    audit
        .expect_prepare_partitions()
        .times(1)
        .returning(|_| Err(crate::ports::AuditLogError::Unavailable("down".into())));
    audit
        .expect_drop_partitions_before()
        .times(1)
        .returning(|_| Err(crate::ports::AuditLogError::Unavailable("down".into())));
    let mut settings = settings();
    settings.audit_retention = TimeDelta::days(30);
    let report = Purge::new(Arc::new(quiet_store()), Arc::new(clock()), settings)
        .with_audit_log(Arc::new(audit))
        .purge_once()
        .await
        .unwrap();
    assert_eq!(report.audit_months, 0);
}
