//! [`PgOneTimeSecretStore`], the one-time secrets (email verification,
//! password reset, email change) on the `one_time_secrets` table: issuing
//! a secret, and completing what its proof allows. Consuming a proof is in
//! `consume.rs`, the email change in `email_changes.rs`, and how a
//! transaction fails in `transaction.rs`.

mod consume;
mod email_changes;
mod transaction;

use application::EmailJob;
use application::ports::{
    CompletedReset, EmailChangeOutcome, NewEmailChange, NewSecret, NoticeFor, OneTimeSecretStore,
    SecretStoreError,
};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::{AuditEventKind, PasswordHash, SecretProof, SecretPurpose, User, UserId};

use self::consume::consume;
use self::transaction::{
    Abort, CorruptUser, bounded_transaction, loaded, store_error, unexpected_abort,
};
use crate::account_steps::{UserRow, void_secrets};
use crate::audit_log::record_self_service;
use crate::outbox::queue_emails;
use crate::pool::{Db, PgPool, PgSettings};
use crate::schema::{one_time_secrets, users};
use crate::session_steps::{end_device_tokens, end_sessions};

/// [`OneTimeSecretStore`] on the `one_time_secrets` table. Consuming is one
/// conditional `UPDATE ... WHERE used_at IS NULL AND expires_at > now
/// RETURNING`: of two concurrent consumers, exactly one gets the row.
#[derive(Clone)]
pub struct PgOneTimeSecretStore {
    db: Db,
}

impl PgOneTimeSecretStore {
    pub fn new(pool: PgPool, settings: PgSettings) -> Self {
        Self {
            db: Db::new(pool, settings),
        }
    }
}

