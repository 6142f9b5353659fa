#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use application::EmailJob;
use application::ports::{EmailOutbox, UserRepository};
use chrono::{TimeDelta, Utc};
use diesel_async::RunQueryDsl;
use postgres_adapter::{PgEmailOutbox, PgUserRepository};
use support::*;
use uuid::Uuid;

/// A migrated database with `count` registrations, their jobs created one
/// second apart (oldest first).
async fn outbox_with_jobs(count: usize) -> (TestDatabase, PgEmailOutbox, Vec<EmailJob>) {
    let db = fresh_database().await;
    let pool = pool(&db.url);
    let users = PgUserRepository::new(pool.clone(), settings());
    let start = Utc::now() - TimeDelta::hours(1);
    let mut jobs = Vec::new();
    for i in 0..count {
        let email = format!("user{i}@x.io");
        let name = format!("user{i}");
        let job = welcome_at(&email, start + TimeDelta::seconds(i as i64));
        users
            .create(
                new_user(&name, &email),
                verification(),
                job.clone(),
                registered(),
            )
            .await
            .unwrap();
        jobs.push(job);
    }
    (db, PgEmailOutbox::new(pool, settings()), jobs)
}

#[tokio::test(flavor = "multi_thread")]
async fn leases_oldest_first_and_hides_leased_jobs_until_the_lease_ends() {
    let (_db, outbox, jobs) = outbox_with_jobs(3).await;
    let lease = Duration::from_secs(1);

    let first = outbox.lease(2, lease).await.unwrap();
    assert_eq!(first, jobs[..2]);
    let second = outbox.lease(10, lease).await.unwrap();
    assert_eq!(second, jobs[2..]);
    assert!(outbox.lease(10, lease).await.unwrap().is_empty());

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = outbox.lease(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(again, jobs, "every expired lease is taken again");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_leases_never_share_a_job() {
    let (_db, outbox, jobs) = outbox_with_jobs(20).await;
    let outbox = Arc::new(outbox);
    let relays = (0..4).map(|_| {
        let outbox = Arc::clone(&outbox);
        tokio::spawn(async move { outbox.lease(20, Duration::from_secs(30)).await.unwrap() })
    });
    let mut seen = HashSet::new();
    let mut total = 0;
    for relay in relays.collect::<Vec<_>>() {
        for job in relay.await.unwrap() {
            total += 1;
            seen.insert(job.id);
        }
    }
    assert_eq!(total, 20, "each job leased exactly once");
    assert_eq!(seen, jobs.iter().map(|job| job.id).collect::<HashSet<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn released_jobs_can_be_leased_again_at_once() {
    let (_db, outbox, jobs) = outbox_with_jobs(2).await;
    let leased = outbox.lease(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(leased.len(), 2);
    assert!(
        outbox
            .lease(10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );

    outbox.release(vec![jobs[1].id]).await.unwrap();
    outbox.release(Vec::new()).await.unwrap();
    let again = outbox.lease(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(again, vec![jobs[1].clone()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn removed_jobs_are_gone_for_good() {
    let (_db, outbox, jobs) = outbox_with_jobs(3).await;
    let leased = outbox.lease(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(leased.len(), 3);

    outbox
        .remove(vec![jobs[0].id, jobs[2].id, Uuid::new_v4()])
        .await
        .unwrap();
    outbox.remove(Vec::new()).await.unwrap();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let left = outbox.lease(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(left, vec![jobs[1].clone()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_payload_is_skipped_not_fatal() {
    let (db, outbox, jobs) = outbox_with_jobs(2).await;
    let mut conn = raw_connection(&db.url).await;
    diesel::sql_query(
        "INSERT INTO email_outbox (id, payload, created_at) \
         VALUES (gen_random_uuid(), '{\"kind\":\"spam\"}', now() - interval '2 hours')",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    let leased = outbox.lease(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(leased, jobs);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zero_limit_leases_nothing() {
    let (_db, outbox, jobs) = outbox_with_jobs(1).await;
    assert!(
        outbox
            .lease(0, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        outbox.lease(1, Duration::from_secs(30)).await.unwrap(),
        jobs
    );
}
