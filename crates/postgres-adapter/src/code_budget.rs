//! The per-account budget of wrong codes, on the `code_failures` table:
//! besides the tries of each code, wrong codes are counted per account and
//! purpose in a fixed window that opens at the first of them
//! ([`MAX_CODE_FAILURES`] in [`CODE_FAILURE_WINDOW`]). It is kept beside
//! the secrets rather than in the rate limiter, so `RATE_LIMITS=off` leaves
//! it on.
//!
//! Both functions run inside the caller's transaction. The caller
//! serialises the attempts of one account and purpose (by locking the row
//! that holds the code) so that a check and the failure it may record
//! cannot interleave with another attempt's.
//!
//! [`MAX_CODE_FAILURES`]: domain::MAX_CODE_FAILURES

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use crate::connection::PgConn;
use domain::{CODE_FAILURE_WINDOW, CodeFailures, CodePurpose, UserId};

use crate::schema::code_failures;

/// Whether `user` has spent its wrong codes for `purpose` at `now`: then
/// every code of that purpose is refused, right or wrong.
pub(crate) async fn exhausted(
    conn: &mut PgConn,
    user: UserId,
    purpose: CodePurpose,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let counted = code_failures::table
        .find((user.get(), purpose.as_str()))
        .select((code_failures::failures, code_failures::window_started_at))
        .first::<(i32, DateTime<Utc>)>(conn)
        .await
        .optional()?;
    Ok(counted.is_some_and(|(failures, window_started_at)| {
        CodeFailures {
            failures,
            window_started_at,
        }
        .exhausted(now)
    }))
}

/// Counts one wrong code of `user` for `purpose` at `now`, in one atomic
/// upsert: the first failure, or the first after the window is over, opens
/// a new window; any other adds to the open one without moving it.
pub(crate) async fn record_failure(
    conn: &mut PgConn,
    user: UserId,
    purpose: CodePurpose,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    // A window that started after this instant is still open at `now`
    // (the same rule as `CodeFailures::window_open`).
    let open_after = now
        .checked_sub_signed(CODE_FAILURE_WINDOW)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    diesel::sql_query(
        "INSERT INTO code_failures (user_id, purpose, failures, window_started_at) \
         VALUES ($1, $2, 1, $3) \
         ON CONFLICT (user_id, purpose) DO UPDATE SET \
           failures = CASE WHEN code_failures.window_started_at > $4 \
             THEN code_failures.failures + 1 ELSE 1 END, \
           window_started_at = CASE WHEN code_failures.window_started_at > $4 \
             THEN code_failures.window_started_at ELSE EXCLUDED.window_started_at END",
    )
    .bind::<BigInt, _>(user.get())
    .bind::<Text, _>(purpose.as_str())
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(open_after)
    .execute(conn)
    .await?;
    Ok(())
}
