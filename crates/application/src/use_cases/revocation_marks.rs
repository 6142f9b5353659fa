//! Writing the revocation marks that the session store queued: how long
//! each mark lives, and the write itself, shared by the requests that end
//! sessions or delete users and by the replay of the queue.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::TokenLifetimes;
use crate::error_chain::ErrorChain;
use crate::ports::{QueuedMark, Revocation, RevocationMarkQueue, TokenRevocations};

/// The mark a queued one becomes when it is written at `now`, or `None`
/// when every token it covers has expired (the mark is useless then).
/// A session's mark outlives its last refresh token and every access token
/// issued until it ended; a user's mark outlives every token it was ever
/// issued.
pub(crate) fn revocation_of(
    mark: &QueuedMark,
    lifetimes: &TokenLifetimes,
    now: DateTime<Utc>,
) -> Option<Revocation> {
    // One second beyond the last `exp`, which has one-second resolution.
    let margin = Duration::seconds(1);
    let until = match mark {
        QueuedMark::Session {
            expires_at,
            ended_at,
            ..
        } => (*expires_at).max(ended_at.checked_add_signed(lifetimes.access)?),
        QueuedMark::User { ended_at, .. } => {
            ended_at.checked_add_signed(lifetimes.access.max(lifetimes.refresh))?
        }
    }
    .checked_add_signed(margin)?;
    let left_ms = (until - now).num_milliseconds();
    if left_ms <= 0 {
        return None;
    }
    let ttl_secs = u64::try_from(left_ms).ok()?.div_ceil(1000);
    Some(match mark {
        QueuedMark::Session { id, user, .. } => Revocation::Session {
            id: id.clone(),
            user: *user,
            ttl_secs,
        },
        QueuedMark::User { id, .. } => Revocation::User { id: *id, ttl_secs },
    })
}

/// Writes marks the session store has queued, then takes them off the
/// queue: the common, cheap path of every revocation.
#[derive(Clone)]
pub struct RevocationMarks {
    pub revocations: Arc<dyn TokenRevocations>,
    pub queue: Arc<dyn RevocationMarkQueue>,
    pub lifetimes: TokenLifetimes,
}

impl RevocationMarks {
    /// The change that queued `marks` is committed and stands whatever
    /// happens here: a failure leaves the marks queued, and the replay of
    /// any running instance writes them once the revocation store answers
    /// again (account-changing routes check the session store meanwhile).
    /// So a failure is logged, never returned.
    pub(crate) async fn write_queued(&self, marks: Vec<QueuedMark>, now: DateTime<Utc>) {
        if marks.is_empty() {
            return;
        }
        let revocations = marks
            .iter()
            .filter_map(|mark| revocation_of(mark, &self.lifetimes, now))
            .collect();
        if let Err(error) = self.revocations.revoke(revocations).await {
            tracing::warn!(
                error.chain = %ErrorChain(&error),
                marks = marks.len(),
                "revocation marks not written; they stay queued for the replay"
            );
            return;
        }
        let count = marks.len();
        if let Err(error) = self.queue.forget(marks).await {
            // Harmless: the replay writes them once more and forgets them.
            tracing::warn!(
                error.chain = %ErrorChain(&error),
                marks = count,
                "written revocation marks not taken off the queue"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::{SessionId, UserId};

    use super::*;
    use crate::use_cases::test_support::now;

    fn lifetimes() -> TokenLifetimes {
        TokenLifetimes {
            access: Duration::seconds(300),
            refresh: Duration::seconds(3_000),
        }
    }

    fn session(expires_in: i64, ended_ago: i64) -> QueuedMark {
        QueuedMark::Session {
            id: SessionId::new("sid-1"),
            user: UserId::new(7),
            expires_at: now() + Duration::seconds(expires_in),
            ended_at: now() - Duration::seconds(ended_ago),
        }
    }

    fn ttl(mark: &QueuedMark) -> Option<u64> {
        revocation_of(mark, &lifetimes(), now()).map(|revocation| match revocation {
            Revocation::Session { ttl_secs, .. } | Revocation::User { ttl_secs, .. } => ttl_secs,
        })
    }

    #[test]
    fn a_session_mark_outlives_its_refresh_token_and_its_access_tokens() {
        // Written as it ends: the refresh token, or a fresh access token.
        assert_eq!(ttl(&session(1_000, 0)), Some(1_001));
        assert_eq!(ttl(&session(10, 0)), Some(301));
        // Replayed 100 s later: only what is left of either.
        assert_eq!(ttl(&session(10, 100)), Some(201));
        assert_eq!(ttl(&session(900, 100)), Some(901));
    }

    #[test]
    fn a_user_mark_outlives_every_token_the_user_held() {
        let mark = QueuedMark::User {
            id: UserId::new(7),
            ended_at: now() - Duration::seconds(1_000),
        };
        assert_eq!(
            revocation_of(&mark, &lifetimes(), now()),
            Some(Revocation::User {
                id: UserId::new(7),
                ttl_secs: 2_001
            })
        );
    }

    #[test]
    fn a_mark_whose_tokens_all_expired_is_useless() {
        assert_eq!(ttl(&session(-400, 302)), None);
        assert_eq!(ttl(&session(-400, 300)), Some(1));
        let user = QueuedMark::User {
            id: UserId::new(7),
            ended_at: now() - Duration::seconds(3_001),
        };
        assert_eq!(ttl(&user), None);
    }
}
