use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use domain::{AuthMethods, ClientDevice, Session, SessionId, UserId};

use super::BoxError;
use super::NewAuditEvent;
use crate::EmailJob;

#[derive(Debug, thiserror::Error)]
pub enum SessionStoreError {
    /// The store did not answer in time or refused the connection.
    #[error("the session store is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the session store failed")]
    Unexpected(#[source] BoxError),
}

/// The value of the user's session counter when its password hash was
/// read. Ending all of a user's sessions moves the counter on, so a login
/// that checked the password before that opens no session after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionEpoch(pub i64);

/// A login's session, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    /// The first refresh token's `exp`.
    pub expires_at: DateTime<Utc>,
    pub device: ClientDevice,
    /// The digest of the device token this login answers with (the one
    /// the client sent, when it was recognised, or a new one): stored, or
    /// marked used, with the session.
    pub device_token: [u8; 32],
    /// The most live sessions the user keeps once this one is open: the
    /// least recently used beyond it are ended in the same transaction.
    pub live_limit: u32,
    /// How the login was authenticated; kept for the session's life.
    pub methods: AuthMethods,
    /// Its `user.login_succeeded`, written in the session's transaction:
    /// stored exactly when the session is.
    pub audit: NewAuditEvent,
}

/// The "new sign-in" email of a login, queued with its session only when
/// the user has signed in before and none of its sessions used within
/// `lookback` came from the same user agent and network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeviceAlert {
    pub email: EmailJob,
    pub lookback: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenedSession {
    Opened {
        /// The new-device email was written to the outbox.
        alert_queued: bool,
        /// The least recently used sessions this login ended to keep the
        /// user within its limit; their revocation marks are queued.
        ended: Vec<EndedSession>,
    },
    /// The user is gone, or all its sessions were ended since its password
    /// was checked: no session was opened.
    AccountChanged,
}

/// A session a logout or revocation covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedSession {
    pub id: SessionId,
    /// When its last refresh token expires: how long its revocation mark
    /// must live.
    pub expires_at: DateTime<Utc>,
    /// `false` when it had been ended before (its marks are written again
    /// all the same, in case they were lost).
    pub was_live: bool,
}

/// Where login sessions live: the truth behind the `sid` claim.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores the session (and the alert, when due) in one transaction, if
    /// the user still exists at `epoch`, and ends the user's least recently
    /// used live sessions beyond `session.live_limit`. Concurrent logins of
    /// one user take turns on the user's row, so together they never leave
    /// more live sessions than the limit.
    async fn open(
        &self,
        session: NewSession,
        epoch: SessionEpoch,
        alert: Option<NewDeviceAlert>,
    ) -> Result<OpenedSession, SessionStoreError>;

    async fn find(&self, id: SessionId) -> Result<Option<Session>, SessionStoreError>;

    /// Whether `user` was handed the device token of this digest by an
    /// earlier login (and no password reset has ended it since).
    async fn recognises_device(
        &self,
        user: UserId,
        device_token: [u8; 32],
    ) -> Result<bool, SessionStoreError>;

    /// Moves a live session from generation `from` to `from + 1`. `false`
    /// when another refresh moved it first (or it was ended): concurrent
    /// rotations of one session are serialised by its row lock and exactly
    /// one of them succeeds per generation.
    async fn rotate(
        &self,
        id: SessionId,
        from: u64,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, SessionStoreError>;

    /// Records a use of the session that changes no generation.
    async fn touch(&self, id: SessionId, now: DateTime<Utc>) -> Result<(), SessionStoreError>;

    /// Ends one session of `user` and, in the same transaction when the
    /// session was live until now, writes `audit` (a logout's or a
    /// revocation's event). `None` when the user has no such session that
    /// has not expired.
    async fn end(
        &self,
        id: SessionId,
        user: UserId,
        now: DateTime<Utc>,
        audit: Option<NewAuditEvent>,
    ) -> Result<Option<EndedSession>, SessionStoreError>;

    /// Ends every live session of `user` but `except`, and moves its
    /// session counter on so that no login in flight opens one afterwards.
    /// Returns the sessions it ended; sessions ended before are left as
    /// they are (their marks, if lost, are restored when one of their
    /// tokens is next refused by the session store).
    /// `audit` (a logout's or a revocation's event) is written in the
    /// same transaction.
    async fn end_all(
        &self,
        user: UserId,
        except: Option<SessionId>,
        now: DateTime<Utc>,
        audit: Option<NewAuditEvent>,
    ) -> Result<Vec<EndedSession>, SessionStoreError>;

    /// The user's live sessions, newest first.
    async fn list_live(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, SessionStoreError>;
}
