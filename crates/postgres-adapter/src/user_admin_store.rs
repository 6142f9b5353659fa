//! [`UserAdminStore`] on PostgreSQL: each admin change to an account, its
//! side effects and its audit event in one transaction.
//!
//! The last admin: a change of role locks every admin row first (in id
//! order, so two such transactions never deadlock) and decides on the
//! rows it holds. Of two admins demoting each other at once, the second
//! finds, once the first committed, a single admin left: its target.

use application::EmailJob;
use application::ports::{
    EndedSession, NewAdminUser, NewAuditEvent, RepositoryError, UserAdminStore, UserChanges,
    UserUpdate,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::{Role, User, UserId};

use crate::account_steps::UserRow;
use crate::audit_log::record_in;
use crate::connection::PgConn;
use crate::outbox::queue_emails;
use crate::pool::{Db, PgPool, PgSettings};
use crate::schema::{mfa_challenges, one_time_secrets, recovery_codes, totp_factors, users};
use crate::session_steps::end_sessions;
use crate::users::repository_error;

/// [`UserAdminStore`] on `users` and the tables hanging off it.
#[derive(Clone)]
pub struct PgUserAdminStore {
    db: Db,
}

impl PgUserAdminStore {
    pub fn new(pool: PgPool, settings: PgSettings) -> Self {
        Self {
            db: Db::new(pool, settings),
        }
    }
}

/// Only the fields given change; the row comes back as it now is.
const UPDATE: &str = "\
UPDATE users SET username = COALESCE($2, username), role = COALESCE($3, role), \
       email_verified = COALESCE($4, email_verified) \
WHERE id = $1 \
RETURNING id, username, email, role, email_verified, created_at";

/// Whether `user` exists, locking its row as a login does (so a login
/// in flight commits its session before the sessions are ended).
async fn lock_user(conn: &mut PgConn, user: UserId) -> QueryResult<bool> {
    Ok(users::table
        .find(user.get())
        .select(users::id)
        .for_no_key_update()
        .first::<i64>(conn)
        .await
        .optional()?
        .is_some())
}

/// What the admins' lock decides for a change of role, before anything
/// is written.
async fn check_role_change(
    conn: &mut PgConn,
    actor: UserId,
    target: UserId,
    role: Role,
) -> QueryResult<Option<UserUpdate>> {
    let admins: Vec<i64> = users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .order(users::id)
        .select(users::id)
        .for_update()
        .load(conn)
        .await?;
    let demotes_an_admin = role != Role::Admin && admins.contains(&target.get());
    if demotes_an_admin && admins.iter().all(|admin| *admin == target.get()) {
        // The caller is no admin (the target is the only one). It hears
        // the last-admin rule only if it was one a moment ago, demoted by
        // this very target: the second of two admins demoting each other
        // at once. Anyone else is simply not an admin (and does not learn
        // who the last one is).
        return Ok(Some(if demoted_by(conn, actor, target).await? {
            UserUpdate::LastAdmin
        } else {
            UserUpdate::ActorNotAdmin
        }));
    }
    if !admins.contains(&actor.get()) {
        return Ok(Some(UserUpdate::ActorNotAdmin));
    }
    Ok(None)
}

/// How recent a demotion still counts as "at once" with a request that
/// was on its way when it committed.
const RACE_WINDOW: &str = "1 minute";

/// Whether `demoter` took `user`'s admin role within [`RACE_WINDOW`]: the
/// audit event of that change, committed with it, says so.
async fn demoted_by(conn: &mut PgConn, user: UserId, demoter: UserId) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = Bool)]
        found: bool,
    }
    let query = format!(
        "SELECT EXISTS (SELECT 1 FROM audit_events \
         WHERE subject_id = $1 AND actor_id = $2 AND type = 'admin.user_updated' \
         AND data->'changes'->>'role' IS DISTINCT FROM 'admin' \
         AND data->'changes' ? 'role' AND at > now() - interval '{RACE_WINDOW}') AS found"
    );
    let found: Found = diesel::sql_query(query)
        .bind::<BigInt, _>(user.get())
        .bind::<BigInt, _>(demoter.get())
        .get_result(conn)
        .await?;
    Ok(found.found)
}

#[async_trait]
impl UserAdminStore for PgUserAdminStore {
    #[tracing::instrument(level = "debug", name = "postgres.admin_create_user", skip_all)]
    async fn create_user(&self, new: NewAdminUser) -> Result<User, RepositoryError> {
        let mut conn = self.db.connection().await.map_err(repository_error)?;
        let row = self
            .db
            .bounded(conn.transaction(async move |conn| {
                let NewAdminUser {
                    user,
                    role,
                    email_verified,
                    invitation,
                    mut audit,
                } = new;
                let row = diesel::insert_into(users::table)
                    .values((
                        users::username.eq(user.username.as_str()),
                        users::email.eq(user.email.as_str()),
                        users::email_normalized.eq(user.email.normalized()),
                        users::password_hash.eq(user.password_hash.as_str()),
                        users::role.eq(role.as_str()),
                        users::email_verified.eq(email_verified),
                    ))
                    .returning(UserRow::as_returning())
                    .get_result::<UserRow>(conn)
                    .await?;
                let id = UserId::new(row.id);
                if let Some((secret, email)) = invitation {
                    let digests = secret.secret.digests(id);
                    diesel::insert_into(one_time_secrets::table)
                        .values((
                            one_time_secrets::purpose.eq(secret.purpose.as_str()),
                            one_time_secrets::user_id.eq(row.id),
                            one_time_secrets::token_hash.eq(digests.token.to_vec()),
                            one_time_secrets::code_hash.eq(digests.code.to_vec()),
                            one_time_secrets::created_at.eq(secret.created_at),
                            one_time_secrets::expires_at.eq(secret.expires_at),
                        ))
                        .execute(conn)
                        .await?;
                    queue_emails(conn, std::slice::from_ref(&email)).await?;
                }
                audit.subject = Some(id);
                record_in(conn, std::slice::from_ref(&audit)).await?;
                Ok::<_, diesel::result::Error>(row)
            }))
            .await
            .map_err(repository_error)?;
        row.into_user()
    }

