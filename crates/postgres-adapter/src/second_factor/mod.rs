//! [`PgSecondFactorStore`]: the second factor on the `totp_factors`,
//! `recovery_codes` and `mfa_challenges` tables (migration 40).
//!
//! Every rule the port states for concurrency is one conditional statement
//! here, whose WHERE clause PostgreSQL re-checks on the row version a
//! concurrent winner committed: a step is taken by one UPDATE, a recovery
//! code used by one UPDATE, a challenge consumed by one DELETE. Nothing is
//! read first and written after.
//!
//! The sealed secret and the digests are never logged: the spans carry the
//! user id only.

mod challenges;
mod recovery;
mod totp;

use application::EmailJob;
use application::ports::{
    Challenge, DisableTotp, EnableTotp, EndedSession, NewAuditEvent, NewChallenge, RecoveryNotice,
    SealedTotpSecret, SecondFactorStatus, SecondFactorStore, SecondFactorStoreError, StoredTotp,
    TotpEnabled, TotpEnrolment,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{TimeStep, UserId};

use crate::error::Failure;
use crate::pool::{Db, PgPool, PgSettings};

/// [`SecondFactorStore`] on PostgreSQL.
#[derive(Clone)]
pub struct PgSecondFactorStore {
    db: Db,
}

impl PgSecondFactorStore {
    pub fn new(pool: PgPool, settings: PgSettings) -> Self {
        Self {
            db: Db::new(pool, settings),
        }
    }
}

fn store_error(failure: Failure) -> SecondFactorStoreError {
    match failure {
        Failure::Unavailable(_) => SecondFactorStoreError::Unavailable(failure.into()),
        _ => SecondFactorStoreError::Unexpected(failure.into()),
    }
}

/// A stored row the table's checks let in but this code cannot read (a
/// digest that is not 32 bytes): a bug or a manual edit.
#[derive(Debug, thiserror::Error)]
#[error("a stored {what} has an unreadable {field}")]
struct CorruptRow {
    what: &'static str,
    field: &'static str,
}

impl From<CorruptRow> for SecondFactorStoreError {
    fn from(error: CorruptRow) -> Self {
        SecondFactorStoreError::Unexpected(Box::new(error))
    }
}

#[async_trait]
impl SecondFactorStore for PgSecondFactorStore {
    #[tracing::instrument(level = "debug", name = "postgres.begin_totp", skip_all, fields(user_id = user.get()))]
    async fn begin_totp(
        &self,
        user: UserId,
        sealed: SealedTotpSecret,
        now: DateTime<Utc>,
    ) -> Result<TotpEnrolment, SecondFactorStoreError> {
        self.begin(user, sealed, now).await
    }

    #[tracing::instrument(level = "debug", name = "postgres.totp", skip_all, fields(user_id = user.get()))]
    async fn totp(&self, user: UserId) -> Result<Option<StoredTotp>, SecondFactorStoreError> {
        self.factor(user).await
    }

    #[tracing::instrument(level = "debug", name = "postgres.enable_totp", skip_all, fields(user_id = enable.user.get()))]
    async fn enable_totp(&self, enable: EnableTotp) -> Result<TotpEnabled, SecondFactorStoreError> {
        self.enable(enable).await
    }

    #[tracing::instrument(level = "debug", name = "postgres.accept_step", skip_all, fields(user_id = user.get()))]
    async fn accept_step(
        &self,
        user: UserId,
        step: TimeStep,
    ) -> Result<bool, SecondFactorStoreError> {
        self.take_step(user, step).await
    }

    #[tracing::instrument(level = "debug", name = "postgres.disable_totp", skip_all, fields(user_id = disable.user.get()))]
    async fn disable_totp(
        &self,
        disable: DisableTotp,
    ) -> Result<Option<Vec<EndedSession>>, SecondFactorStoreError> {
        self.disable(disable).await
    }

    #[tracing::instrument(level = "debug", name = "postgres.second_factor_status", skip_all, fields(user_id = user.get()))]
    async fn status(&self, user: UserId) -> Result<SecondFactorStatus, SecondFactorStoreError> {
        self.current_status(user).await
    }

    #[tracing::instrument(level = "debug", name = "postgres.use_recovery_code", skip_all, fields(user_id = user.get()))]
    async fn use_recovery_code(
        &self,
        user: UserId,
        digest: [u8; 32],
        notice: RecoveryNotice,
        audit: NewAuditEvent,
        now: DateTime<Utc>,
    ) -> Result<Option<u32>, SecondFactorStoreError> {
        self.use_code(user, digest, notice, audit, now).await
    }

    #[tracing::instrument(level = "debug", name = "postgres.replace_recovery_codes", skip_all, fields(user_id = user.get()))]
    async fn replace_recovery_codes(
        &self,
        user: UserId,
        digests: Vec<[u8; 32]>,
        notice: EmailJob,
        now: DateTime<Utc>,
    ) -> Result<bool, SecondFactorStoreError> {
        self.replace_codes(user, digests, notice, now).await
    }

    #[tracing::instrument(level = "debug", name = "postgres.open_challenge", skip_all, fields(user_id = challenge.user.get()))]
    async fn open_challenge(&self, challenge: NewChallenge) -> Result<(), SecondFactorStoreError> {
        self.open(challenge).await
    }

    #[tracing::instrument(level = "debug", name = "postgres.challenge", skip_all)]
    async fn challenge(
        &self,
        digest: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<Challenge>, SecondFactorStoreError> {
        self.live_challenge(digest, now).await
    }

    #[tracing::instrument(level = "debug", name = "postgres.record_wrong_code", skip_all, fields(user_id = user.get(), counts_toward_budget))]
    async fn record_wrong_code(
        &self,
        digest: [u8; 32],
        user: UserId,
        counts_toward_budget: bool,
        now: DateTime<Utc>,
    ) -> Result<(), SecondFactorStoreError> {
        self.wrong_code(digest, user, counts_toward_budget, now)
            .await
    }

    #[tracing::instrument(level = "debug", name = "postgres.mfa_budget_exhausted", skip_all, fields(user_id = user.get()))]
    async fn budget_exhausted(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, SecondFactorStoreError> {
        self.budget_spent(user, now).await
    }

    #[tracing::instrument(level = "debug", name = "postgres.consume_challenge", skip_all)]
    async fn consume_challenge(
        &self,
        digest: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<Challenge>, SecondFactorStoreError> {
        self.consume(digest, now).await
    }
}
