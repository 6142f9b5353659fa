#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! What keeps the tables bounded, against a real PostgreSQL: the purge
//! (what it deletes and keeps, its batches, its lock), the cap on a
//! user's live sessions, logging out everywhere touching live rows only,
//! and the plans of the statements that must stay cheap on large tables.
mod support;

use std::sync::Arc;

use application::ports::{
    DataPurge, NewSession, OpenedSession, Purgeable, PurgedBatch, SessionEpoch, SessionRepository,
    SystemClock, UserRepository,
};
use application::{Purge, PurgeReport, PurgeSettings};
use chrono::{DateTime, Duration, DurationRound, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::{ClientDevice, SessionId, User};
use postgres_adapter::{PURGE_LOCK_KEY, PgDataPurge, PgSessionRepository, PgUserRepository};
use support::*;
use uuid::Uuid;

struct Fixture {
    db: TestDatabase,
    users: PgUserRepository,
    sessions: Arc<PgSessionRepository>,
    purge: Arc<PgDataPurge>,
}

async fn fixture() -> Fixture {
    let db = fresh_database().await;
    let pool = pool(&db.url);
    Fixture {
        users: PgUserRepository::new(pool.clone(), settings()),
        sessions: Arc::new(PgSessionRepository::new(pool.clone(), settings())),
        purge: Arc::new(PgDataPurge::new(pool, settings())),
        db,
    }
}

/// PostgreSQL keeps microseconds.
fn now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::microseconds(1))
        .unwrap()
}

async fn user(f: &Fixture, name: &str) -> User {
    let email = format!("{name}@example.io");
    f.users
        .create(
            new_user(name, &email),
            verification(),
            welcome(&email),
            registered(),
        )
        .await
        .unwrap()
}

fn new_session(user: &User, at: DateTime<Utc>, live_limit: u32) -> NewSession {
    let mut digest = [0; 32];
    digest[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    NewSession {
        id: SessionId::new(Uuid::new_v4().simple().to_string()),
        user_id: user.id,
        created_at: at,
        expires_at: at + Duration::days(30),
        device: ClientDevice::new(None, Some("test")),
        device_token: digest,
        live_limit,
        methods: domain::AuthMethods::Password,
        audit: login_event(user.id, at),
    }
}

/// A session's `user.login_succeeded`, as the application builds it.
fn login_event(user: domain::UserId, at: DateTime<Utc>) -> application::ports::NewAuditEvent {
    application::ports::NewAuditEvent::by_user(
        domain::AuditEventKind::LoginSucceeded,
        user,
        None,
        None,
        at,
        serde_json::json!({ "amr": ["pwd"] }),
    )
}

/// Opens a session; returns it and the sessions the cap ended.
async fn login(
    f: &Fixture,
    user: &User,
    at: DateTime<Utc>,
    limit: u32,
) -> (SessionId, Vec<SessionId>) {
    let new = new_session(user, at, limit);
    let id = new.id.clone();
    match f.sessions.open(new, SessionEpoch(0), None).await.unwrap() {
        OpenedSession::Opened { ended, .. } => {
            (id, ended.into_iter().map(|session| session.id).collect())
        }
        OpenedSession::AccountChanged => panic!("the account did not change"),
    }
}

/// Inserts a session row as it would be after its life: `expires_at` and
/// `revoked_at` as given.
async fn session_row(
    conn: &mut AsyncPgConnection,
    user: &User,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
) -> String {
    let id = Uuid::new_v4().simple().to_string();
    diesel::sql_query(
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at) \
         VALUES ($1, $2, $3 - interval '60 days', $3 - interval '60 days', $3, $4)",
    )
    .bind::<Text, _>(&id)
    .bind::<BigInt, _>(user.id.get())
    .bind::<Timestamptz, _>(expires_at)
    .bind::<diesel::sql_types::Nullable<Timestamptz>, _>(revoked_at)
    .execute(conn)
    .await
    .unwrap();
    id
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Text)]
    id: String,
}

async fn session_ids(conn: &mut AsyncPgConnection) -> Vec<String> {
    let mut ids: Vec<String> = diesel::sql_query("SELECT id FROM sessions")
        .load::<Id>(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.id)
        .collect();
    ids.sort();
    ids
}

