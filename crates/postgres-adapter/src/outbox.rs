use std::time::Duration;

use application::EmailJob;
use application::ports::{EmailOutbox, OutboxError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::error::Failure;
use crate::pool::{Db, PgPool, PgSettings};
use crate::schema::email_outbox;

/// Writes email jobs to the outbox inside the caller's transaction: they
/// exist exactly when the change that caused them commits.
pub(crate) async fn queue_emails(
    conn: &mut crate::connection::PgConn,
    jobs: &[EmailJob],
) -> QueryResult<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = jobs
        .iter()
        .map(|job| {
            (
                email_outbox::id.eq(job.id),
                email_outbox::payload.eq(job.to_json()),
                email_outbox::created_at.eq(job.created_at),
            )
        })
        .collect();
    diesel::insert_into(email_outbox::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// [`EmailOutbox`] on the `email_outbox` table. Several relays may lease at
/// once: `FOR UPDATE SKIP LOCKED` gives each row to one of them.
#[derive(Clone)]
pub struct PgEmailOutbox {
    db: Db,
}

impl PgEmailOutbox {
    pub fn new(pool: PgPool, settings: PgSettings) -> Self {
        Self {
            db: Db::new(pool, settings),
        }
    }
}

/// Takes the oldest available rows and hides them until the lease ends, in
/// one statement: no window where two relays could take the same row.
const LEASE: &str = "\
UPDATE email_outbox SET leased_until = now() + make_interval(secs => $2) \
WHERE id IN ( \
    SELECT id FROM email_outbox WHERE leased_until <= now() \
    ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED \
) \
RETURNING id, payload, created_at";

#[derive(QueryableByName)]
struct LeasedRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    payload: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

fn outbox_error(failure: Failure) -> OutboxError {
    match failure {
        Failure::Unavailable(_) => OutboxError::Unavailable(failure.into()),
        _ => OutboxError::Unexpected(failure.into()),
    }
}

#[async_trait]
impl EmailOutbox for PgEmailOutbox {
    #[tracing::instrument(level = "debug", name = "postgres.lease_outbox", skip_all, fields(limit = limit))]
    async fn lease(&self, limit: usize, lease: Duration) -> Result<Vec<EmailJob>, OutboxError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.db.connection().await.map_err(outbox_error)?;
        let query = diesel::sql_query(LEASE)
            .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind::<Double, _>(lease.as_secs_f64())
            .load::<LeasedRow>(&mut conn);
        let mut rows = self.db.bounded(query).await.map_err(outbox_error)?;
        // RETURNING has no order of its own; relays hand jobs on oldest first.
        rows.sort_by_key(|row| row.created_at);
        Ok(rows
            .into_iter()
            .filter_map(|row| match EmailJob::from_json(&row.payload) {
                Ok(job) => Some(job),
                // One bad row must not block the others; it stays in the
                // table for an operator and reappears after each lease.
                Err(error) => {
                    tracing::error!(outbox_id = %row.id, error.chain = %application::ErrorChain(&error), "unreadable email job in the outbox, skipped");
                    None
                }
            })
            .collect())
    }

    #[tracing::instrument(level = "debug", name = "postgres.remove_outbox", skip_all, fields(jobs = ids.len()))]
    async fn remove(&self, ids: Vec<Uuid>) -> Result<(), OutboxError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.db.connection().await.map_err(outbox_error)?;
        let query = diesel::delete(email_outbox::table.filter(email_outbox::id.eq_any(ids)))
            .execute(&mut conn);
        self.db.bounded(query).await.map_err(outbox_error)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "postgres.release_outbox", skip_all, fields(jobs = ids.len()))]
    async fn release(&self, ids: Vec<Uuid>) -> Result<(), OutboxError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.db.connection().await.map_err(outbox_error)?;
        let query =
            diesel::update(email_outbox::table.filter(email_outbox::id.eq_any(ids)))
                .set(email_outbox::leased_until.eq(diesel::dsl::sql::<
                    diesel::sql_types::Timestamptz,
                >("'-infinity'")))
                .execute(&mut conn);
        self.db.bounded(query).await.map_err(outbox_error)?;
        Ok(())
    }
}
