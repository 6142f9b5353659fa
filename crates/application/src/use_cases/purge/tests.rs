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
            gave_way: false
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
