use application::EmailJob;
use application::ports::{NewSecret, OneTimeSecretStore, SecretStoreError};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::{
    EmailAddress, MAX_CODE_ATTEMPTS, SecretProof, SecretPurpose, User, UserId, code_digest,
    token_digest,
};

use crate::error::Failure;
use crate::pool::{Db, PgPool, PgSettings};
use crate::schema::{email_outbox, one_time_secrets, users};
use crate::users::{UserRow, storable};

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

fn store_error(failure: Failure) -> SecretStoreError {
    match failure {
        Failure::Unavailable(_) => SecretStoreError::Unavailable(failure.into()),
        _ => SecretStoreError::Unexpected(failure.into()),
    }
}

/// A row the domain refuses: reported with its cause, never as a user.
#[derive(Debug, thiserror::Error)]
#[error("a stored user no longer loads")]
struct CorruptUser(#[source] application::ports::RepositoryError);

/// Consumes the live secret `purpose` of whoever `proof` names; the user id.
/// A wrong code counts against the code's tries (in this transaction, which
/// commits even though the proof failed).
async fn consume(
    conn: &mut AsyncPgConnection,
    purpose: SecretPurpose,
    proof: &SecretProof,
    now: DateTime<Utc>,
) -> QueryResult<Option<i64>> {
    let live = one_time_secrets::table
        .filter(one_time_secrets::purpose.eq(purpose.as_str()))
        .filter(one_time_secrets::used_at.is_null())
        .filter(one_time_secrets::expires_at.gt(now));
    match proof {
        SecretProof::Token(token) => diesel::update(
            live.filter(one_time_secrets::token_hash.eq(token_digest(token).to_vec())),
        )
        .set(one_time_secrets::used_at.eq(now))
        .returning(one_time_secrets::user_id)
        .get_result::<i64>(conn)
        .await
        .optional(),
        SecretProof::Code { email, code } => {
            let Some(key) = EmailAddress::from_storage(email)
                .ok()
                .map(|address| address.normalized())
                .filter(|key| storable(key))
            else {
                return Ok(None);
            };
            let Some(user_id) = users::table
                .filter(users::email_normalized.eq(key))
                .select(users::id)
                .first::<i64>(conn)
                .await
                .optional()?
            else {
                return Ok(None);
            };
            let mine = live
                .filter(one_time_secrets::user_id.eq(user_id))
                .filter(one_time_secrets::failed_attempts.lt(MAX_CODE_ATTEMPTS));
            let digest = code_digest(UserId::new(user_id), code).to_vec();
            let consumed = diesel::update(mine.filter(one_time_secrets::code_hash.eq(digest)))
                .set(one_time_secrets::used_at.eq(now))
                .returning(one_time_secrets::user_id)
                .get_result::<i64>(conn)
                .await
                .optional()?;
            if consumed.is_none() {
                diesel::update(mine)
                    .set(
                        one_time_secrets::failed_attempts.eq(one_time_secrets::failed_attempts + 1),
                    )
                    .execute(conn)
                    .await?;
            }
            Ok(consumed)
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
        email: EmailJob,
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
                let last = one_time_secrets::table
                    .find((secret.purpose.as_str(), user.get()))
                    .select(one_time_secrets::created_at)
                    .for_update()
                    .first::<DateTime<Utc>>(conn)
                    .await
                    .optional()?;
                if last.is_some_and(|sent| sent > recent_after) {
                    return Ok(false);
                }
                diesel::insert_into(one_time_secrets::table)
                    .values((
                        one_time_secrets::purpose.eq(secret.purpose.as_str()),
                        one_time_secrets::user_id.eq(user.get()),
                        one_time_secrets::token_hash.eq(digests.token.to_vec()),
                        one_time_secrets::code_hash.eq(digests.code.to_vec()),
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
                    ))
                    .execute(conn)
                    .await?;
                diesel::insert_into(email_outbox::table)
                    .values((
                        email_outbox::id.eq(email.id),
                        email_outbox::payload.eq(email.to_json()),
                        email_outbox::created_at.eq(email.created_at),
                    ))
                    .execute(conn)
                    .await?;
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
                let Some(user_id) = consume(conn, SecretPurpose::VerifyEmail, &proof, now).await?
                else {
                    return Ok(None);
                };
                diesel::update(users::table.find(user_id))
                    .set(users::email_verified.eq(true))
                    .returning(UserRow::as_returning())
                    .get_result::<UserRow>(conn)
                    .await
                    .optional()
            }))
            .await
            .map_err(store_error)?;
        row.map(UserRow::user)
            .transpose()
            .map_err(|error| SecretStoreError::Unexpected(Box::new(CorruptUser(error))))
    }
}
