use application::EmailJob;
use application::ports::{
    CompletedReset, EmailChangeOutcome, NewSecret, NoticeFor, OneTimeSecretStore, SecretStoreError,
};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::{
    EmailAddress, MAX_CODE_ATTEMPTS, PasswordHash, SecretProof, SecretPurpose, User, UserId,
    code_digest, token_digest,
};

use crate::error::Failure;
use crate::outbox::queue_emails;
use crate::pool::{Db, PgPool, PgSettings};
use crate::schema::{one_time_secrets, users};
use crate::sessions::end_sessions;
use crate::users::{EMAIL_UNIQUE, UserRow, storable};

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

/// A secret just consumed: whose, and (for an email change) the address it
/// was issued for.
struct Consumed {
    user_id: i64,
    new_email: Option<String>,
}

/// Consumes the live secret `purpose` of whoever `proof` names. A wrong
/// code counts against the code's tries (in this transaction, which commits
/// even though the proof failed).
async fn consume(
    conn: &mut AsyncPgConnection,
    purpose: SecretPurpose,
    proof: &SecretProof,
    now: DateTime<Utc>,
) -> QueryResult<Option<Consumed>> {
    let live = one_time_secrets::table
        .filter(one_time_secrets::purpose.eq(purpose.as_str()))
        .filter(one_time_secrets::used_at.is_null())
        .filter(one_time_secrets::expires_at.gt(now));
    match proof {
        SecretProof::Token(token) => diesel::update(
            live.filter(one_time_secrets::token_hash.eq(token_digest(token).to_vec())),
        )
        .set(one_time_secrets::used_at.eq(now))
        .returning((one_time_secrets::user_id, one_time_secrets::new_email))
        .get_result::<(i64, Option<String>)>(conn)
        .await
        .optional()
        .map(|row| row.map(Consumed::from)),
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
                .returning((one_time_secrets::user_id, one_time_secrets::new_email))
                .get_result::<(i64, Option<String>)>(conn)
                .await
                .optional()?
                .map(Consumed::from);
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

/// Kills `user`'s live secrets of these purposes, inside the caller's
/// transaction. A change of password or address must not leave behind a
/// link that undoes it: a pending email change an intruder asked for
/// outliving the reset that threw them out, or a reset link sent to the
/// address the account just left.
pub(crate) async fn void_secrets(
    conn: &mut AsyncPgConnection,
    user: UserId,
    purposes: &[SecretPurpose],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let purposes: Vec<&str> = purposes.iter().map(|purpose| purpose.as_str()).collect();
    diesel::update(
        one_time_secrets::table
            .filter(one_time_secrets::user_id.eq(user.get()))
            .filter(one_time_secrets::purpose.eq_any(purposes))
            .filter(one_time_secrets::used_at.is_null()),
    )
    .set(one_time_secrets::used_at.eq(now))
    .execute(conn)
    .await?;
    Ok(())
}

impl From<(i64, Option<String>)> for Consumed {
    fn from((user_id, new_email): (i64, Option<String>)) -> Self {
        Self { user_id, new_email }
    }
}

/// Loads a user row as a domain user; a row the domain refuses is a bug or
/// a manual edit, reported with its cause.
fn loaded(row: UserRow) -> Result<User, SecretStoreError> {
    row.user()
        .map_err(|error| SecretStoreError::Unexpected(Box::new(CorruptUser(error))))
}

/// Why a transaction of this store was rolled back.
#[derive(Debug)]
enum Abort {
    Query(diesel::result::Error),
    /// Another account holds the address an email change moves to.
    AddressTaken,
    /// A user row the domain refuses.
    Corrupt(CorruptUser),
}

impl From<diesel::result::Error> for Abort {
    fn from(error: diesel::result::Error) -> Self {
        match error {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                ref info,
            ) if info.constraint_name() == Some(EMAIL_UNIQUE) => Abort::AddressTaken,
            other => Abort::Query(other),
        }
    }
}

/// Runs `transaction` within the query timeout, keeping a rollback's reason
/// apart from the driver's errors.
async fn bounded_transaction<T>(
    db: &Db,
    transaction: impl Future<Output = Result<T, Abort>>,
) -> Result<Result<T, Abort>, SecretStoreError> {
    db.bounded(async {
        match transaction.await {
            Err(Abort::Query(error)) => Err(error),
            other => Ok(other),
        }
    })
    .await
    .map_err(store_error)
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
                diesel::update(users::table.find(consumed.user_id))
                    .set(users::email_verified.eq(true))
                    .returning(UserRow::as_returning())
                    .get_result::<UserRow>(conn)
                    .await
                    .optional()
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
            void_secrets(conn, user.id, &[SecretPurpose::ChangeEmail], now).await?;
            queue_emails(conn, &[notice(&user)]).await?;
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
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let transaction = conn.transaction::<_, Abort, _>(async move |conn| {
            let Some(consumed) = consume(conn, SecretPurpose::ChangeEmail, &proof, now).await?
            else {
                return Ok(None);
            };
            let Some(address) = consumed
                .new_email
                .as_deref()
                .and_then(|stored| EmailAddress::from_storage(stored).ok())
            else {
                return Ok(None);
            };
            let normalized = address.normalized();
            let taken = users::table
                .filter(users::email_normalized.eq(&normalized))
                .filter(users::id.ne(consumed.user_id))
                .select(users::id)
                .first::<i64>(conn)
                .await
                .optional()?
                .is_some();
            if taken {
                // Rolls the consumption back too: the link still works
                // should the other account let the address go.
                return Err(Abort::AddressTaken);
            }
            // A concurrent registration of the address fails this update
            // on the unique constraint: `AddressTaken` as well.
            let row = diesel::update(users::table.find(consumed.user_id))
                .set((
                    users::email.eq(address.as_str()),
                    users::email_normalized.eq(&normalized),
                    users::email_verified.eq(true),
                ))
                .returning(UserRow::as_returning())
                .get_result::<UserRow>(conn)
                .await
                .optional()?;
            if row.is_some() {
                // Links sent to the address the account just left.
                let user = UserId::new(consumed.user_id);
                let old = [SecretPurpose::ResetPassword, SecretPurpose::VerifyEmail];
                void_secrets(conn, user, &old, now).await?;
            }
            row.map(|row| {
                row.user()
                    .map_err(|error| Abort::Corrupt(CorruptUser(error)))
            })
            .transpose()
        });
        match bounded_transaction(&self.db, transaction).await? {
            Ok(Some(user)) => Ok(EmailChangeOutcome::Changed(user)),
            Ok(None) => Ok(EmailChangeOutcome::InvalidOrExpired),
            Err(Abort::AddressTaken) => Ok(EmailChangeOutcome::AddressTaken),
            Err(Abort::Corrupt(error)) => Err(SecretStoreError::Unexpected(Box::new(error))),
            Err(abort @ Abort::Query(_)) => Err(unexpected_abort(abort)),
        }
    }
}

/// An abort a transaction cannot end with (a query error is returned as
/// such by [`bounded_transaction`]; an address conflict only by an email
/// change): reported as a bug.
fn unexpected_abort(abort: Abort) -> SecretStoreError {
    SecretStoreError::Unexpected(format!("transaction aborted unexpectedly: {abort:?}").into())
}
