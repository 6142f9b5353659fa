//! [`RevocationMarkQueue`] on the `pending_revocation_marks` table. The
//! statements that end sessions ([`crate::session_steps`]) or delete a user
//! ([`crate::users`]) insert into it in their own transaction; this module
//! takes marks out.

use std::time::Duration;

use application::ports::{MarkQueueError, QueuedMark, RevocationMarkQueue};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use domain::{SessionId, UserId};

use crate::error::Failure;
use crate::pool::{Db, PgPool, PgSettings};

/// What an insert into `pending_revocation_marks AS p` does when the mark
/// is queued already (not written yet): it keeps the later facts and is
/// offered to the replay again at once.
macro_rules! queue_again {
    () => {
        "ON CONFLICT (kind, subject) DO UPDATE SET \
            expires_at = GREATEST(p.expires_at, EXCLUDED.expires_at), \
            ended_at = GREATEST(p.ended_at, EXCLUDED.ended_at), \
            leased_until = '-infinity' "
    };
}
pub(crate) use queue_again;

/// Queues the mark of a deleted user, inside the caller's transaction.
const QUEUE_USER: &str = concat!(
    "INSERT INTO pending_revocation_marks AS p (kind, subject, ended_at) \
     VALUES ('user', $1::text, $2) ",
    queue_again!()
);

