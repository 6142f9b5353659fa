//! The TOTP factor: enrolment, enabling, taking a step, disabling, and
//! what the status page shows.

use application::ports::{
    DisableTotp, EnableTotp, EndedSession, SealedTotpSecret, SecondFactorStatus,
    SecondFactorStoreError, StoredTotp, TotpEnabled, TotpEnrolment,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::{TimeStep, UserId};

use super::recovery::{delete_codes, insert_codes, unused_codes};
use super::{PgSecondFactorStore, store_error};
use crate::audit_log::record_in;
use crate::outbox::queue_emails;
use crate::schema::totp_factors;
use crate::session_steps::end_sessions;

/// A new pending secret, or one replacing a pending one; an enabled row is
/// left alone (the WHERE of the upsert), which the count of rows tells.
const BEGIN: &str = "\
INSERT INTO totp_factors (user_id, key_id, nonce, ciphertext, created_at) \
VALUES ($1, $2, $3, $4, $5) \
ON CONFLICT (user_id) DO UPDATE SET key_id = EXCLUDED.key_id, nonce = EXCLUDED.nonce, \
    ciphertext = EXCLUDED.ciphertext, created_at = EXCLUDED.created_at, last_step = NULL \
WHERE totp_factors.enabled_at IS NULL";

/// Takes step `$2` of an enabled factor, only if it is after the last one
/// taken: of concurrent calls with one step, the first to commit moves
/// `last_step`, and PostgreSQL re-checks the others' WHERE on that version.
const TAKE_STEP: &str = "\
UPDATE totp_factors SET last_step = $2 \
WHERE user_id = $1 AND enabled_at IS NOT NULL AND (last_step IS NULL OR last_step < $2)";

/// The same compare-and-set on a pending factor, which it enables.
const ENABLE: &str = "\
UPDATE totp_factors SET enabled_at = $3, last_step = $2 \
WHERE user_id = $1 AND enabled_at IS NULL AND (last_step IS NULL OR last_step < $2)";

#[derive(Queryable, Selectable)]
#[diesel(table_name = totp_factors, check_for_backend(diesel::pg::Pg))]
struct FactorRow {
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    enabled_at: Option<DateTime<Utc>>,
    last_step: Option<i64>,
}

impl From<FactorRow> for StoredTotp {
    fn from(row: FactorRow) -> Self {
        StoredTotp {
            sealed: SealedTotpSecret {
                key_id: row.key_id,
                nonce: row.nonce,
                ciphertext: row.ciphertext,
            },
            enabled_at: row.enabled_at,
            last_step: row.last_step.map(TimeStep::new),
        }
    }
}

impl PgSecondFactorStore {
    pub(super) async fn begin(
        &self,
        user: UserId,
        sealed: SealedTotpSecret,
        now: DateTime<Utc>,
    ) -> Result<TotpEnrolment, SecondFactorStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let query = diesel::sql_query(BEGIN)
            .bind::<BigInt, _>(user.get())
            .bind::<Text, _>(sealed.key_id)
            .bind::<Bytea, _>(sealed.nonce)
            .bind::<Bytea, _>(sealed.ciphertext)
            .bind::<Timestamptz, _>(now)
            .execute(&mut conn);
        let stored = self.db.bounded(query).await.map_err(store_error)?;
        Ok(if stored == 1 {
            TotpEnrolment::Started
        } else {
            TotpEnrolment::AlreadyEnabled
        })
    }

    pub(super) async fn factor(
        &self,
        user: UserId,
    ) -> Result<Option<StoredTotp>, SecondFactorStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let query = totp_factors::table
            .find(user.get())
            .select(FactorRow::as_select())
            .first::<FactorRow>(&mut conn);
        let row = self
            .db
            .bounded(async { query.await.optional() })
            .await
            .map_err(store_error)?;
        Ok(row.map(StoredTotp::from))
    }

    pub(super) async fn enable(
        &self,
        enable: EnableTotp,
    ) -> Result<TotpEnabled, SecondFactorStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let EnableTotp {
            user,
            step,
            recovery_codes,
            keep,
            notice,
            audit,
            now,
        } = enable;
        self.db
            .bounded(conn.transaction(async move |conn| {
                let enabled = diesel::sql_query(ENABLE)
                    .bind::<BigInt, _>(user.get())
                    .bind::<BigInt, _>(step.get())
                    .bind::<Timestamptz, _>(now)
                    .execute(conn)
                    .await?;
                if enabled != 1 {
                    // Nothing written: the transaction commits no change.
                    return Ok(TotpEnabled::Refused);
                }
                // A pending factor has no codes, but codes left by anything
                // earlier must not outlive the new set.
                delete_codes(conn, user).await?;
                insert_codes(conn, user, &recovery_codes, now).await?;
                let ended = end_sessions(conn, user, Some(keep.as_str()), now).await?;
                queue_emails(conn, std::slice::from_ref(&notice)).await?;
                record_in(conn, std::slice::from_ref(&audit)).await?;
                Ok::<_, diesel::result::Error>(TotpEnabled::Enabled { ended })
            }))
            .await
            .map_err(store_error)
    }

    pub(super) async fn take_step(
        &self,
        user: UserId,
        step: TimeStep,
    ) -> Result<bool, SecondFactorStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let query = diesel::sql_query(TAKE_STEP)
            .bind::<BigInt, _>(user.get())
            .bind::<BigInt, _>(step.get())
            .execute(&mut conn);
        let taken = self.db.bounded(query).await.map_err(store_error)?;
        Ok(taken == 1)
    }

    pub(super) async fn disable(
        &self,
        disable: DisableTotp,
    ) -> Result<Option<Vec<EndedSession>>, SecondFactorStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let DisableTotp {
            user,
            keep,
            notice,
            audit,
            now,
        } = disable;
        self.db
            .bounded(conn.transaction(async move |conn| {
                let deleted = diesel::delete(
                    totp_factors::table
                        .find(user.get())
                        .filter(totp_factors::enabled_at.is_not_null()),
                )
                .execute(conn)
                .await?;
                if deleted != 1 {
                    return Ok(None);
                }
                delete_codes(conn, user).await?;
                let ended = end_sessions(conn, user, Some(keep.as_str()), now).await?;
                queue_emails(conn, std::slice::from_ref(&notice)).await?;
                record_in(conn, std::slice::from_ref(&audit)).await?;
                Ok::<_, diesel::result::Error>(Some(ended))
            }))
            .await
            .map_err(store_error)
    }

    pub(super) async fn current_status(
        &self,
        user: UserId,
    ) -> Result<SecondFactorStatus, SecondFactorStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        self.db
            .bounded(async {
                let enabled_at = totp_factors::table
                    .find(user.get())
                    .select(totp_factors::enabled_at)
                    .first::<Option<DateTime<Utc>>>(&mut conn)
                    .await
                    .optional()?
                    .flatten();
                let Some(enabled_at) = enabled_at else {
                    // A pending enrolment is not shown, nor are codes.
                    return Ok(SecondFactorStatus::default());
                };
                Ok(SecondFactorStatus {
                    totp_enabled_at: Some(enabled_at),
                    recovery_codes_remaining: unused_codes(&mut conn, user).await?,
                })
            })
            .await
            .map_err(store_error)
    }
}