    #[tracing::instrument(level = "debug", name = "postgres.admin_update_user", skip_all, fields(target = id.get()))]
    async fn update_user(
        &self,
        actor: UserId,
        id: UserId,
        changes: UserChanges,
        audit: NewAuditEvent,
    ) -> Result<UserUpdate, RepositoryError> {
        let mut conn = self.db.connection().await.map_err(repository_error)?;
        let outcome = self
            .db
            .bounded(conn.transaction(async move |conn| {
                if let Some(role) = changes.role
                    && let Some(refused) = check_role_change(conn, actor, id, role).await?
                {
                    return Ok(Err(refused));
                }
                let row = diesel::sql_query(UPDATE)
                    .bind::<BigInt, _>(id.get())
                    .bind::<Nullable<Text>, _>(changes.username.as_ref().map(|name| name.as_str()))
                    .bind::<Nullable<Text>, _>(changes.role.map(Role::as_str))
                    .bind::<Nullable<Bool>, _>(changes.email_verified)
                    .get_result::<UserRow>(conn)
                    .await
                    .optional()?;
                let Some(row) = row else {
                    return Ok(Err(UserUpdate::NotFound));
                };
                record_in(conn, std::slice::from_ref(&audit)).await?;
                Ok::<_, diesel::result::Error>(Ok(row))
            }))
            .await
            .map_err(repository_error)?;
        match outcome {
            Ok(row) => Ok(UserUpdate::Updated(row.into_user()?)),
            Err(refused) => Ok(refused),
        }
    }

    #[tracing::instrument(level = "debug", name = "postgres.admin_ban_user", skip_all, fields(target = id.get()))]
    async fn ban(
        &self,
        id: UserId,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<Option<Vec<EndedSession>>, RepositoryError> {
        let mut conn = self.db.connection().await.map_err(repository_error)?;
        self.db
            .bounded(conn.transaction(async move |conn| {
                let banned = diesel::update(users::table.find(id.get()))
                    .set(users::banned_until.eq(until))
                    .execute(conn)
                    .await?;
                if banned == 0 {
                    return Ok(None);
                }
                let ended = end_sessions(conn, id, None, now).await?;
                record_in(conn, std::slice::from_ref(&audit)).await?;
                Ok::<_, diesel::result::Error>(Some(ended))
            }))
            .await
            .map_err(repository_error)
    }

    #[tracing::instrument(level = "debug", name = "postgres.admin_unban_user", skip_all, fields(target = id.get()))]
    async fn unban(&self, id: UserId, audit: NewAuditEvent) -> Result<bool, RepositoryError> {
        let mut conn = self.db.connection().await.map_err(repository_error)?;
        self.db
            .bounded(conn.transaction(async move |conn| {
                let unbanned = diesel::update(users::table.find(id.get()))
                    .set(users::banned_until.eq(None::<DateTime<Utc>>))
                    .execute(conn)
                    .await?;
                if unbanned == 0 {
                    return Ok(false);
                }
                record_in(conn, std::slice::from_ref(&audit)).await?;
                Ok::<_, diesel::result::Error>(true)
            }))
            .await
            .map_err(repository_error)
    }

    #[tracing::instrument(level = "debug", name = "postgres.admin_end_sessions", skip_all, fields(target = id.get()))]
    async fn end_sessions(
        &self,
        id: UserId,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<Option<Vec<EndedSession>>, RepositoryError> {
        let mut conn = self.db.connection().await.map_err(repository_error)?;
        self.db
            .bounded(conn.transaction(async move |conn| {
                if !lock_user(conn, id).await? {
                    return Ok(None);
                }
                let ended = end_sessions(conn, id, None, now).await?;
                record_in(conn, std::slice::from_ref(&audit)).await?;
                Ok::<_, diesel::result::Error>(Some(ended))
            }))
            .await
            .map_err(repository_error)
    }

    #[tracing::instrument(level = "debug", name = "postgres.admin_reset_mfa", skip_all, fields(target = id.get()))]
    async fn reset_mfa(
        &self,
        id: UserId,
        notice: EmailJob,
        audit: NewAuditEvent,
    ) -> Result<bool, RepositoryError> {
        let mut conn = self.db.connection().await.map_err(repository_error)?;
        self.db
            .bounded(conn.transaction(async move |conn| {
                if !lock_user(conn, id).await? {
                    return Ok(false);
                }
                let factors =
                    diesel::delete(totp_factors::table.filter(totp_factors::user_id.eq(id.get())))
                        .execute(conn)
                        .await?;
                diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(id.get())))
                    .execute(conn)
                    .await?;
                diesel::delete(mfa_challenges::table.filter(mfa_challenges::user_id.eq(id.get())))
                    .execute(conn)
                    .await?;
                // "Turned off" only when something was on (or pending).
                if factors > 0 {
                    queue_emails(conn, std::slice::from_ref(&notice)).await?;
                }
                record_in(conn, std::slice::from_ref(&audit)).await?;
                Ok::<_, diesel::result::Error>(true)
            }))
            .await
            .map_err(repository_error)
    }
}
