//! Ending sessions, shared by logout, session management and the password
//! flows: PostgreSQL first, as the truth `/refresh` consults, then
//! the Redis marks every token check reads.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::{SessionId, UserId};

use super::revocation_marks::{RevocationMarks, revocation_of};
use crate::error::DependencyError;
use crate::ports::{EndedSession, NewAuditEvent, QueuedMark, SessionRepository};

#[derive(Clone)]
pub(crate) struct SessionRevocation {
    pub sessions: Arc<dyn SessionRepository>,
    pub marks: RevocationMarks,
}

impl SessionRevocation {
    /// Ends one session of `user`; `None` when it has no such unexpired
    /// session. The marks are written even if the session had been ended
    /// before: that retry heals marks lost to a Redis failure or flush.
    /// `audit` is written with the change, only if the session was live.
    pub async fn end_one(
        &self,
        id: &SessionId,
        user: UserId,
        now: DateTime<Utc>,
        audit: Option<NewAuditEvent>,
    ) -> Result<Option<EndedSession>, DependencyError> {
        let ended = self.sessions.end(id.clone(), user, now, audit).await?;
        if let Some(ended) = &ended {
            self.mark_committed(user, std::slice::from_ref(ended), now)
                .await;
        }
        Ok(ended)
    }

    /// Ends every session of `user` but `except`, including any a login in
    /// flight is about to open, writing `audit` with the change. Returns
    /// how many were live until now.
    pub async fn end_all(
        &self,
        user: UserId,
        except: Option<&SessionId>,
        now: DateTime<Utc>,
        audit: Option<NewAuditEvent>,
    ) -> Result<usize, DependencyError> {
        let ended = self
            .sessions
            .end_all(user, except.cloned(), now, audit)
            .await?;
        self.mark_committed(user, &ended, now).await;
        Ok(ended.iter().filter(|session| session.was_live).count())
    }

    /// Writes the marks that make every token of these sessions fail the
    /// token check at once, on every instance: for sessions whose marks
    /// were lost (no queued mark is left for them).
    pub async fn mark(
        &self,
        user: UserId,
        ended: &[EndedSession],
        now: DateTime<Utc>,
    ) -> Result<(), DependencyError> {
        let revocations: Vec<_> = queued(user, ended, now)
            .iter()
            .filter_map(|mark| revocation_of(mark, &self.marks.lifetimes, now))
            .collect();
        if revocations.is_empty() {
            return Ok(());
        }
        self.marks.revocations.revoke(revocations).await?;
        Ok(())
    }

    /// Writes the marks of `user`'s sessions that a committed change ended at `now`
    /// in PostgreSQL, which queued their marks in the same transaction. The
    /// change stands whatever Redis says: `/refresh` and the routes that
    /// change an account already refuse those sessions, and a mark that
    /// cannot be written now is written by the replay of the queue.
    pub async fn mark_committed(&self, user: UserId, ended: &[EndedSession], now: DateTime<Utc>) {
        self.marks.write_queued(queued(user, ended, now), now).await;
    }
}

/// The marks the session store queued when it ended these sessions of
/// `user` at `now`.
fn queued(user: UserId, ended: &[EndedSession], now: DateTime<Utc>) -> Vec<QueuedMark> {
    ended
        .iter()
        .map(|session| QueuedMark::Session {
            id: session.id.clone(),
            user,
            expires_at: session.expires_at,
            ended_at: now,
        })
        .collect()
}
