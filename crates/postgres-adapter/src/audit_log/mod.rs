//! [`AuditLog`] on the `audit_events` table, partitioned by month (see the
//! migration `2026-12-05-000050_create_audit_events`).

mod partitions;

use application::ports::{
    AuditEvent, AuditLog, AuditLogError, AuditPage, AuditQuery, NewAuditEvent,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::{AuditEventKind, SessionId, UserId};

use crate::connection::PgConn;
use crate::error::Failure;
use crate::pool::{Db, PgPool, PgSettings};
use partitions::Month;

/// All the events of a call in one statement: one array per column.
const INSERT: &str = "\
INSERT INTO audit_events (at, type, actor_id, subject_id, session_id, ip, user_agent, data) \
SELECT at, type, actor_id, subject_id, session_id, ip, user_agent, data::jsonb \
FROM unnest($1::timestamptz[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], \
            $7::text[], $8::text[]) \
     AS e(at, type, actor_id, subject_id, session_id, ip, user_agent, data)";

const SELECT: &str = "\
SELECT id, at, type AS kind, actor_id, subject_id, session_id, ip, user_agent, data::text AS data \
FROM audit_events WHERE true";

/// Writes the events inside the caller's transaction, so an event whose
/// change is a transaction exists exactly when that change commits. A
/// month without a partition costs a savepoint's roll-back, the month's
/// creation (which holds a lock on `audit_events` until the caller's
/// transaction ends: `prepare_partitions` makes that rare) and one retry.
pub(crate) async fn record_in(
    conn: &mut PgConn,
    events: &[NewAuditEvent],
) -> diesel::QueryResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    // Nested: a savepoint, so a failed insert leaves the caller's
    // transaction usable for the retry.
    let first = conn
        .transaction::<_, DieselError, _>(async |conn| insert(conn, events).await)
        .await;
    match first {
        Err(error) if is_missing_partition(&error) => {
            let months = events
                .iter()
                .map(|event| Month::containing(event.at))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| DieselError::QueryBuilderError(error.into()))?;
            partitions::create(conn, months).await?;
            insert(conn, events).await
        }
        other => other,
    }
}

/// Writes a self-service event (`user` as actor and subject, no client
/// context) in the caller's transaction: for changes that learn their user
/// only there (a consumed link) and whose port carries no event.
pub(crate) async fn record_self_service(
    conn: &mut PgConn,
    kind: AuditEventKind,
    user: UserId,
    session: Option<&SessionId>,
    at: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    let event = NewAuditEvent::by_user(kind, user, session, None, at, serde_json::json!({}));
    record_in(conn, std::slice::from_ref(&event)).await
}

async fn insert(conn: &mut PgConn, events: &[NewAuditEvent]) -> diesel::QueryResult<()> {
    let user = |id: Option<UserId>| id.map(UserId::get);
    diesel::sql_query(INSERT)
        .bind::<Array<Timestamptz>, _>(events.iter().map(|e| e.at).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())
        .bind::<Array<Nullable<BigInt>>, _>(
            events.iter().map(|e| user(e.actor)).collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<BigInt>>, _>(
            events.iter().map(|e| user(e.subject)).collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            events
                .iter()
                .map(|e| e.session.as_ref().map(|s| s.as_str().to_owned()))
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            events
                .iter()
                .map(|e| e.ip.map(|ip| ip.to_string()))
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            events
                .iter()
                .map(|e| e.user_agent.clone())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            events
                .iter()
                .map(|e| e.data.to_string())
                .collect::<Vec<_>>(),
        )
        .execute(conn)
        .await
        .map(|_| ())
}

/// PostgreSQL's answer to a row no partition takes: a check violation
/// (23514) without a constraint, told apart from the type CHECK by its
/// message (diesel exposes no more).
fn is_missing_partition(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::CheckViolation, info)
            if info.constraint_name().is_none()
                && info.message().starts_with("no partition of relation")
    )
}

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Timestamptz)]
    at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    actor_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    subject_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    session_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    ip: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    user_agent: Option<String>,
    #[diesel(sql_type = Text)]
    data: String,
}

/// A row the table's checks let in but this code cannot read.
#[derive(Debug, thiserror::Error)]
#[error("audit event {id} has an unreadable {field}")]
struct CorruptEvent {
    id: i64,
    field: &'static str,
}

impl EventRow {
    fn into_event(self) -> Result<AuditEvent, CorruptEvent> {
        let corrupt = |field| CorruptEvent { id: self.id, field };
        Ok(AuditEvent {
            id: self.id,
            at: self.at,
            kind: self.kind.parse().map_err(|_| corrupt("type"))?,
            actor: self.actor_id.map(UserId::new),
            subject: self.subject_id.map(UserId::new),
            session: self.session_id.map(SessionId::new),
            ip: match self.ip {
                Some(ref ip) => Some(ip.parse().map_err(|_| corrupt("ip"))?),
                None => None,
            },
            user_agent: self.user_agent,
            data: serde_json::from_str(&self.data).map_err(|_| corrupt("data"))?,
        })
    }
}

