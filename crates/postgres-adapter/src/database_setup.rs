//! Set-up steps run before serving: creating the database, migrating it.

use std::future::Future;
use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio::time::timeout;

use crate::database_url::DatabaseUrl;
use crate::error::PgError;
use crate::pool::establish;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// CREATE DATABASE copies a template and waits for a checkpoint: seconds on
/// a busy server.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Waiting for another process's migrations plus running ours.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(120);
/// Advisory lock key that serialises migrators of one database ("migrate!").
const MIGRATION_LOCK_KEY: i64 = 0x6d69_6772_6174_6521;
/// PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1).
const MAX_IDENTIFIER_BYTES: usize = 63;

/// Creates the database that `database_url` names when it does not exist,
/// through the maintenance database `postgres` of the same server. Returns
/// `true` when this call created it. Safe to race: a process that loses
/// the race sees the database and returns `false`.
#[tracing::instrument(level = "debug", name = "postgres.ensure_database", skip_all)]
pub async fn ensure_database(database_url: &str) -> Result<bool, PgError> {
    let url = DatabaseUrl::parse(database_url)?;
    let name = url.database()?;
    if name.len() > MAX_IDENTIFIER_BYTES || name.contains('\0') {
        return Err(PgError::InvalidUrl(
            "the database name must be at most 63 bytes, without NUL",
        ));
    }
    let mut conn = establish(url.with_database("postgres"), CONNECT_TIMEOUT).await?;
    if database_exists(&mut conn, &name).await? {
        return Ok(false);
    }
    let create = diesel::sql_query(format!("CREATE DATABASE {}", quote_identifier(&name)));
    match bounded(STATEMENT_TIMEOUT, create.execute(&mut conn)).await {
        Ok(_) => {
            tracing::info!(database = %name, "created database");
            Ok(true)
        }
        // Someone else created it between our check and our CREATE.
        Err(error) => match database_exists(&mut conn, &name).await {
            Ok(true) => Ok(false),
            _ => Err(error),
        },
    }
}

/// Applies the pending migrations (embedded from `migrations/`) and returns
/// their names, oldest first. Concurrent callers on one database take turns
/// through an advisory lock, so several processes may start at once.
#[tracing::instrument(level = "debug", name = "postgres.run_migrations", skip_all)]
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, PgError> {
    let url = DatabaseUrl::parse(database_url)?;
    let mut conn = establish(url, CONNECT_TIMEOUT).await?;
    let lock =
        diesel::sql_query("SELECT pg_advisory_lock($1)").bind::<BigInt, _>(MIGRATION_LOCK_KEY);
    bounded(MIGRATION_TIMEOUT, lock.execute(&mut conn)).await?;

    // diesel_migrations is synchronous: it runs on a blocking thread through
    // a wrapper that blocks on the async connection (never on a runtime
    // worker, which would panic).
    let mut wrapper = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
    let task = tokio::task::spawn_blocking(move || {
        let applied = apply_pending(&mut wrapper);
        (wrapper, applied)
    });
    let (wrapper, applied) = match timeout(MIGRATION_TIMEOUT, task).await {
        Ok(Ok(done)) => done,
        Ok(Err(join_error)) => return Err(PgError::Migration(join_error.into())),
        // The blocking thread cannot be stopped; its session, and so the
        // lock, ends when it finishes or the process exits.
        Err(_) => {
            return Err(PgError::Timeout {
                step: "the migrations",
                limit: MIGRATION_TIMEOUT,
            });
        }
    };
    let mut conn = wrapper.into_inner();
    let unlock =
        diesel::sql_query("SELECT pg_advisory_unlock($1)").bind::<BigInt, _>(MIGRATION_LOCK_KEY);
    // Closing the connection releases the lock anyway.
    if let Err(error) = bounded(STATEMENT_TIMEOUT, unlock.execute(&mut conn)).await {
        tracing::warn!(
            error.chain = %application::ErrorChain(&error),
            "could not release the migration lock"
        );
    }
    let applied = applied?;
    for name in &applied {
        tracing::info!(migration = %name, "applied migration");
    }
    Ok(applied)
}

fn apply_pending(
    conn: &mut AsyncConnectionWrapper<AsyncPgConnection>,
) -> Result<Vec<String>, PgError> {
    let pending = conn
        .pending_migrations(MIGRATIONS)
        .map_err(PgError::Migration)?;
    let names = pending
        .iter()
        .map(|migration| migration.name().to_string())
        .collect();
    conn.run_migrations(&pending).map_err(PgError::Migration)?;
    Ok(names)
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> Result<bool, PgError> {
    let query =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(name);
    let row: Exists = bounded(STATEMENT_TIMEOUT, query.get_result(conn)).await?;
    Ok(row.exists)
}

async fn bounded<T>(
    limit: Duration,
    query: impl Future<Output = diesel::QueryResult<T>>,
) -> Result<T, PgError> {
    match timeout(limit, query).await {
        Ok(result) => result.map_err(|error| PgError::Query(error.into())),
        Err(_) => Err(PgError::Timeout {
            step: "a statement",
            limit,
        }),
    }
}

/// Quotes an identifier for SQL: wrapped in double quotes, inner double
/// quotes doubled, so any name is taken literally.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_literally() {
        assert_eq!(quote_identifier("plain"), "\"plain\"");
        assert_eq!(
            quote_identifier("x\"; DROP DATABASE y; --"),
            "\"x\"\"; DROP DATABASE y; --\""
        );
    }

    #[test]
    fn migrations_are_embedded() {
        use diesel::migration::MigrationSource;
        let names = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
            .unwrap()
            .iter()
            .map(|migration| migration.name().to_string())
            .collect::<Vec<_>>();
        assert_eq!(
            names,
            [
                "2025-01-01-000001_create_users",
                "2025-01-01-000002_create_email_outbox",
                "2026-11-26-000003_create_sessions",
                "2026-11-26-000004_create_one_time_secrets",
                "2026-12-03-000005_create_code_failures",
                "2026-12-03-000006_create_pending_revocation_marks",
                "2026-12-03-000008_email_change_undo",
                "2026-12-03-000009_create_device_tokens",
                "2026-12-03-000010_index_secrets_by_user",
                "2026-12-04-000011_bound_data_growth",
                "2026-12-04-000030_create_signing_keys",
                "2026-12-05-000040_create_second_factor",
                "2026-12-05-000041_session_auth_methods",
                "2026-12-05-000050_create_audit_events",
                "2026-12-05-000060_admin_user_fields",
            ]
        );
    }
}
