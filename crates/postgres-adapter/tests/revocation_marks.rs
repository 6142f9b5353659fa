#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! `PgRevocationMarkQueue` against a real PostgreSQL: ending sessions and
//! deleting a user queue their marks in the same transaction; the replay
//! leases, releases and forgets them.
mod support;

use std::time::Duration as StdDuration;

use application::ports::{
    EmailOutbox, NewSession, QueuedMark, RevocationMarkQueue, SessionEpoch, SessionRepository,
    UserRepository,
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use domain::{ClientDevice, SessionId, User};
use postgres_adapter::{
    PgEmailOutbox, PgRevocationMarkQueue, PgSessionRepository, PgUserRepository,
};
use support::*;
use uuid::Uuid;

struct Fixture {
    _db: TestDatabase,
    users: PgUserRepository,
    sessions: PgSessionRepository,
    marks: PgRevocationMarkQueue,
    outbox: PgEmailOutbox,
}

async fn fixture() -> Fixture {
    let db = fresh_database().await;
    let pool = pool(&db.url);
    Fixture {
        users: PgUserRepository::new(pool.clone(), settings()),
        sessions: PgSessionRepository::new(pool.clone(), settings()),
        marks: PgRevocationMarkQueue::new(pool.clone(), settings()),
        outbox: PgEmailOutbox::new(pool, settings()),
        _db: db,
    }
}

/// PostgreSQL keeps microseconds.
fn now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::microseconds(1))
        .unwrap()
}

const LEASE: StdDuration = StdDuration::from_secs(60);

async fn user(f: &Fixture, name: &str) -> User {
    let email = format!("{name}@example.io");
    let user = f
        .users
        .create(
            new_user(name, &email),
            verification(),
            welcome(&email),
            registered(),
        )
        .await
        .unwrap();
    let _ = f.outbox.lease(100, LEASE).await.unwrap();
    user
}

async fn session(f: &Fixture, user: &User) -> (SessionId, DateTime<Utc>) {
    let id = SessionId::new(Uuid::new_v4().simple().to_string());
    let expires_at = now() + Duration::seconds(1_000);
    f.sessions
        .open(
            NewSession {
                id: id.clone(),
                user_id: user.id,
                created_at: now(),
                expires_at,
                device: ClientDevice::new(None, None),
                device_token: domain::token_digest(id.as_str()),
                live_limit: 100,
                methods: domain::AuthMethods::Password,
                audit: login_event(user.id, now()),
            },
            SessionEpoch(0),
            None,
        )
        .await
        .unwrap();
    (id, expires_at)
}

#[tokio::test]
async fn ending_sessions_queues_their_marks_until_forgotten() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let (one, one_expires) = session(&f, &ada).await;
    let (two, two_expires) = session(&f, &ada).await;

    let ended_at = now();
    f.sessions
        .end(one.clone(), ada.id, ended_at, None)
        .await
        .unwrap();
    f.sessions
        .end_all(ada.id, None, ended_at, None)
        .await
        .unwrap();

    let mut leased = f.marks.lease(10, LEASE).await.unwrap();
    leased.sort_by_key(|mark| format!("{mark:?}"));
    let mut expected = vec![
        QueuedMark::Session {
            id: one,
            user: ada.id,
            expires_at: one_expires,
            ended_at,
        },
        QueuedMark::Session {
            id: two,
            user: ada.id,
            expires_at: two_expires,
            ended_at,
        },
    ];
    expected.sort_by_key(|mark| format!("{mark:?}"));
    assert_eq!(leased, expected, "one mark per session, queued once");
    assert!(
        f.marks.lease(10, LEASE).await.unwrap().is_empty(),
        "a leased mark is hidden from other instances"
    );

    f.marks.release(vec![expected[0].clone()]).await.unwrap();
    assert_eq!(
        f.marks.lease(10, LEASE).await.unwrap(),
        vec![expected[0].clone()],
        "a released mark is offered again at once"
    );

    f.marks.forget(expected).await.unwrap();
    f.marks.release(leased).await.unwrap();
    assert!(f.marks.lease(10, LEASE).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_mark_queued_again_later_survives_forgetting_the_earlier_one() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let (id, expires_at) = session(&f, &ada).await;
    let first = now();
    let earlier = f
        .sessions
        .end(id.clone(), ada.id, first, None)
        .await
        .unwrap();
    assert!(earlier.is_some());
    // Ended again (a second logout of it): its mark is queued again.
    let later = first + Duration::seconds(5);
    f.sessions
        .end(id.clone(), ada.id, later, None)
        .await
        .unwrap();

    // The request that ended it first wrote its mark and forgets it.
    f.marks
        .forget(vec![QueuedMark::Session {
            id: id.clone(),
            user: ada.id,
            expires_at,
            ended_at: first,
        }])
        .await
        .unwrap();
    assert_eq!(
        f.marks.lease(10, LEASE).await.unwrap(),
        vec![QueuedMark::Session {
            id,
            user: ada.id,
            expires_at,
            ended_at: later,
        }]
    );
}