fn purge_use_case(f: &Fixture) -> Purge {
    Purge::new(
        f.purge.clone(),
        Arc::new(SystemClock),
        PurgeSettings::default(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_purge_deletes_what_ended_before_the_retention_and_keeps_the_rest() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let grace = user(&f, "grace").await;
    let mut conn = raw_connection(&f.db.url).await;
    let now = now();
    let days = Duration::days;

    let expired_long_ago = session_row(&mut conn, &ada, now - days(31), None).await;
    let revoked_long_ago = session_row(&mut conn, &ada, now + days(10), Some(now - days(31))).await;
    let mut kept = vec![
        session_row(&mut conn, &ada, now + days(10), None).await,
        session_row(&mut conn, &ada, now - days(29), None).await,
        // Revoked recently, though created long ago.
        session_row(&mut conn, &ada, now + days(10), Some(now - days(29))).await,
    ];
    kept.sort();

    // One-time secrets: ada's used long ago, grace's expired long ago, and
    // two recent ones.
    for (user, purpose, expires, used) in [
        (&ada, "verify_email", now - days(1), Some(now - days(8))),
        (&grace, "verify_email", now - days(8), None),
        (&ada, "reset_password", now - days(6), None),
        (&grace, "reset_password", now + days(1), Some(now - days(6))),
    ] {
        diesel::sql_query(
            "INSERT INTO one_time_secrets \
             (purpose, user_id, token_hash, code_hash, created_at, expires_at, used_at) \
             VALUES ($1, $2, $3, $3, $4 - interval '1 day', $4, $5) \
             ON CONFLICT (purpose, user_id) DO UPDATE SET \
             expires_at = EXCLUDED.expires_at, used_at = EXCLUDED.used_at",
        )
        .bind::<Text, _>(purpose)
        .bind::<BigInt, _>(user.id.get())
        .bind::<diesel::sql_types::Bytea, _>(Uuid::new_v4().as_bytes().to_vec())
        .bind::<Timestamptz, _>(expires)
        .bind::<diesel::sql_types::Nullable<Timestamptz>, _>(used)
        .execute(&mut conn)
        .await
        .unwrap();
    }

    let report = purge_use_case(&f).purge_once().await.unwrap();

    assert_eq!(
        report,
        PurgeReport {
            sessions: 2,
            secrets: 2,
            gave_way: false,
            audit_months: 0,
        }
    );
    let left = session_ids(&mut conn).await;
    assert_eq!(left, kept);
    assert!(!left.contains(&expired_long_ago) && !left.contains(&revoked_long_ago));
    #[derive(QueryableByName)]
    struct Secret {
        #[diesel(sql_type = Text)]
        purpose: String,
        #[diesel(sql_type = BigInt)]
        user_id: i64,
    }
    let mut secrets: Vec<(String, i64)> =
        diesel::sql_query("SELECT purpose, user_id FROM one_time_secrets")
            .load::<Secret>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.purpose, row.user_id))
            .collect();
    secrets.sort();
    assert_eq!(
        secrets,
        vec![
            ("reset_password".to_owned(), ada.id.get()),
            ("reset_password".to_owned(), grace.id.get()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_purge_deletes_in_batches_of_the_size_asked() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let mut conn = raw_connection(&f.db.url).await;
    let long_ago = now() - Duration::days(40);
    diesel::sql_query(
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at) \
         SELECT md5(n::text), $1, $2, $2, $2 + (n % 2) * interval '90 days', \
                CASE WHEN n % 2 = 1 THEN $2 END \
         FROM generate_series(1, 2500) AS n",
    )
    .bind::<BigInt, _>(ada.id.get())
    .bind::<Timestamptz, _>(long_ago)
    .execute(&mut conn)
    .await
    .unwrap();

    let before = now() - Duration::days(30);
    let mut batches = Vec::new();
    loop {
        let batch = f
            .purge
            .purge_batch(Purgeable::Sessions, before, 1_000)
            .await
            .unwrap();
        batches.push(batch);
        if batch != PurgedBatch::Deleted(1_000) {
            break;
        }
    }
    assert_eq!(
        batches,
        [
            PurgedBatch::Deleted(1_000),
            PurgedBatch::Deleted(1_000),
            PurgedBatch::Deleted(500)
        ]
    );
    assert!(session_ids(&mut conn).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_purge_gives_way_while_another_holds_the_lock_and_nothing_is_left_locked() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let mut conn = raw_connection(&f.db.url).await;
    let old = session_row(&mut conn, &ada, now() - Duration::days(40), None).await;

    // Another instance in the middle of a batch.
    let mut other = raw_connection(&f.db.url).await;
    let purge = purge_use_case(&f);
    other
        .transaction::<_, diesel::result::Error, _>(async |other| {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<BigInt, _>(PURGE_LOCK_KEY)
                .execute(other)
                .await?;
            let report = purge.purge_once().await.unwrap();
            assert_eq!(
                report,
                PurgeReport {
                    sessions: 0,
                    secrets: 0,
                    gave_way: true,
                    audit_months: 0,
                }
            );
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(session_ids(&mut conn).await, vec![old.clone()]);

    // An instance that stops in the middle of a batch (its connection is
    // gone, its transaction never ended) leaves no lock behind once the
    // server has closed its session.
    let mut dying = raw_connection(&f.db.url).await;
    diesel::sql_query("BEGIN")
        .execute(&mut dying)
        .await
        .unwrap();
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(PURGE_LOCK_KEY)
        .execute(&mut dying)
        .await
        .unwrap();
    drop(dying);
    let mut report = purge.purge_once().await.unwrap();
    while report.gave_way {
        // The server notices the closed connection on its own schedule.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        report = purge.purge_once().await.unwrap();
    }
    assert_eq!(report.sessions, 1);
    assert!(session_ids(&mut conn).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_over_the_cap_ends_the_least_recently_used_session() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let start = now() - Duration::minutes(10);
    let (first, _) = login(&f, &ada, start, 3).await;
    let (second, _) = login(&f, &ada, start + Duration::minutes(1), 3).await;
    let (third, _) = login(&f, &ada, start + Duration::minutes(2), 3).await;
    // A refresh is a use: the first is now the most recently used.
    f.sessions
        .touch(first.clone(), start + Duration::minutes(3))
        .await
        .unwrap();

    let at = start + Duration::minutes(4);
    let (fourth, ended) = login(&f, &ada, at, 3).await;

    assert_eq!(ended, vec![second.clone()]);
    let mut live: Vec<_> = f
        .sessions
        .list_live(ada.id, now())
        .await
        .unwrap()
        .into_iter()
        .map(|session| session.id)
        .collect();
    live.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let mut expected = vec![first, third, fourth];
    expected.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(live, expected);
    let ended = f.sessions.find(second.clone()).await.unwrap().unwrap();
    assert_eq!(ended.revoked_at, Some(at));
    // Its revocation mark is queued with it, as for a logout.
    #[derive(QueryableByName)]
    struct Subject {
        #[diesel(sql_type = Text)]
        subject: String,
    }
    let mut conn = raw_connection(&f.db.url).await;
    let queued: Vec<String> =
        diesel::sql_query("SELECT subject FROM pending_revocation_marks WHERE kind = 'session'")
            .load::<Subject>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.subject)
            .collect();
    assert_eq!(queued, vec![second.as_str().to_owned()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_logins_never_leave_more_live_sessions_than_the_cap() {
    let f = fixture().await;
    let ada = Arc::new(user(&f, "ada").await);
    let f = Arc::new(f);
    let logins = (0..24).map(|n| {
        let f = f.clone();
        let ada = ada.clone();
        tokio::spawn(async move { login(&f, &ada, now() + Duration::milliseconds(n), 5).await })
    });
    let mut opened = 0;
    let mut ended = 0;
    for login in logins {
        let (_, cut) = login.await.unwrap();
        opened += 1;
        ended += cut.len();
    }
    let live = f.sessions.list_live(ada.id, now()).await.unwrap().len();
    assert_eq!(live, 5);
    assert_eq!(
        opened - ended,
        5,
        "every session beyond the cap was ended once"
    );
}

#[derive(QueryableByName)]
struct RowVersion {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    version: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Timestamptz>)]
    revoked_at: Option<DateTime<Utc>>,
}

async fn row_versions(conn: &mut AsyncPgConnection) -> Vec<RowVersion> {
    diesel::sql_query("SELECT id, ctid::text || '/' || xmin::text AS version, revoked_at FROM sessions ORDER BY id")
        .load::<RowVersion>(conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn logging_out_everywhere_touches_only_live_sessions() {
    let f = fixture().await;
    let ada = user(&f, "ada").await;
    let mut conn = raw_connection(&f.db.url).await;
    let earlier = now() - Duration::hours(1);
    let ended_before = session_row(&mut conn, &ada, now() + Duration::days(5), Some(earlier)).await;
    let (live_a, _) = login(&f, &ada, now(), 100).await;
    let (live_b, _) = login(&f, &ada, now(), 100).await;
    let before = row_versions(&mut conn).await;

    let at = now();
    let ended = f.sessions.end_all(ada.id, None, at, None).await.unwrap();

    let mut ended_ids: Vec<_> = ended.iter().map(|s| s.id.as_str().to_owned()).collect();
    ended_ids.sort();
    let mut live = vec![live_a.as_str().to_owned(), live_b.as_str().to_owned()];
    live.sort();
    assert_eq!(ended_ids, live);
    let after = row_versions(&mut conn).await;
    for (old, new) in before.iter().zip(&after) {
        if old.id == ended_before {
            // Not rewritten: same row version, same end.
            assert_eq!(new.version, old.version);
            assert_eq!(new.revoked_at, Some(earlier));
        } else {
            assert_eq!(new.revoked_at, Some(at));
        }
    }
}

/// The plan of `statement` (EXPLAIN, not run), one line per node.
async fn plan(conn: &mut AsyncPgConnection, statement: &str) -> String {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    diesel::sql_query(format!("EXPLAIN {statement}"))
        .load::<Line>(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.line)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_statements_on_large_tables_walk_an_index_and_stop() {
    let f = fixture().await;
    let mut conn = raw_connection(&f.db.url).await;
    // 200,000 jobs waiting, and 20,000 users with 10 sessions each, 9 of
    // them ended.
    for statement in [
        "INSERT INTO email_outbox (id, payload, created_at) \
         SELECT gen_random_uuid(), '{}', now() - n * interval '1 ms' \
         FROM generate_series(1, 200000) AS n",
        "INSERT INTO users (username, email, email_normalized, password_hash) \
         SELECT 'u' || n, 'u' || n || '@example.io', 'u' || n || '@example.io', 'x' \
         FROM generate_series(1, 20000) AS n",
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at) \
         SELECT md5(u.id || '-' || s), u.id, now() - s * interval '1 day', \
                now() - s * interval '1 day', now() + (30 - s * 5) * interval '1 day', \
                CASE WHEN s > 0 THEN now() - s * interval '1 day' END \
         FROM users u, generate_series(0, 9) AS s",
        "ANALYZE",
    ] {
        diesel::sql_query(statement)
            .execute(&mut conn)
            .await
            .unwrap();
    }

    // The relay's lease (as in `outbox.rs`): the oldest available rows,
    // in index order, no sort of the backlog.
    let lease = plan(
        &mut conn,
        "SELECT id FROM email_outbox WHERE leased_until <= now() \
         ORDER BY created_at LIMIT 100 FOR UPDATE SKIP LOCKED",
    )
    .await;
    assert!(
        lease.contains("Index Scan using email_outbox_created_idx"),
        "{lease}"
    );
    assert!(lease.contains("Limit"), "{lease}");
    assert!(!lease.contains("Sort"), "{lease}");

    // The purge's batch: each half walks its index and stops.
    let purge = plan(
        &mut conn,
        "SELECT ctid FROM ( \
            (SELECT ctid FROM sessions WHERE expires_at < now() - interval '30 days' LIMIT 1000) \
            UNION \
            (SELECT ctid FROM sessions WHERE revoked_at < now() - interval '30 days' LIMIT 1000) \
         ) AS old LIMIT 1000",
    )
    .await;
    assert!(purge.contains("sessions_expires_idx"), "{purge}");
    assert!(purge.contains("sessions_revoked_idx"), "{purge}");
    assert!(!purge.contains("Seq Scan"), "{purge}");

    // Logging out everywhere and the cap read a user's live sessions only.
    let live = plan(
        &mut conn,
        "SELECT id FROM sessions WHERE user_id = 42 AND revoked_at IS NULL AND expires_at > now()",
    )
    .await;
    assert!(live.contains("sessions_live_user_idx"), "{live}");
    // The UPDATE of logging out everywhere (as in `session_steps.rs`)
    // finds its rows by that index too, never by scanning the table.
    let end_all = plan(
        &mut conn,
        "UPDATE sessions s SET revoked_at = now() \
         WHERE s.user_id = 42 AND s.revoked_at IS NULL AND s.expires_at > now()",
    )
    .await;
    assert!(end_all.contains("sessions_live_user_idx"), "{end_all}");
    assert!(!end_all.contains("Seq Scan"), "{end_all}");
}
