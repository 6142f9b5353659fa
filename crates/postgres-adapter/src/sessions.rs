//! [`PgSessionRepository`], the login sessions on the `sessions` table,
//! and the device tokens a login hands out. The statements that end
//! sessions are shared with other stores, in `session_steps.rs`.

use std::net::IpAddr;

use application::ports::{
    EndedSession, NewAuditEvent, NewDeviceAlert, NewSession, OpenedSession, SessionEpoch,
    SessionRepository, SessionStoreError,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Int8, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::{MAX_DEVICE_TOKENS_PER_USER, Session, SessionId, UserId};

use crate::audit_log::record_in;
use crate::error::Failure;
use crate::outbox::queue_emails;
use crate::pool::{Db, PgPool, PgSettings};
use crate::schema::{device_tokens, sessions, users};
use crate::session_steps::{END_ONE, EndedRow, end_beyond_limit, end_sessions};

/// The most sessions a listing returns, newest first: an answer stays
/// bounded however often an account logs in.
const LIST_LIMIT: i64 = 500;

/// [`SessionRepository`] on the `sessions` table. Rotation is a
/// compare-and-set on the generation: concurrent refreshes of one session
/// queue on its row lock, and each one after the first finds the
/// generation moved (PostgreSQL re-checks the WHERE clause on the row the
/// winner committed) and updates nothing.
#[derive(Clone)]
pub struct PgSessionRepository {
    db: Db,
}

impl PgSessionRepository {
    pub fn new(pool: PgPool, settings: PgSettings) -> Self {
        Self {
            db: Db::new(pool, settings),
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
struct SessionRow {
    id: String,
    user_id: i64,
    created_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ip: Option<String>,
    user_agent: Option<String>,
    generation: i64,
    rotated_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    auth_methods: String,
}

impl SessionRow {
    fn into_session(self) -> Session {
        Session {
            id: SessionId::new(self.id),
            user_id: UserId::new(self.user_id),
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            expires_at: self.expires_at,
            ip: self.ip.and_then(|ip| ip.parse::<IpAddr>().ok()),
            user_agent: self.user_agent,
            // The column is checked non-negative.
            generation: u64::try_from(self.generation).unwrap_or(0),
            rotated_at: self.rotated_at,
            revoked_at: self.revoked_at,
            // The column admits only the names `AuthMethods` writes.
            methods: self.auth_methods.parse().unwrap_or_default(),
        }
    }
}

fn store_error(failure: Failure) -> SessionStoreError {
    match failure {
        Failure::Unavailable(_) => SessionStoreError::Unavailable(failure.into()),
        _ => SessionStoreError::Unexpected(failure.into()),
    }
}

fn generation(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[async_trait]
impl SessionRepository for PgSessionRepository {
    #[tracing::instrument(level = "debug", name = "postgres.open_session", skip_all, fields(user_id = session.user_id.get()))]
    async fn open(
        &self,
        session: NewSession,
        epoch: SessionEpoch,
        alert: Option<NewDeviceAlert>,
    ) -> Result<OpenedSession, SessionStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let user_id = session.user_id.get();
        let ip = session.device.ip().map(|ip| ip.to_string());
        let network = session.device.network();
        let user_agent = session.device.user_agent().map(str::to_owned);
        self.db
            .bounded(conn.transaction(async move |conn| {
                // The user row's lock: ending all sessions (which moves the
                // epoch on) waits for this login to commit, then ends its
                // session too; or this login waits for it and finds the
                // epoch moved. Exclusive (FOR NO KEY UPDATE, which still
                // lets foreign-key checks through): two logins of one
                // user take turns, so each counts the other's session
                // against the limit.
                let current = users::table
                    .find(user_id)
                    .filter(users::session_epoch.eq(epoch.0))
                    .select(users::id)
                    .for_no_key_update()
                    .first::<i64>(conn)
                    .await
                    .optional()?;
                if current.is_none() {
                    return Ok(OpenedSession::AccountChanged);
                }
                let mut alert_due = None;
                if let Some(alert) = alert {
                    let since = session
                        .created_at
                        .checked_sub_signed(alert.lookback)
                        .unwrap_or(DateTime::<Utc>::MIN_UTC);
                    let signed_in_before = diesel::select(diesel::dsl::exists(
                        sessions::table.filter(sessions::user_id.eq(user_id)),
                    ))
                    .get_result::<bool>(conn)
                    .await?;
                    let known_device = diesel::select(diesel::dsl::exists(
                        sessions::table
                            .filter(sessions::user_id.eq(user_id))
                            .filter(sessions::last_used_at.gt(since))
                            .filter(
                                sessions::user_agent
                                    .is_not_distinct_from(user_agent.clone())
                                    .and(sessions::network.is_not_distinct_from(network.clone())),
                            ),
                    ))
                    .get_result::<bool>(conn)
                    .await?;
                    // Never for the first login after registration.
                    if signed_in_before && !known_device {
                        alert_due = Some(alert.email);
                    }
                }
                diesel::insert_into(sessions::table)
                    .values((
                        sessions::id.eq(session.id.as_str()),
                        sessions::auth_methods.eq(session.methods.as_str()),
                        sessions::user_id.eq(user_id),
                        sessions::created_at.eq(session.created_at),
                        sessions::last_used_at.eq(session.created_at),
                        sessions::expires_at.eq(session.expires_at),
                        sessions::ip.eq(ip),
                        sessions::network.eq(network),
                        sessions::user_agent.eq(user_agent),
                    ))
                    .execute(conn)
                    .await?;
                keep_device_token(conn, user_id, &session.device_token, session.created_at).await?;
                record_in(conn, std::slice::from_ref(&session.audit)).await?;
                let ended = end_beyond_limit(
                    conn,
                    session.user_id,
                    session.id.as_str(),
                    session.live_limit,
                    session.created_at,
                )
                .await?;
                let alert_queued = alert_due.is_some();
                if let Some(job) = alert_due {
                    queue_emails(conn, std::slice::from_ref(&job)).await?;
                }
                Ok::<_, diesel::result::Error>(OpenedSession::Opened {
                    alert_queued,
                    ended,
                })
            }))
            .await
            .map_err(store_error)
    }

    #[tracing::instrument(level = "debug", name = "postgres.recognises_device", skip_all, fields(user_id = user.get()))]
    async fn recognises_device(
        &self,
        user: UserId,
        device_token: [u8; 32],
    ) -> Result<bool, SessionStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        self.db
            .bounded(
                diesel::select(diesel::dsl::exists(
                    device_tokens::table
                        .find(device_token.to_vec())
                        .filter(device_tokens::user_id.eq(user.get())),
                ))
                .get_result::<bool>(&mut conn),
            )
            .await
            .map_err(store_error)
    }

    #[tracing::instrument(level = "debug", name = "postgres.find_session", skip_all)]
    async fn find(&self, id: SessionId) -> Result<Option<Session>, SessionStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let query = sessions::table
            .find(id.as_str().to_owned())
            .select(SessionRow::as_select())
            .first::<SessionRow>(&mut conn);
        let row = self
            .db
            .bounded(async { query.await.optional() })
            .await
            .map_err(store_error)?;
        Ok(row.map(SessionRow::into_session))
    }

    #[tracing::instrument(
        level = "debug",
        name = "postgres.rotate_session",
        skip_all,
        fields(from)
    )]
    async fn rotate(
        &self,
        id: SessionId,
        from: u64,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, SessionStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let query = diesel::update(
            sessions::table
                .find(id.as_str().to_owned())
                .filter(sessions::generation.eq(generation(from)))
                .filter(sessions::revoked_at.is_null()),
        )
        .set((
            sessions::generation.eq(sessions::generation + 1),
            sessions::rotated_at.eq(now),
            sessions::last_used_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(&mut conn);
        let updated = self.db.bounded(query).await.map_err(store_error)?;
        Ok(updated == 1)
    }

    #[tracing::instrument(level = "debug", name = "postgres.touch_session", skip_all)]
    async fn touch(&self, id: SessionId, now: DateTime<Utc>) -> Result<(), SessionStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let query = diesel::update(
            sessions::table
                .find(id.as_str().to_owned())
                .filter(sessions::last_used_at.lt(now)),
        )
        .set(sessions::last_used_at.eq(now))
        .execute(&mut conn);
        self.db.bounded(query).await.map_err(store_error)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "postgres.end_session", skip_all, fields(user_id = user.get()))]
    async fn end(
        &self,
        id: SessionId,
        user: UserId,
        now: DateTime<Utc>,
        audit: Option<NewAuditEvent>,
    ) -> Result<Option<EndedSession>, SessionStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let id = id.as_str().to_owned();
        let row = self
            .db
            .bounded(conn.transaction(async move |conn| {
                let row = diesel::sql_query(END_ONE)
                    .bind::<Text, _>(id)
                    .bind::<diesel::sql_types::BigInt, _>(user.get())
                    .bind::<Timestamptz, _>(now)
                    .get_result::<EndedRow>(conn)
                    .await
                    .optional()?;
                let ended = row.map(EndedSession::from);
                if let (Some(ended), Some(audit)) = (&ended, &audit)
                    && ended.was_live
                {
                    record_in(conn, std::slice::from_ref(audit)).await?;
                }
                Ok::<_, diesel::result::Error>(ended)
            }))
            .await
            .map_err(store_error)?;
        Ok(row)
    }

    #[tracing::instrument(level = "debug", name = "postgres.end_all_sessions", skip_all, fields(user_id = user.get()))]
    async fn end_all(
        &self,
        user: UserId,
        except: Option<SessionId>,
        now: DateTime<Utc>,
        audit: Option<NewAuditEvent>,
    ) -> Result<Vec<EndedSession>, SessionStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let except = except.map(|id| id.as_str().to_owned());
        self.db
            .bounded(conn.transaction(async move |conn| {
                let ended = end_sessions(conn, user, except.as_deref(), now).await?;
                record_in(conn, audit.as_slice()).await?;
                Ok::<_, diesel::result::Error>(ended)
            }))
            .await
            .map_err(store_error)
    }

    #[tracing::instrument(level = "debug", name = "postgres.list_sessions", skip_all, fields(user_id = user.get()))]
    async fn list_live(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, SessionStoreError> {
        let mut conn = self.db.connection().await.map_err(store_error)?;
        let query = sessions::table
            .filter(sessions::user_id.eq(user.get()))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .order((sessions::created_at.desc(), sessions::id.desc()))
            .limit(LIST_LIMIT)
            .select(SessionRow::as_select())
            .load::<SessionRow>(&mut conn);
        let rows = self.db.bounded(query).await.map_err(store_error)?;
        Ok(rows.into_iter().map(SessionRow::into_session).collect())
    }
}

/// Stores the device token a login answers with (or marks a recognised one
/// used), then keeps only the user's most recently used tokens. A token
/// digest that somehow belongs to another user is left alone.
async fn keep_device_token(
    conn: &mut crate::connection::PgConn,
    user_id: i64,
    digest: &[u8; 32],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO device_tokens (token_hash, user_id, created_at, last_used_at) \
         VALUES ($1, $2, $3, $3) \
         ON CONFLICT (token_hash) DO UPDATE SET last_used_at = EXCLUDED.last_used_at \
         WHERE device_tokens.user_id = EXCLUDED.user_id",
    )
    .bind::<Bytea, _>(digest.to_vec())
    .bind::<Int8, _>(user_id)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
    .await?;
    diesel::sql_query(
        "DELETE FROM device_tokens WHERE user_id = $1 AND token_hash NOT IN \
         (SELECT token_hash FROM device_tokens WHERE user_id = $1 \
          ORDER BY last_used_at DESC LIMIT $2)",
    )
    .bind::<Int8, _>(user_id)
    .bind::<Int8, _>(MAX_DEVICE_TOKENS_PER_USER)
    .execute(conn)
    .await?;
    Ok(())
}