#[tokio::test]
async fn deleting_a_user_queues_its_mark_and_a_missing_user_queues_none() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let _ = session(&f, &ada).await;
    let at = now();
    assert!(f.users.delete(ada.id, at, deleted(ada.id)).await.unwrap());
    assert!(!f.users.delete(ada.id, at, deleted(ada.id)).await.unwrap());
    assert_eq!(
        f.marks.lease(10, LEASE).await.unwrap(),
        vec![QueuedMark::User {
            id: ada.id,
            ended_at: at
        }]
    );
}

/// A session's mark is stored under its user, read from the session's
/// row; once the user is deleted (its own mark covers every token) a
/// pending session mark leaves the queue.
#[tokio::test]
async fn a_session_mark_whose_session_is_gone_leaves_the_queue() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let (id, _) = session(&f, &ada).await;
    let at = now();
    f.sessions.end(id, ada.id, at, None).await.unwrap();
    assert!(f.users.delete(ada.id, at, deleted(ada.id)).await.unwrap());
    let user_mark = vec![QueuedMark::User {
        id: ada.id,
        ended_at: at,
    }];
    assert_eq!(f.marks.lease(10, LEASE).await.unwrap(), user_mark);
    // Handed back, the user's mark is all the queue holds.
    f.marks.release(user_mark.clone()).await.unwrap();
    assert_eq!(f.marks.lease(10, LEASE).await.unwrap(), user_mark);
}

#[tokio::test]
async fn lease_takes_the_oldest_first_in_batches() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let start = now();
    let mut ids = Vec::new();
    for offset in [3, 1, 2] {
        let (id, _) = session(&f, &ada).await;
        f.sessions
            .end(id.clone(), ada.id, start + Duration::seconds(offset), None)
            .await
            .unwrap();
        ids.push((offset, id));
    }
    ids.sort_by_key(|(offset, _)| *offset);
    let first = f.marks.lease(2, LEASE).await.unwrap();
    let taken: Vec<_> = first
        .iter()
        .map(|mark| match mark {
            QueuedMark::Session { id, .. } => id.clone(),
            QueuedMark::User { .. } => panic!("no user mark here"),
        })
        .collect();
    assert_eq!(taken, vec![ids[0].1.clone(), ids[1].1.clone()]);
    assert_eq!(f.marks.lease(2, LEASE).await.unwrap().len(), 1);
}

/// A session's `user.login_succeeded`, as the application builds it.
fn login_event(
    user: domain::UserId,
    at: chrono::DateTime<chrono::Utc>,
) -> application::ports::NewAuditEvent {
    application::ports::NewAuditEvent::by_user(
        domain::AuditEventKind::LoginSucceeded,
        user,
        None,
        None,
        at,
        serde_json::json!({ "amr": ["pwd"] }),
    )
}
