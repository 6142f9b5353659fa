use application::EmailJob;
use application::ports::{
    CompletedEmailChange, CompletedReset, EmailChangeOutcome, NewEmailChange, NewSecret, NoticeFor,
    OneTimeSecretStore, SecretStoreError,
};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::{
    CodePurpose, EmailAddress, MAX_CODE_ATTEMPTS, PasswordHash, SecretProof, SecretPurpose, User,
    UserId, code_digest, token_digest,
};

use crate::account_steps::{EMAIL_UNIQUE, UserRow, storable, void_secrets};
use crate::code_budget;
use crate::error::Failure;
use crate::outbox::queue_emails;
use crate::pool::{Db, PgPool, PgSettings};
use crate::schema::{email_change_undos, one_time_secrets, users};
use crate::sessions::{end_device_tokens, end_sessions};

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
/// code counts against the code's tries and the account's budget of wrong
/// codes for `purpose` (in this transaction, which commits even though the
/// proof failed); once that budget is spent, no code of `purpose` is
/// accepted, and only the link's token still works.
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
            let user = UserId::new(user_id);
            let live = live.filter(one_time_secrets::user_id.eq(user_id));
            // Code attempts of one account and purpose take turns on the
            // live secret's row, so the budget check below is exact however
            // many arrive at once. No live secret: no code to guess.
            let locked = live
                .select(one_time_secrets::user_id)
                .for_update()
                .first::<i64>(conn)
                .await
                .optional()?;
            let budget = CodePurpose::from(purpose);
            if locked.is_none() || code_budget::exhausted(conn, user, budget, now).await? {
                return Ok(None);
            }
            let mine = live.filter(one_time_secrets::failed_attempts.lt(MAX_CODE_ATTEMPTS));
            let digest = code_digest(user, code).to_vec();
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
                code_budget::record_failure(conn, user, budget, now).await?;
            }
            Ok(consumed)
        }
    }
}