fn log_error(failure: Failure) -> AuditLogError {
    match failure {
        Failure::Unavailable(_) => AuditLogError::Unavailable(failure.into()),
        _ => AuditLogError::Unexpected(failure.into()),
    }
}

/// [`AuditLog`] on PostgreSQL.
#[derive(Clone)]
pub struct PgAuditLog {
    db: Db,
}

impl PgAuditLog {
    pub fn new(pool: PgPool, settings: PgSettings) -> Self {
        Self {
            db: Db::new(pool, settings),
        }
    }
}

#[async_trait]
impl AuditLog for PgAuditLog {
    #[tracing::instrument(level = "debug", name = "postgres.record_audit_events", skip_all)]
    async fn record(&self, events: Vec<NewAuditEvent>) -> Result<(), AuditLogError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut conn = self.db.connection().await.map_err(log_error)?;
        self.db
            .bounded(conn.transaction(async |conn| record_in(conn, &events).await))
            .await
            .map_err(log_error)
    }

    #[tracing::instrument(level = "debug", name = "postgres.query_audit_events", skip_all)]
    async fn query(&self, query: AuditQuery) -> Result<AuditPage, AuditLogError> {
        if query.limit == 0 {
            return Ok(AuditPage {
                events: Vec::new(),
                next: None,
            });
        }
        // Only the filters asked for are in the statement, so each form
        // gets its own plan (and index) instead of `$1 IS NULL OR ...`.
        let mut sql = String::from(SELECT);
        let mut n = 0;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        if query.subject.is_some() {
            sql += &format!(" AND subject_id = {}", param());
        }
        if query.kind.is_some() {
            sql += &format!(" AND type = {}", param());
        }
        if query.since.is_some() {
            sql += &format!(" AND at >= {}", param());
        }
        if query.until.is_some() {
            sql += &format!(" AND at < {}", param());
        }
        if query.after.is_some() {
            sql += &format!(" AND (at, id) < ({}, {})", param(), param());
        }
        // One more than the page: whether there is a next page.
        sql += &format!(" ORDER BY at DESC, id DESC LIMIT {}", param());

        let mut statement = diesel::sql_query(sql).into_boxed();
        if let Some(subject) = query.subject {
            statement = statement.bind::<BigInt, _>(subject.get());
        }
        if let Some(kind) = query.kind {
            statement = statement.bind::<Text, _>(kind.as_str());
        }
        if let Some(since) = query.since {
            statement = statement.bind::<Timestamptz, _>(since);
        }
        if let Some(until) = query.until {
            statement = statement.bind::<Timestamptz, _>(until);
        }
        if let Some(after) = query.after {
            statement = statement
                .bind::<Timestamptz, _>(after.at)
                .bind::<BigInt, _>(after.id);
        }
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        statement = statement.bind::<BigInt, _>(i64::from(query.limit) + 1);

        let mut conn = self.db.connection().await.map_err(log_error)?;
        let rows = self
            .db
            .bounded(statement.load::<EventRow>(&mut conn))
            .await
            .map_err(log_error)?;
        let more = rows.len() > limit;
        let events = rows
            .into_iter()
            .take(limit)
            .map(|row| {
                row.into_event()
                    .map_err(|error| AuditLogError::Unexpected(Box::new(error)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = if more {
            events.last().map(AuditEvent::cursor)
        } else {
            None
        };
        Ok(AuditPage { events, next })
    }

    #[tracing::instrument(level = "debug", name = "postgres.prepare_audit_partitions", skip_all)]
    async fn prepare_partitions(&self, now: DateTime<Utc>) -> Result<(), AuditLogError> {
        let month =
            Month::containing(now).map_err(|error| AuditLogError::Unexpected(Box::new(error)))?;
        let mut conn = self.db.connection().await.map_err(log_error)?;
        self.db
            .bounded(
                conn.transaction(async |conn| {
                    partitions::create(conn, partitions::ahead(month)).await
                }),
            )
            .await
            .map_err(log_error)
    }

    #[tracing::instrument(level = "debug", name = "postgres.drop_audit_partitions", skip_all)]
    async fn drop_partitions_before(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<String>, AuditLogError> {
        let mut conn = self.db.connection().await.map_err(log_error)?;
        self.db
            .bounded(conn.transaction(async |conn| partitions::drop_before(conn, cutoff).await))
            .await
            .map_err(log_error)
    }
}

#[cfg(test)]
mod tests;
