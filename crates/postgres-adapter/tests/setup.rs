#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod support;

use application::ErrorChain;
use application::ports::{
    DependencyProbe, EmailOutbox, OutboxError, RepositoryError, UserRepository,
};
use domain::UserId;
use postgres_adapter::{
    PgEmailOutbox, PgError, PgProbe, PgUserRepository, connect, ensure_database, run_migrations,
};
use std::time::Duration;
use support::*;

const CLOSED_PORT: &str = "postgres://postgres:s3cr3t-pw@127.0.0.1:1/nowhere";

#[tokio::test(flavor = "multi_thread")]
async fn ensure_database_creates_once_and_migrations_apply_once() {
    let db = named("");
    let url = db.url.clone();
    assert!(ensure_database(&url).await.unwrap());
    assert!(!ensure_database(&url).await.unwrap());

    let applied = run_migrations(&url).await.unwrap();
    assert_eq!(applied, migration_names());
    assert_eq!(
        &applied[..2],
        [
            "2025-01-01-000001_create_users",
            "2025-01-01-000002_create_email_outbox"
        ]
    );
    assert!(run_migrations(&url).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_creators_and_migrators_take_turns() {
    let db = named("");
    let url = db.url.clone();
    let created = futures_join((0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { ensure_database(&url).await.unwrap() })
    }))
    .await;
    assert_eq!(
        created.iter().filter(|created| **created).count(),
        1,
        "{created:?}"
    );

    let applied = futures_join((0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { run_migrations(&url).await.unwrap() })
    }))
    .await;
    let total: usize = applied.iter().map(Vec::len).sum();
    assert_eq!(
        total,
        migration_names().len(),
        "each migration applied once: {applied:?}"
    );
}

async fn futures_join<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn odd_database_names_are_quoted() {
    // A name that would be an injection if pasted into SQL unquoted.
    let db = named("\"; x");
    assert!(ensure_database(&db.url).await.unwrap());
    assert!(!ensure_database(&db.url).await.unwrap());
    assert_eq!(
        run_migrations(&db.url).await.unwrap().len(),
        migration_names().len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn set_up_against_a_closed_port_fails_without_leaking_the_password() {
    let ensure = ensure_database(CLOSED_PORT).await;
    assert!(matches!(ensure, Err(PgError::Connect(_))), "{ensure:?}");
    let chain = ErrorChain(&ensure.unwrap_err()).to_string();
    assert!(!chain.contains("s3cr3t"), "{chain}");

    let migrate = run_migrations(CLOSED_PORT).await;
    assert!(matches!(migrate, Err(PgError::Connect(_))), "{migrate:?}");
    let chain = ErrorChain(&migrate.unwrap_err()).to_string();
    assert!(!chain.contains("s3cr3t"), "{chain}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_server_makes_every_call_unavailable() {
    let pool = connect(CLOSED_PORT, &impatient()).unwrap();
    let users = PgUserRepository::new(pool.clone(), impatient());
    let outbox = PgEmailOutbox::new(pool.clone(), impatient());

    let found = users.find_by_id(UserId::new(1)).await;
    assert!(
        matches!(found, Err(RepositoryError::Unavailable(_))),
        "{found:?}"
    );
    let created = users
        .create(
            new_user("ada", "ada@x.io"),
            verification(),
            welcome("ada@x.io"),
            registered(),
        )
        .await;
    match created {
        Err(error @ RepositoryError::Unavailable(_)) => {
            let chain = ErrorChain(&error).to_string();
            assert!(!chain.contains("s3cr3t"), "{chain}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let leased = outbox.lease(10, Duration::from_secs(30)).await;
    assert!(
        matches!(leased, Err(OutboxError::Unavailable(_))),
        "{leased:?}"
    );

    let probe = PgProbe::new(pool, impatient());
    assert_eq!(probe.name(), "postgres");
    assert!(probe.ping().await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_answers_is_unavailable_not_a_hang() {
    // Accepts TCP connections and then says nothing, like a stuck server.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });

    let url = format!("postgres://postgres@127.0.0.1:{port}/silent");
    let pool = connect(&url, &impatient()).unwrap();
    let users = PgUserRepository::new(pool.clone(), impatient());
    let found = users.find_credentials("a@x.io").await;
    assert!(
        matches!(found, Err(RepositoryError::Unavailable(_))),
        "{found:?}"
    );
    assert!(PgProbe::new(pool, impatient()).ping().await.is_err());
    silent.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_probe_answers_for_a_live_server() {
    let db = fresh_database().await;
    let probe = PgProbe::new(pool(&db.url), settings());
    probe.ping().await.unwrap();
}

/// A foreign key to `users` makes every user deletion look up its rows
/// (`ON DELETE CASCADE`): without an index led by that column, each
/// deletion scans the whole table.
#[tokio::test]
async fn every_foreign_key_to_users_is_indexed() {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Unindexed {
        #[diesel(sql_type = diesel::sql_types::Text)]
        table_name: String,
    }
    let db = fresh_database().await;
    let mut conn = raw_connection(&db.url).await;
    let unindexed: Vec<Unindexed> = diesel::sql_query(
        "SELECT c.conrelid::regclass::text AS table_name FROM pg_constraint c \
         WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass \
         AND NOT EXISTS (SELECT 1 FROM pg_index i \
             WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let tables: Vec<String> = unindexed.into_iter().map(|row| row.table_name).collect();
    assert!(
        tables.is_empty(),
        "unindexed references to users: {tables:?}"
    );
}
