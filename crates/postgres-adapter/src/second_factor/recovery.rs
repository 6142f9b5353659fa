//! Recovery codes: each used once, replaced as a set.

use application::EmailJob;
use application::ports::{NewAuditEvent, RecoveryNotice, SecondFactorStoreError};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::UserId;

use super::{PgSecondFactorStore, store_error};
use crate::audit_log::record_in;
use crate::connection::PgConn;
use crate::outbox::queue_emails;
use crate::schema::{recovery_codes, totp_factors};

/// Locks `user`'s factor row if TOTP is enabled, inside the caller's
/// transaction: the codes are only good while it is, and the uses and
/// replacements of one user's codes take turns on this lock, so the number
/// of codes left each one counts is exact (and a disabling, which deletes
/// the row, cannot interleave).
async fn lock_enabled_factor(conn: &mut PgConn, user: UserId) -> QueryResult<bool> {
    let locked = totp_factors::table
        .find(user.get())
        .filter(totp_factors::enabled_at.is_not_null())
        .select(totp_factors::user_id)
        .for_no_key_update()
        .first::<i64>(conn)
        .await
        .optional()?;
    Ok(locked.is_some())
}

/// Deletes every code of `user`, used or not, inside the caller's
/// transaction.
pub(super) async fn delete_codes(conn: &mut PgConn, user: UserId) -> QueryResult<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user.get())))
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores `digests` as unused codes of `user`, inside the caller's
/// transaction. A digest given twice is one code (the primary key).
pub(super) async fn insert_codes(
    conn: &mut PgConn,
    user: UserId,
    digests: &[[u8; 32]],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    if digests.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = digests
        .iter()
        .map(|digest| {
            (
                recovery_codes::user_id.eq(user.get()),
                recovery_codes::digest.eq(digest.to_vec()),
                recovery_codes::created_at.eq(now),
            )
        })
        .collect();
    diesel::insert_into(recovery_codes::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// How many unused codes `user` has (through `recovery_codes_unused_idx`).
pub(super) async fn unused_codes(conn: &mut PgConn, user: UserId) -> QueryResult<u32> {
    let count = recovery_codes::table
        .filter(recovery_codes::user_id.eq(user.get()))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result::<i64>(conn)
        .await?;
    // A count is never negative; more than u32::MAX codes cannot be stored
    // by this service.
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

impl PgSecondFactorStore {
    pub(super) async fn use_code(
        &self,
        user: UserId,
        digest: [u8; 32],
        notice: RecoveryNotice,
        audit: NewAuditEvent,
        now: DateTime<Utc>,
    ) -> Result<Option<u32>, SecondFactorStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        self.db
            .bounded(conn.transaction(async move |conn| {
                if !lock_enabled_factor(conn, user).await? {
                    return Ok(None);
                }
                // One atomic update: of concurrent uses of one code, the
                // first to commit sets `used_at`, and the others' WHERE no
                // longer holds on the version it committed.
                let used = diesel::update(
                    recovery_codes::table
                        .find((user.get(), digest.to_vec()))
                        .filter(recovery_codes::used_at.is_null()),
                )
                .set(recovery_codes::used_at.eq(now))
                .returning(recovery_codes::user_id)
                .get_result::<i64>(conn)
                .await
                .optional()?;
                if used.is_none() {
                    return Ok(None);
                }
                let left = unused_codes(conn, user).await?;
                queue_emails(conn, &[notice(left)]).await?;
                record_in(conn, std::slice::from_ref(&audit)).await?;
                Ok::<_, diesel::result::Error>(Some(left))
            }))
            .await
            .map_err(store_error)
    }

    pub(super) async fn replace_codes(
        &self,
        user: UserId,
        digests: Vec<[u8; 32]>,
        notice: EmailJob,
        now: DateTime<Utc>,
    ) -> Result<bool, SecondFactorStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        self.db
            .bounded(conn.transaction(async move |conn| {
                if !lock_enabled_factor(conn, user).await? {
                    return Ok(false);
                }
                delete_codes(conn, user).await?;
                insert_codes(conn, user, &digests, now).await?;
                queue_emails(conn, std::slice::from_ref(&notice)).await?;
                Ok::<_, diesel::result::Error>(true)
            }))
            .await
            .map_err(store_error)
    }
}
