use application::EmailJob;
use application::ports::{
    EndedSession, NewAuditEvent, NewSecret, RepositoryError, SessionEpoch, StoredCredentials,
    UserRepository,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::{AuditEventKind, NewUser, PasswordHash, Role, SecretPurpose, SessionId, User, UserId};

use crate::account_steps::{EMAIL_UNIQUE, UserRow, storable, void_secrets};
use crate::audit_log::{record_in, record_self_service};
use crate::error::Failure;
use crate::outbox::queue_emails;
use crate::pool::{Db, PgPool, PgSettings};
use crate::revocation_marks::queue_user_mark;
use crate::schema::{one_time_secrets, users};
use crate::session_steps::end_sessions;

/// [`UserRepository`] on the `users` table; registration also writes the
/// welcome email to `email_outbox` in the same transaction.
#[derive(Clone)]
pub struct PgUserRepository {
    db: Db,
}

impl PgUserRepository {
    pub fn new(pool: PgPool, settings: PgSettings) -> Self {
        Self {
            db: Db::new(pool, settings),
        }
    }
}

/// A failure of a statement on `users` as the user ports see it (the
/// address index's violation is `EmailTaken`); shared by the admin store.
pub(crate) fn repository_error(failure: Failure) -> RepositoryError {
    match failure {
        Failure::UniqueViolation(Some(ref constraint)) if constraint == EMAIL_UNIQUE => {
            RepositoryError::EmailTaken
        }
        Failure::Unavailable(_) => RepositoryError::Unavailable(failure.into()),
        Failure::InvalidInput(_) => RepositoryError::InvalidInput(failure.into()),
        _ => RepositoryError::Unexpected(failure.into()),
    }
}

#[async_trait]
impl UserRepository for PgUserRepository {
    #[tracing::instrument(level = "debug", name = "postgres.create_user", skip_all)]
    async fn create(
        &self,
        user: NewUser,
        verification: NewSecret,
        welcome: EmailJob,
        registered: NewAuditEvent,
    ) -> Result<User, RepositoryError> {
        let mut conn = self.db.connection().await.map_err(repository_error)?;
        let row = self
            .db
            .bounded(conn.transaction(async move |conn| {
                let row = diesel::insert_into(users::table)
                    .values((
                        users::username.eq(user.username.as_str()),
                        users::email.eq(user.email.as_str()),
                        users::email_normalized.eq(user.email.normalized()),
                        users::password_hash.eq(user.password_hash.as_str()),
                    ))
                    .returning(UserRow::as_returning())
                    .get_result::<UserRow>(conn)
                    .await?;
                let digests = verification.secret.digests(UserId::new(row.id));
                diesel::insert_into(one_time_secrets::table)
                    .values((
                        one_time_secrets::purpose.eq(verification.purpose.as_str()),
                        one_time_secrets::user_id.eq(row.id),
                        one_time_secrets::token_hash.eq(digests.token.to_vec()),
                        one_time_secrets::code_hash.eq(digests.code.to_vec()),
                        one_time_secrets::created_at.eq(verification.created_at),
                        one_time_secrets::expires_at.eq(verification.expires_at),
                    ))
                    .execute(conn)
                    .await?;
                queue_emails(conn, std::slice::from_ref(&welcome)).await?;
                let registered = registered.for_new_user(UserId::new(row.id));
                record_in(conn, std::slice::from_ref(&registered)).await?;
                Ok::<_, diesel::result::Error>(row)
            }))
            .await
            .map_err(repository_error)?;
        row.into_user()
    }

    #[tracing::instrument(level = "debug", name = "postgres.find_user", skip_all, fields(user_id = id.get()))]
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        let mut conn = self.db.connection().await.map_err(repository_error)?;
        let query = users::table
            .find(id.get())
            .select(UserRow::as_select())
            .first::<UserRow>(&mut conn);
        self.db
            .bounded(async { query.await.optional() })
            .await
            .map_err(repository_error)?
            .map(UserRow::into_user)
            .transpose()
    }

    #[tracing::instrument(level = "debug", name = "postgres.find_user_by_email", skip_all)]
    async fn find_by_email(&self, normalized_email: &str) -> Result<Option<User>, RepositoryError> {
        if !storable(normalized_email) {
            return Ok(None);
        }
        let key = normalized_email.to_owned();
        let mut conn = self.db.connection().await.map_err(repository_error)?;
        let query = users::table
            .filter(users::email_normalized.eq(key))
            .select(UserRow::as_select())
            .first::<UserRow>(&mut conn);
        self.db
            .bounded(async { query.await.optional() })
            .await
            .map_err(repository_error)?
            .map(UserRow::into_user)
            .transpose()
    }

    #[tracing::instrument(level = "debug", name = "postgres.find_user_id_by_email", skip_all)]
    async fn find_id_by_email(
        &self,
        normalized_email: &str,
    ) -> Result<Option<UserId>, RepositoryError> {
        if !storable(normalized_email) {
            return Ok(None);
        }
        let key = normalized_email.to_owned();
        let mut conn = self.db.connection().await.map_err(repository_error)?;
        let query = users::table
            .filter(users::email_normalized.eq(key))
            .select(users::id)
            .first::<i64>(&mut conn);
        self.db
            .bounded(async { query.await.optional() })
            .await
            .map_err(repository_error)
            .map(|id| id.map(UserId::new))
    }

    #[tracing::instrument(level = "debug", name = "postgres.find_credentials", skip_all)]
    async fn find_credentials(
        &self,
        normalized_email: &str,
    ) -> Result<Option<StoredCredentials>, RepositoryError> {
        if !storable(normalized_email) {
            return Ok(None);
        }
        let key = normalized_email.to_owned();
        let mut conn = self.db.connection().await.map_err(repository_error)?;
        let query = users::table
            .filter(users::email_normalized.eq(key))
            .select((
                UserRow::as_select(),
                users::password_hash,
                users::session_epoch,
                users::banned_until,
            ))
            .first::<(UserRow, String, i64, Option<DateTime<Utc>>)>(&mut conn);
        let found = self
            .db
            .bounded(async { query.await.optional() })
            .await
            .map_err(repository_error)?;
        match found {
            Some((row, hash, epoch, banned_until)) => Ok(Some(StoredCredentials {
                user: row.into_user()?,
                password_hash: PasswordHash::new(hash),
                session_epoch: SessionEpoch(epoch),
                banned_until,
            })),
            None => Ok(None),
        }
    }

    #[tracing::instrument(level = "debug", name = "postgres.delete_user", skip_all, fields(user_id = id.get()))]
    async fn delete(
        &self,
        id: UserId,
        now: DateTime<Utc>,
        deleted: NewAuditEvent,
    ) -> Result<bool, RepositoryError> {
        let mut conn = self.db.connection().await.map_err(repository_error)?;
        self.db
            .bounded(conn.transaction(async move |conn| {
                let count = diesel::delete(users::table.find(id.get()))
                    .execute(conn)
                    .await?;
                if count > 0 {
                    queue_user_mark(conn, id, now).await?;
                    record_in(conn, std::slice::from_ref(&deleted)).await?;
                }
                Ok::<_, diesel::result::Error>(count > 0)
            }))
            .await
            .map_err(repository_error)
    }

    #[tracing::instrument(level = "debug", name = "postgres.set_role", skip_all, fields(role = role.as_str()))]
    async fn set_role(
        &self,
        normalized_email: &str,
        role: Role,
    ) -> Result<Option<User>, RepositoryError> {
        if !storable(normalized_email) {
            return Ok(None);
        }
        let key = normalized_email.to_owned();
        let mut conn = self.db.connection().await.map_err(repository_error)?;
        let query = diesel::update(users::table.filter(users::email_normalized.eq(key)))
            .set(users::role.eq(role.as_str()))
            .returning(UserRow::as_returning())
            .get_result::<UserRow>(&mut conn);
        self.db
            .bounded(async { query.await.optional() })
            .await
            .map_err(repository_error)?
            .map(UserRow::into_user)
            .transpose()
    }

    #[tracing::instrument(level = "debug", name = "postgres.change_password", skip_all, fields(user_id = id.get()))]
    async fn change_password(
        &self,
        id: UserId,
        password_hash: PasswordHash,
        keep: SessionId,
        now: DateTime<Utc>,
        notice: EmailJob,
    ) -> Result<Option<Vec<EndedSession>>, RepositoryError> {
        let mut conn = self.db.connection().await.map_err(repository_error)?;
        self.db
            .bounded(conn.transaction(async move |conn| {
                let changed = diesel::update(users::table.find(id.get()))
                    .set(users::password_hash.eq(password_hash.as_str()))
                    .execute(conn)
                    .await?;
                if changed == 0 {
                    return Ok(None);
                }
                let ended = end_sessions(conn, id, Some(keep.as_str()), now).await?;
                let undoing = [SecretPurpose::ChangeEmail, SecretPurpose::ResetPassword];
                void_secrets(conn, id, &undoing, now).await?;
                queue_emails(conn, std::slice::from_ref(&notice)).await?;
                let changed = AuditEventKind::PasswordChanged;
                record_self_service(conn, changed, id, Some(&keep), now).await?;
                Ok::<_, diesel::result::Error>(Some(ended))
            }))
            .await
            .map_err(repository_error)
    }
}
