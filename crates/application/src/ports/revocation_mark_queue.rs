use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{SessionId, UserId};

use super::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum MarkQueueError {
    #[error("the revocation mark queue is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the revocation mark queue failed")]
    Unexpected(#[source] BoxError),
}

/// A revocation mark the revocation store may not have yet. The session
/// store queues one in the very transaction that ends a session or deletes
/// a user, so a revocation store failure at that moment delays the mark
/// but never loses it. Holds facts, not a TTL: how long the mark lives is
/// the use cases' rule (`revocation_marks::revocation_of`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueuedMark {
    /// Every token of one ended session.
    Session {
        id: SessionId,
        /// Whose session it is: the mark is stored under the user.
        user: UserId,
        /// Its last refresh token's `exp`.
        expires_at: DateTime<Utc>,
        /// When it was ended: no access token of it is younger.
        ended_at: DateTime<Utc>,
    },
    /// Every token of a deleted user.
    User {
        id: UserId,
        /// When it was deleted.
        ended_at: DateTime<Utc>,
    },
}

impl QueuedMark {
    pub fn ended_at(&self) -> DateTime<Utc> {
        match self {
            QueuedMark::Session { ended_at, .. } | QueuedMark::User { ended_at, .. } => *ended_at,
        }
    }
}

/// The durable queue of revocation marks, in the session store. A mark
/// queued again before it was written keeps the later facts, so forgetting
/// the earlier version (see [`Self::forget`]) never drops the later one.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RevocationMarkQueue: Send + Sync {
    /// Takes up to `limit` queued marks, oldest first, that no other
    /// instance holds, and hides them from the others for `lease`.
    async fn lease(&self, limit: usize, lease: Duration)
    -> Result<Vec<QueuedMark>, MarkQueueError>;

    /// Removes these marks (the revocation store has them, or they expired)
    /// unless they were queued again with a later `ended_at` meanwhile.
    async fn forget(&self, marks: Vec<QueuedMark>) -> Result<(), MarkQueueError>;

    /// Hands leased marks back at once: writing them failed, and another
    /// instance may succeed.
    async fn release(&self, marks: Vec<QueuedMark>) -> Result<(), MarkQueueError>;
}