pub(crate) async fn queue_user_mark(
    conn: &mut crate::connection::PgConn,
    user: UserId,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::sql_query(QUEUE_USER)
        .bind::<BigInt, _>(user.get())
        .bind::<Timestamptz, _>(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the oldest marks nobody holds and hides them until the lease
/// ends, in one statement: no window where two instances take the same.
/// A session's mark comes with its user (the Redis mark is stored under
/// the user), read from the session's row.
const LEASE: &str = "\
UPDATE pending_revocation_marks p SET leased_until = now() + make_interval(secs => $2) \
WHERE (kind, subject) IN ( \
    SELECT kind, subject FROM pending_revocation_marks WHERE leased_until <= now() \
    ORDER BY ended_at LIMIT $1 FOR UPDATE SKIP LOCKED \
) \
RETURNING p.kind, p.subject, p.expires_at, p.ended_at, \
    (SELECT s.user_id FROM sessions s WHERE p.kind = 'session' AND s.id = p.subject) AS owner";

/// Removes the given marks unless they were queued again later.
const FORGET: &str = "\
DELETE FROM pending_revocation_marks p \
USING unnest($1::text[], $2::text[], $3::timestamptz[]) AS f(kind, subject, ended_at) \
WHERE p.kind = f.kind AND p.subject = f.subject AND p.ended_at <= f.ended_at";

const RELEASE: &str = "\
UPDATE pending_revocation_marks p SET leased_until = '-infinity' \
FROM unnest($1::text[], $2::text[]) AS f(kind, subject) \
WHERE p.kind = f.kind AND p.subject = f.subject";

#[derive(QueryableByName)]
struct MarkRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    expires_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    ended_at: DateTime<Utc>,
    /// The session's user; `NULL` for a user's mark, or when the session's
    /// row is gone.
    #[diesel(sql_type = Nullable<BigInt>)]
    owner: Option<i64>,
}

impl MarkRow {
    fn into_mark(self) -> Option<QueuedMark> {
        match (self.kind.as_str(), self.expires_at) {
            ("session", Some(expires_at)) => Some(QueuedMark::Session {
                id: SessionId::new(self.subject),
                user: UserId::new(self.owner?),
                expires_at,
                ended_at: self.ended_at,
            }),
            ("user", _) => Some(QueuedMark::User {
                id: UserId::new(self.subject.parse().ok()?),
                ended_at: self.ended_at,
            }),
            _ => None,
        }
    }
}

/// The key columns of a mark.
fn key(mark: &QueuedMark) -> (&'static str, String) {
    match mark {
        QueuedMark::Session { id, .. } => ("session", id.as_str().to_owned()),
        QueuedMark::User { id, .. } => ("user", id.get().to_string()),
    }
}

fn queue_error(failure: Failure) -> MarkQueueError {
    match failure {
        Failure::Unavailable(_) => MarkQueueError::Unavailable(failure.into()),
        _ => MarkQueueError::Unexpected(failure.into()),
    }
}

#[derive(Clone)]
pub struct PgRevocationMarkQueue {
    db: Db,
}

impl PgRevocationMarkQueue {
    pub fn new(pool: PgPool, settings: PgSettings) -> Self {
        Self {
            db: Db::new(pool, settings),
        }
    }
}

#[async_trait]
impl RevocationMarkQueue for PgRevocationMarkQueue {
    #[tracing::instrument(level = "debug", name = "postgres.lease_revocation_marks", skip_all, fields(limit = limit))]
    async fn lease(
        &self,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<QueuedMark>, MarkQueueError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.db.connection().await.map_err(queue_error)?;
        let query = diesel::sql_query(LEASE)
            .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind::<Double, _>(lease.as_secs_f64())
            .load::<MarkRow>(&mut conn);
        let mut rows = self.db.bounded(query).await.map_err(queue_error)?;
        rows.sort_by_key(|row| row.ended_at);
        // A session mark whose session row is gone: its user was deleted
        // (the user's own mark covers every token) or it was purged long
        // after its tokens expired. Nothing to write; it leaves the queue.
        let (orphans, rows): (Vec<_>, Vec<_>) = rows
            .into_iter()
            .partition(|row| row.kind == "session" && row.owner.is_none());
        if !orphans.is_empty() {
            let (kinds, subjects, ended) = orphans.into_iter().fold(
                (Vec::new(), Vec::new(), Vec::new()),
                |(mut kinds, mut subjects, mut ended), row| {
                    kinds.push(row.kind);
                    subjects.push(row.subject);
                    ended.push(row.ended_at);
                    (kinds, subjects, ended)
                },
            );
            let query = diesel::sql_query(FORGET)
                .bind::<Array<Text>, _>(kinds)
                .bind::<Array<Text>, _>(subjects)
                .bind::<Array<Timestamptz>, _>(ended)
                .execute(&mut conn);
            self.db.bounded(query).await.map_err(queue_error)?;
        }
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let (kind, subject) = (row.kind.clone(), row.subject.clone());
                let mark = row.into_mark();
                if mark.is_none() {
                    // The table's checks rule this out; the row stays for
                    // an operator and comes back after each lease.
                    tracing::error!(%kind, %subject, "unreadable queued revocation mark, skipped");
                }
                mark
            })
            .collect())
    }

    #[tracing::instrument(level = "debug", name = "postgres.forget_revocation_marks", skip_all, fields(marks = marks.len()))]
    async fn forget(&self, marks: Vec<QueuedMark>) -> Result<(), MarkQueueError> {
        if marks.is_empty() {
            return Ok(());
        }
        let mut kinds = Vec::with_capacity(marks.len());
        let mut subjects = Vec::with_capacity(marks.len());
        let mut ended = Vec::with_capacity(marks.len());
        for mark in &marks {
            let (kind, subject) = key(mark);
            kinds.push(kind.to_owned());
            subjects.push(subject);
            ended.push(mark.ended_at());
        }
        let mut conn = self.db.connection().await.map_err(queue_error)?;
        let query = diesel::sql_query(FORGET)
            .bind::<Array<Text>, _>(kinds)
            .bind::<Array<Text>, _>(subjects)
            .bind::<Array<Timestamptz>, _>(ended)
            .execute(&mut conn);
        self.db.bounded(query).await.map_err(queue_error)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "postgres.release_revocation_marks", skip_all, fields(marks = marks.len()))]
    async fn release(&self, marks: Vec<QueuedMark>) -> Result<(), MarkQueueError> {
        if marks.is_empty() {
            return Ok(());
        }
        let (kinds, subjects): (Vec<_>, Vec<_>) = marks
            .iter()
            .map(|mark| {
                let (kind, subject) = key(mark);
                (kind.to_owned(), subject)
            })
            .unzip();
        let mut conn = self.db.connection().await.map_err(queue_error)?;
        let query = diesel::sql_query(RELEASE)
            .bind::<Array<Text>, _>(kinds)
            .bind::<Array<Text>, _>(subjects)
            .execute(&mut conn);
        self.db.bounded(query).await.map_err(queue_error)?;
        Ok(())
    }
}
