//! [`PgDataPurge`]: deleting what ended long ago, in small batches.

use application::ports::{DataPurge, PurgeStoreError, Purgeable, PurgedBatch};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Bool, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::error::Failure;
use crate::pool::{Db, PgPool, PgSettings};

/// The transaction-level advisory lock every purge batch takes ("authpurg"
/// in ASCII). Transaction-level, never session-level: it ends with its
/// batch, whatever happens to the instance, and needs no session state, so
/// it works behind PgBouncer in transaction mode.
pub const PURGE_LOCK_KEY: i64 = 0x6175_7468_7075_7267;

/// Sessions that ended before `$1`: expired, or revoked (a revoked
/// session ended when it was revoked). Each half walks its own index and
/// stops at the batch size; the rows are then deleted by their physical
/// address, with no second index lookup.
const PURGE_SESSIONS: &str = "\
DELETE FROM sessions WHERE ctid = ANY(ARRAY( \
    SELECT ctid FROM ( \
        (SELECT ctid FROM sessions WHERE expires_at < $1 LIMIT $2) \
        UNION \
        (SELECT ctid FROM sessions WHERE revoked_at < $1 LIMIT $2) \
    ) AS old LIMIT $2 \
))";

/// One-time secrets that expired, or were used, before `$1`.
const PURGE_SECRETS: &str = "\
DELETE FROM one_time_secrets WHERE ctid = ANY(ARRAY( \
    SELECT ctid FROM ( \
        (SELECT ctid FROM one_time_secrets WHERE expires_at < $1 LIMIT $2) \
        UNION \
        (SELECT ctid FROM one_time_secrets WHERE used_at < $1 LIMIT $2) \
    ) AS old LIMIT $2 \
))";

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// [`DataPurge`] on the `sessions` and `one_time_secrets` tables.
#[derive(Clone)]
pub struct PgDataPurge {
    db: Db,
}

impl PgDataPurge {
    pub fn new(pool: PgPool, settings: PgSettings) -> Self {
        Self {
            db: Db::new(pool, settings),
        }
    }
}

fn purge_error(failure: Failure) -> PurgeStoreError {
    match failure {
        Failure::Unavailable(_) => PurgeStoreError::Unavailable(failure.into()),
        _ => PurgeStoreError::Unexpected(failure.into()),
    }
}

#[async_trait]
impl DataPurge for PgDataPurge {
    #[tracing::instrument(level = "debug", name = "postgres.purge_batch", skip_all, fields(?what, limit))]
    async fn purge_batch(
        &self,
        what: Purgeable,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<PurgedBatch, PurgeStoreError> {
        let statement = match what {
            Purgeable::Sessions => PURGE_SESSIONS,
            Purgeable::OneTimeSecrets => PURGE_SECRETS,
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.db.connection().await.map_err(purge_error)?;
        self.db
            .bounded(conn.transaction(async move |conn| {
                let lock = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
                    .bind::<BigInt, _>(PURGE_LOCK_KEY)
                    .get_result::<Locked>(conn)
                    .await?;
                if !lock.locked {
                    return Ok(PurgedBatch::Busy);
                }
                let deleted = diesel::sql_query(statement)
                    .bind::<Timestamptz, _>(before)
                    .bind::<BigInt, _>(limit)
                    .execute(conn)
                    .await?;
                Ok::<_, diesel::result::Error>(PurgedBatch::Deleted(deleted))
            }))
            .await
            .map_err(purge_error)
    }
}