/// Moves `user` to `address`, verified, inside the caller's transaction.
/// `AddressTaken` when another account holds it (checked first, and again
/// by the unique constraint should a registration race this update);
/// `None` when the user is gone.
async fn move_to(
    conn: &mut AsyncPgConnection,
    user: UserId,
    address: &EmailAddress,
) -> Result<Option<User>, Abort> {
    let normalized = address.normalized();
    let taken = users::table
        .filter(users::email_normalized.eq(&normalized))
        .filter(users::id.ne(user.get()))
        .select(users::id)
        .first::<i64>(conn)
        .await
        .optional()?
        .is_some();
    if taken {
        // Rolls the consumption back too: the link still works should
        // the other account let the address go.
        return Err(Abort::AddressTaken);
    }
    let row = diesel::update(users::table.find(user.get()))
        .set((
            users::email.eq(address.as_str()),
            users::email_normalized.eq(&normalized),
            users::email_verified.eq(true),
        ))
        .returning(UserRow::as_returning())
        .get_result::<UserRow>(conn)
        .await
        .optional()?;
    row.map(|row| {
        row.user()
            .map_err(|error| Abort::Corrupt(CorruptUser(error)))
    })
    .transpose()
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
            end_device_tokens(conn, user.id).await?;
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
            // The session that asked keeps going; every other one ends.
            let keep = one_time_secrets::table
                .find((SecretPurpose::ChangeEmail.as_str(), consumed.user_id))
                .select(one_time_secrets::session_id)
                .first::<Option<String>>(conn)
                .await
                .optional()?
                .flatten();
            let user = UserId::new(consumed.user_id);
            let Some(user) = move_to(conn, user, &address).await? else {
                return Ok(None);
            };
            // Links sent to the address the account just left.
            let old = [SecretPurpose::ResetPassword, SecretPurpose::VerifyEmail];
            void_secrets(conn, user.id, &old, now).await?;
            let ended = end_sessions(conn, user.id, keep.as_deref(), now).await?;
            Ok(Some(CompletedEmailChange { user, ended }))
        });
        match bounded_transaction(&self.db, transaction).await? {
            Ok(Some(done)) => Ok(EmailChangeOutcome::Changed(done)),
            Ok(None) => Ok(EmailChangeOutcome::InvalidOrExpired),
            Err(Abort::AddressTaken) => Ok(EmailChangeOutcome::AddressTaken),
            Err(Abort::Corrupt(error)) => Err(SecretStoreError::Unexpected(Box::new(error))),
            Err(abort @ Abort::Query(_)) => Err(unexpected_abort(abort)),
        }
    }

    #[tracing::instrument(level = "debug", name = "postgres.issue_email_change", skip_all, fields(user_id = user.get()))]
    async fn issue_email_change(
        &self,
        user: UserId,
        change: NewEmailChange,
        emails: Vec<EmailJob>,
    ) -> Result<(), SecretStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let NewEmailChange {
            change: secret,
            session,
            undo,
        } = change;
        let digests = secret.secret.digests(user);
        self.db
            .bounded(conn.transaction(async move |conn| {
                diesel::insert_into(one_time_secrets::table)
                    .values((
                        one_time_secrets::purpose.eq(SecretPurpose::ChangeEmail.as_str()),
                        one_time_secrets::user_id.eq(user.get()),
                        one_time_secrets::token_hash.eq(digests.token.to_vec()),
                        one_time_secrets::code_hash.eq(digests.code.to_vec()),
                        one_time_secrets::new_email.eq(secret.new_email.as_deref()),
                        one_time_secrets::created_at.eq(secret.created_at),
                        one_time_secrets::expires_at.eq(secret.expires_at),
                        one_time_secrets::session_id.eq(session.as_str()),
                    ))
                    .on_conflict((one_time_secrets::purpose, one_time_secrets::user_id))
                    .do_update()
                    // The pending change dies: its hashes are overwritten.
                    .set((
                        one_time_secrets::token_hash.eq(excluded(one_time_secrets::token_hash)),
                        one_time_secrets::code_hash.eq(excluded(one_time_secrets::code_hash)),
                        one_time_secrets::new_email.eq(excluded(one_time_secrets::new_email)),
                        one_time_secrets::failed_attempts.eq(0),
                        one_time_secrets::created_at.eq(excluded(one_time_secrets::created_at)),
                        one_time_secrets::expires_at.eq(excluded(one_time_secrets::expires_at)),
                        one_time_secrets::used_at.eq(None::<DateTime<Utc>>),
                        one_time_secrets::session_id.eq(excluded(one_time_secrets::session_id)),
                    ))
                    .execute(conn)
                    .await?;
                diesel::insert_into(email_change_undos::table)
                    .values((
                        email_change_undos::token_hash
                            .eq(token_digest(undo.secret.token()).to_vec()),
                        email_change_undos::user_id.eq(user.get()),
                        email_change_undos::old_email.eq(&undo.old_email),
                        email_change_undos::created_at.eq(undo.created_at),
                        email_change_undos::expires_at.eq(undo.expires_at),
                    ))
                    .execute(conn)
                    .await?;
                queue_emails(conn, &emails).await?;
                Ok::<_, diesel::result::Error>(())
            }))
            .await
            .map_err(store_error)
    }

    #[tracing::instrument(level = "debug", name = "postgres.undo_email_change", skip_all)]
    async fn undo_email_change(
        &self,
        token: String,
        now: DateTime<Utc>,
    ) -> Result<EmailChangeOutcome, SecretStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let transaction = conn.transaction::<_, Abort, _>(async move |conn| {
            let Some((user_id, old_email, created_at)) = diesel::update(
                email_change_undos::table
                    .find(token_digest(&token).to_vec())
                    .filter(email_change_undos::used_at.is_null())
                    .filter(email_change_undos::expires_at.gt(now)),
            )
            .set(email_change_undos::used_at.eq(now))
            .returning((
                email_change_undos::user_id,
                email_change_undos::old_email,
                email_change_undos::created_at,
            ))
            .get_result::<(i64, String, DateTime<Utc>)>(conn)
            .await
            .optional()?
            else {
                return Ok(None);
            };
            let Ok(address) = EmailAddress::from_storage(&old_email) else {
                return Ok(None);
            };
            let user = UserId::new(user_id);
            let Some(user) = move_to(conn, user, &address).await? else {
                return Ok(None);
            };
            // A pending change, and links sent to the address being left.
            let purposes = [
                SecretPurpose::ChangeEmail,
                SecretPurpose::ResetPassword,
                SecretPurpose::VerifyEmail,
            ];
            void_secrets(conn, user.id, &purposes, now).await?;
            // The undo links of later changes would move the account off the
            // address just restored; earlier ones stay, for an owner whose
            // address an intruder changed twice.
            diesel::update(
                email_change_undos::table
                    .filter(email_change_undos::user_id.eq(user.id.get()))
                    .filter(email_change_undos::created_at.ge(created_at))
                    .filter(email_change_undos::used_at.is_null()),
            )
            .set(email_change_undos::used_at.eq(now))
            .execute(conn)
            .await?;
            let ended = end_sessions(conn, user.id, None, now).await?;
            Ok(Some(CompletedEmailChange { user, ended }))
        });
        match bounded_transaction(&self.db, transaction).await? {
            Ok(Some(done)) => Ok(EmailChangeOutcome::Changed(done)),
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
