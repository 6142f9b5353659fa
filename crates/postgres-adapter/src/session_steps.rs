//! The statements that end sessions and device tokens, run inside the
//! caller's transaction by every store that ends them (logout, a password
//! reset or change, an email change, deleting a user): each ended session
//! has its revocation mark queued in the same statement.

use application::ports::EndedSession;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use domain::{SessionId, UserId};

use crate::revocation_marks::queue_again;
use crate::schema::{device_tokens, users};

/// The rows an ending statement covered, and whether each was live until it.
#[derive(QueryableByName)]
pub(crate) struct EndedRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Timestamptz)]
    expires_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    was_live: bool,
}

impl From<EndedRow> for EndedSession {
    fn from(row: EndedRow) -> Self {
        Self {
            id: SessionId::new(row.id),
            expires_at: row.expires_at,
            was_live: row.was_live,
        }
    }
}

/// Ends one unexpired session of a user and queues its revocation mark
/// (see [`crate::revocation_marks`]) in the same statement. The CTE locks
/// the row first, so `was_live` is read from the version this statement
/// ends: of two concurrent calls, exactly one sees it live.
pub(crate) const END_ONE: &str = concat!(
    "WITH target AS ( \
        SELECT id, revoked_at IS NULL AS was_live FROM sessions \
        WHERE id = $1 AND user_id = $2 AND expires_at > $3 FOR UPDATE \
    ), ended AS ( \
        UPDATE sessions s SET revoked_at = COALESCE(s.revoked_at, $3) \
        FROM target WHERE s.id = target.id \
        RETURNING s.id, s.expires_at, target.was_live \
    ), queued AS ( \
        INSERT INTO pending_revocation_marks AS p (kind, subject, expires_at, ended_at) \
        SELECT 'session', id, expires_at, $3 FROM ended ",
    queue_again!(),
    ") SELECT id, expires_at, was_live FROM ended"
);

/// Ends every live session of a user but one (`$3`, may be NULL), and
/// queues their revocation marks, in one statement. Only live rows are
/// read and written (through `sessions_live_user_idx`): a user's ended
/// sessions, however many, are neither scanned nor rewritten, and keep
/// the time they ended (the purge counts from it). The UPDATE finds its
/// rows itself: joined to a separate list of them, the planner may hash
/// the whole table for a user with many sessions.
const END_ALL: &str = concat!(
    "WITH ended AS ( \
        UPDATE sessions s SET revoked_at = $2 \
        WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
          AND ($3::text IS NULL OR s.id <> $3) \
        RETURNING s.id, s.expires_at, true AS was_live \
    ), queued AS ( \
        INSERT INTO pending_revocation_marks AS p (kind, subject, expires_at, ended_at) \
        SELECT 'session', id, expires_at, $2 FROM ended ",
    queue_again!(),
    ") SELECT id, expires_at, was_live FROM ended"
);

/// Ends the live sessions of a user (`$1`) beyond the `$4` most recently
/// used, never the one just opened (`$2`), and queues their marks, in one
/// statement. The caller holds the user's row lock, so no other login or
/// logout of the user runs meanwhile; a refresh may still touch a row
/// (the UPDATE re-checks `revoked_at` on the version it ends). The ids go
/// through an array so that the UPDATE looks each up by primary key
/// whatever the planner guesses of their number.
const END_BEYOND_LIMIT: &str = concat!(
    "WITH target AS ( \
        SELECT id FROM sessions \
        WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $3 \
        ORDER BY id = $2 DESC, last_used_at DESC, created_at DESC, id DESC \
        OFFSET $4 \
    ), ended AS ( \
        UPDATE sessions s SET revoked_at = $3 \
        WHERE s.id = ANY(ARRAY(SELECT id FROM target)) AND s.revoked_at IS NULL \
        RETURNING s.id, s.expires_at, true AS was_live \
    ), queued AS ( \
        INSERT INTO pending_revocation_marks AS p (kind, subject, expires_at, ended_at) \
        SELECT 'session', id, expires_at, $3 FROM ended ",
    queue_again!(),
    ") SELECT id, expires_at, was_live FROM ended"
);

/// Keeps `user` within `limit` live sessions once `opened` is stored:
/// ends the least recently used beyond it (a refresh is a use), inside
/// the caller's transaction, which holds the user's row lock.
pub(crate) async fn end_beyond_limit(
    conn: &mut crate::connection::PgConn,
    user: UserId,
    opened: &str,
    limit: u32,
    now: DateTime<Utc>,
) -> QueryResult<Vec<EndedSession>> {
    let rows = diesel::sql_query(END_BEYOND_LIMIT)
        .bind::<diesel::sql_types::BigInt, _>(user.get())
        .bind::<Text, _>(opened)
        .bind::<Timestamptz, _>(now)
        .bind::<diesel::sql_types::BigInt, _>(i64::from(limit))
        .load::<EndedRow>(conn)
        .await?;
    Ok(rows.into_iter().map(EndedSession::from).collect())
}

/// Ends every live session of `user` but `except` and moves its session
/// counter on, inside the caller's transaction (logout everywhere, a
/// password reset or change). Returns the sessions it ended.
pub(crate) async fn end_sessions(
    conn: &mut crate::connection::PgConn,
    user: UserId,
    except: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<Vec<EndedSession>> {
    // First, so that a login holding the user row's lock commits its
    // session before the statement below looks.
    diesel::update(users::table.find(user.get()))
        .set(users::session_epoch.eq(users::session_epoch + 1))
        .execute(conn)
        .await?;
    let rows = diesel::sql_query(END_ALL)
        .bind::<diesel::sql_types::BigInt, _>(user.get())
        .bind::<Timestamptz, _>(now)
        .bind::<Nullable<Text>, _>(except)
        .load::<EndedRow>(conn)
        .await?;
    Ok(rows.into_iter().map(EndedSession::from).collect())
}

/// Ends every device token of `user` (a password reset: whoever held one
/// must prove themselves again), inside the caller's transaction.
pub(crate) async fn end_device_tokens(
    conn: &mut crate::connection::PgConn,
    user: UserId,
) -> QueryResult<()> {
    diesel::delete(device_tokens::table.filter(device_tokens::user_id.eq(user.get())))
        .execute(conn)
        .await?;
    Ok(())
}
