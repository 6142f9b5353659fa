//! Ending sessions, shared by logout, session management and the password
//! flows: PostgreSQL first, as the truth `/refresh` consults, then
//! the Redis marks every token check reads.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::{SessionId, UserId};

use super::TokenLifetimes;
use crate::error::DependencyError;
use crate::ports::{EndedSession, Revocation, SessionRepository, TokenRevocations};

#[derive(Clone)]
pub(crate) struct SessionRevocation {
    pub sessions: Arc<dyn SessionRepository>,
    pub revocations: Arc<dyn TokenRevocations>,
    pub lifetimes: TokenLifetimes,
}

impl SessionRevocation {
    /// Ends one session of `user`; `None` when it has no such unexpired
    /// session. The marks are written even if the session had been ended
    /// before: that retry heals marks lost to a Redis failure or flush.
    pub async fn end_one(
        &self,
        id: &SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<EndedSession>, DependencyError> {
        let ended = self.sessions.end(id.clone(), user, now).await?;
        if let Some(ended) = &ended {
            self.mark(std::slice::from_ref(ended), now).await?;
        }
        Ok(ended)
    }

    /// Ends every session of `user` but `except`, including any a login in
    /// flight is about to open. Returns how many were live until now.
    pub async fn end_all(
        &self,
        user: UserId,
        except: Option<&SessionId>,
        now: DateTime<Utc>,
    ) -> Result<usize, DependencyError> {
        let ended = self.sessions.end_all(user, except.cloned(), now).await?;
        self.mark(&ended, now).await?;
        Ok(ended.iter().filter(|session| session.was_live).count())
    }

    /// Writes the marks that make every token of these sessions fail the
    /// token check at once, on every instance.
    pub async fn mark(
        &self,
        ended: &[EndedSession],
        now: DateTime<Utc>,
    ) -> Result<(), DependencyError> {
        if ended.is_empty() {
            return Ok(());
        }
        let revocations = ended
            .iter()
            .map(|session| Revocation::Session {
                id: session.id.clone(),
                ttl_secs: self.session_mark_secs(session.expires_at, now),
            })
            .collect();
        self.revocations.revoke(revocations).await?;
        Ok(())
    }

    /// [`Self::mark`] for sessions a committed change already ended in
    /// PostgreSQL (a password reset or change). The change stands whatever
    /// Redis says: `/refresh` already refuses those sessions, and while
    /// Redis is down every token check fails closed anyway. A failure here
    /// leaves their access tokens alive until they expire, so it is logged
    /// loudly rather than turned into an error the client cannot act on.
    pub async fn mark_committed(&self, ended: &[EndedSession], now: DateTime<Utc>) {
        if let Err(error) = self.mark(ended, now).await {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                sessions = ended.len(),
                "ended sessions could not be marked revoked; their access tokens live until they expire"
            );
        }
    }

    /// A session's mark must outlive its last refresh token and every access
    /// token issued up to now.
    fn session_mark_secs(&self, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
        let refresh_left = u64::try_from((expires_at - now).num_seconds()).unwrap_or(0);
        refresh_left
            .max(self.lifetimes.access_secs())
            .saturating_add(1)
    }
}