#[async_trait]
impl OneTimeSecretStore for PgOneTimeSecretStore {
    #[tracing::instrument(level = "debug", name = "postgres.issue_secret", skip_all, fields(user_id = user.get(), purpose = secret.purpose.as_str()))]
    async fn issue(
        &self,
        user: UserId,
        secret: NewSecret,
        emails: Vec<EmailJob>,
        min_interval: Duration,
    ) -> Result<bool, SecretStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let digests = secret.secret.digests(user);
        let recent_after = secret
            .created_at
            .checked_sub_signed(min_interval)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.db
            .bounded(conn.transaction(async move |conn| {
                // One statement decides: a missing row is inserted, a row
                // older than the interval is replaced, a recent one is left
                // alone and returns nothing. A `SELECT ... FOR UPDATE` first
                // would lock nothing while the row does not exist yet, so
                // concurrent first requests would each send an email.
                let upsert = diesel::insert_into(one_time_secrets::table)
                    .values((
                        one_time_secrets::purpose.eq(secret.purpose.as_str()),
                        one_time_secrets::user_id.eq(user.get()),
                        one_time_secrets::token_hash.eq(digests.token.to_vec()),
                        one_time_secrets::code_hash.eq(digests.code.to_vec()),
                        one_time_secrets::new_email.eq(secret.new_email.as_deref()),
                        one_time_secrets::created_at.eq(secret.created_at),
                        one_time_secrets::expires_at.eq(secret.expires_at),
                    ))
                    .on_conflict((one_time_secrets::purpose, one_time_secrets::user_id))
                    .do_update()
                    // The previous pair dies: its hashes are overwritten.
                    .set((
                        one_time_secrets::token_hash.eq(excluded(one_time_secrets::token_hash)),
                        one_time_secrets::code_hash.eq(excluded(one_time_secrets::code_hash)),
                        one_time_secrets::new_email.eq(excluded(one_time_secrets::new_email)),
                        one_time_secrets::failed_attempts.eq(0),
                        one_time_secrets::created_at.eq(excluded(one_time_secrets::created_at)),
                        one_time_secrets::expires_at.eq(excluded(one_time_secrets::expires_at)),
                        one_time_secrets::used_at.eq(None::<DateTime<Utc>>),
                    ));
                // `ON CONFLICT ... DO UPDATE ... WHERE`: only an old row is replaced.
                let issued = diesel::query_dsl::methods::FilterDsl::filter(
                    upsert,
                    one_time_secrets::created_at.le(recent_after),
                )
                .returning(one_time_secrets::user_id)
                .get_result::<i64>(conn)
                .await
                .optional()?;
                if issued.is_none() {
                    return Ok(false);
                }
                queue_emails(conn, &emails).await?;
                // Only an account's reset is asked for: an unknown address
                // issues nothing, so nothing about it is written.
                if secret.purpose == SecretPurpose::ResetPassword {
                    let requested = AuditEventKind::PasswordResetRequested;
                    record_self_service(conn, requested, user, None, secret.created_at).await?;
                }
                Ok::<_, diesel::result::Error>(true)
            }))
            .await
            .map_err(store_error)
    }

    #[tracing::instrument(level = "debug", name = "postgres.verify_email", skip_all)]
    async fn verify_email(
        &self,
        proof: SecretProof,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, SecretStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let row = self
            .db
            .bounded(conn.transaction(async move |conn| {
                let Some(consumed) = consume(conn, SecretPurpose::VerifyEmail, &proof, now).await?
                else {
                    return Ok(None);
                };
                let row = diesel::update(users::table.find(consumed.user_id))
                    .set(users::email_verified.eq(true))
                    .returning(UserRow::as_returning())
                    .get_result::<UserRow>(conn)
                    .await
                    .optional()?;
                if let Some(row) = &row {
                    let verified = AuditEventKind::EmailVerified;
                    record_self_service(conn, verified, UserId::new(row.id), None, now).await?;
                }
                Ok(row)
            }))
            .await
            .map_err(store_error)?;
        row.map(loaded).transpose()
    }

    #[tracing::instrument(level = "debug", name = "postgres.reset_password", skip_all)]
    async fn reset_password(
        &self,
        proof: SecretProof,
        password_hash: PasswordHash,
        now: DateTime<Utc>,
        notice: NoticeFor,
    ) -> Result<Option<CompletedReset>, SecretStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let transaction = conn.transaction::<_, Abort, _>(async move |conn| {
            let Some(consumed) = consume(conn, SecretPurpose::ResetPassword, &proof, now).await?
            else {
                return Ok(None);
            };
            // The email proved the address, as a verification would.
            let Some(row) = diesel::update(users::table.find(consumed.user_id))
                .set((
                    users::password_hash.eq(password_hash.as_str()),
                    users::email_verified.eq(true),
                ))
                .returning(UserRow::as_returning())
                .get_result::<UserRow>(conn)
                .await
                .optional()?
            else {
                return Ok(None);
            };
            let user = row
                .user()
                .map_err(|error| Abort::Corrupt(CorruptUser(error)))?;
            let ended = end_sessions(conn, user.id, None, now).await?;
            end_device_tokens(conn, user.id).await?;
            void_secrets(conn, user.id, &[SecretPurpose::ChangeEmail], now).await?;
            queue_emails(conn, &[notice(&user)]).await?;
            record_self_service(conn, AuditEventKind::PasswordReset, user.id, None, now).await?;
            Ok(Some(CompletedReset { user, ended }))
        });
        match bounded_transaction(&self.db, transaction).await? {
            Ok(done) => Ok(done),
            Err(Abort::Corrupt(error)) => Err(SecretStoreError::Unexpected(Box::new(error))),
            Err(abort) => Err(unexpected_abort(abort)),
        }
    }

    #[tracing::instrument(level = "debug", name = "postgres.change_email", skip_all)]
    async fn change_email(
        &self,
        proof: SecretProof,
        now: DateTime<Utc>,
    ) -> Result<EmailChangeOutcome, SecretStoreError> {
        email_changes::change_email(&self.db, proof, now).await
    }

    #[tracing::instrument(level = "debug", name = "postgres.issue_email_change", skip_all, fields(user_id = user.get()))]
    async fn issue_email_change(
        &self,
        user: UserId,
        change: NewEmailChange,
        emails: Vec<EmailJob>,
    ) -> Result<(), SecretStoreError> {
        email_changes::issue_email_change(&self.db, user, change, emails).await
    }

    #[tracing::instrument(level = "debug", name = "postgres.undo_email_change", skip_all)]
    async fn undo_email_change(
        &self,
        token: String,
        now: DateTime<Utc>,
    ) -> Result<EmailChangeOutcome, SecretStoreError> {
        email_changes::undo_email_change(&self.db, token, now).await
    }
}
