//! The `mfa_token`s of logins waiting for their second step, and the
//! budget of wrong second-factor codes.

use std::net::IpAddr;

use application::ports::{Challenge, NewChallenge, SecondFactorStoreError, SessionEpoch};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Int4, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::{ClientDevice, CodePurpose, MFA_CHALLENGE_TRIES, UserId};

use super::{CorruptRow, PgSecondFactorStore, store_error};
use crate::code_budget;
use crate::schema::mfa_challenges;

/// Uses a live challenge up in one atomic delete: of concurrent calls, the
/// first to commit removes the row, and the others find nothing to delete.
const CONSUME: &str = "\
DELETE FROM mfa_challenges WHERE digest = $1 AND expires_at > $2 AND failures < $3 \
RETURNING user_id, session_epoch, ip, user_agent, known_device, expires_at, failures";

#[derive(QueryableByName, Queryable, Selectable)]
#[diesel(table_name = mfa_challenges, check_for_backend(diesel::pg::Pg))]
struct ChallengeRow {
    #[diesel(sql_type = BigInt)]
    user_id: i64,
    #[diesel(sql_type = BigInt)]
    session_epoch: i64,
    #[diesel(sql_type = Nullable<Text>)]
    ip: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    user_agent: Option<String>,
    #[diesel(sql_type = Nullable<Bytea>)]
    known_device: Option<Vec<u8>>,
    #[diesel(sql_type = Timestamptz)]
    expires_at: DateTime<Utc>,
    #[diesel(sql_type = Int4)]
    failures: i32,
}

impl ChallengeRow {
    fn into_challenge(self) -> Result<Challenge, CorruptRow> {
        let known_device = self
            .known_device
            .map(|digest| <[u8; 32]>::try_from(digest.as_slice()))
            .transpose()
            .map_err(|_| CorruptRow {
                what: "mfa challenge",
                field: "known_device",
            })?;
        Ok(Challenge {
            user: UserId::new(self.user_id),
            epoch: SessionEpoch(self.session_epoch),
            // Read back as `sessions` reads its client: an address that no
            // longer parses is dropped rather than failing the login.
            device: ClientDevice::new(
                self.ip.and_then(|ip| ip.parse::<IpAddr>().ok()),
                self.user_agent.as_deref(),
            ),
            known_device,
            expires_at: self.expires_at,
            failures: self.failures,
        })
    }
}

fn read(row: Option<ChallengeRow>) -> Result<Option<Challenge>, SecondFactorStoreError> {
    Ok(row.map(ChallengeRow::into_challenge).transpose()?)
}

impl PgSecondFactorStore {
    pub(super) async fn open(&self, challenge: NewChallenge) -> Result<(), SecondFactorStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let user_id = challenge.user.get();
        let ip = challenge.device.ip().map(|ip| ip.to_string());
        let network = challenge.device.network();
        let user_agent = challenge.device.user_agent().map(str::to_owned);
        self.db
            .bounded(conn.transaction(async move |conn| {
                // The user's own expired challenges go as a new one comes
                // (through `mfa_challenges_user_idx`): a user's rows stay
                // few between purges.
                diesel::delete(
                    mfa_challenges::table
                        .filter(mfa_challenges::user_id.eq(user_id))
                        .filter(mfa_challenges::expires_at.le(challenge.created_at)),
                )
                .execute(conn)
                .await?;
                diesel::insert_into(mfa_challenges::table)
                    .values((
                        mfa_challenges::digest.eq(challenge.digest.to_vec()),
                        mfa_challenges::user_id.eq(user_id),
                        mfa_challenges::session_epoch.eq(challenge.epoch.0),
                        mfa_challenges::ip.eq(ip),
                        mfa_challenges::network.eq(network),
                        mfa_challenges::user_agent.eq(user_agent),
                        mfa_challenges::known_device
                            .eq(challenge.known_device.map(|digest| digest.to_vec())),
                        mfa_challenges::created_at.eq(challenge.created_at),
                        mfa_challenges::expires_at.eq(challenge.expires_at),
                    ))
                    .execute(conn)
                    .await?;
                Ok::<_, diesel::result::Error>(())
            }))
            .await
            .map_err(store_error)
    }

    pub(super) async fn live_challenge(
        &self,
        digest: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<Challenge>, SecondFactorStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let query = mfa_challenges::table
            .find(digest.to_vec())
            .filter(mfa_challenges::expires_at.gt(now))
            .filter(mfa_challenges::failures.lt(MFA_CHALLENGE_TRIES))
            .select(ChallengeRow::as_select())
            .first::<ChallengeRow>(&mut conn);
        let row = self
            .db
            .bounded(async { query.await.optional() })
            .await
            .map_err(store_error)?;
        read(row)
    }

    pub(super) async fn wrong_code(
        &self,
        digest: [u8; 32],
        user: UserId,
        counts_toward_budget: bool,
        now: DateTime<Utc>,
    ) -> Result<(), SecondFactorStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        self.db
            .bounded(conn.transaction(async move |conn| {
                // A dead challenge is not counted further: it is found by
                // nothing, and its count stays bounded.
                diesel::update(
                    mfa_challenges::table
                        .find(digest.to_vec())
                        .filter(mfa_challenges::user_id.eq(user.get()))
                        .filter(mfa_challenges::failures.lt(MFA_CHALLENGE_TRIES)),
                )
                .set(mfa_challenges::failures.eq(mfa_challenges::failures + 1))
                .execute(conn)
                .await?;
                // A wrong TOTP code counts even if its challenge died or
                // was used meanwhile: it was a guess all the same.
                if counts_toward_budget {
                    code_budget::record_failure(conn, user, CodePurpose::SecondFactor, now).await?;
                }
                Ok::<_, diesel::result::Error>(())
            }))
            .await
            .map_err(store_error)
    }

    pub(super) async fn budget_spent(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, SecondFactorStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        self.db
            .bounded(code_budget::exhausted(
                &mut conn,
                user,
                CodePurpose::SecondFactor,
                now,
            ))
            .await
            .map_err(store_error)
    }

    pub(super) async fn consume(
        &self,
        digest: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<Challenge>, SecondFactorStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let query = diesel::sql_query(CONSUME)
            .bind::<Bytea, _>(digest.to_vec())
            .bind::<Timestamptz, _>(now)
            .bind::<Int4, _>(MFA_CHALLENGE_TRIES)
            .get_result::<ChallengeRow>(&mut conn);
        let row = self
            .db
            .bounded(async { query.await.optional() })
            .await
            .map_err(store_error)?;
        read(row)
    }
}
