//! Writing the revocation marks that the session store queued: how long
//! each mark lives, and the write itself, shared by the requests that end
//! sessions or delete users and by the replay of the queue.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::TokenLifetimes;
use crate::error_chain::ErrorChain;
use crate::ports::{QueuedMark, Revocation, RevocationMarkQueue, TokenRevocations};

/// The mark a queued one becomes when it is written at `now`, or `None`
/// when every access token it covers has expired (the mark is useless
/// then). A mark lives no longer than the access-token lifetime past the
/// moment the session ended or the user was deleted: it only has to
/// outlive the access tokens issued until then. Refresh tokens need no
/// mark for longer, since `/refresh` asks the session store, which holds
/// the session as ended (or has no session at all: the user, or the
/// purged row, is gone) however long the refresh token lives.
pub(crate) fn revocation_of(
    mark: &QueuedMark,
    lifetimes: &TokenLifetimes,
    now: DateTime<Utc>,
) -> Option<Revocation> {
    // One second beyond the last `exp`, which has one-second resolution.
    let margin = Duration::seconds(1);
    let until = mark
        .ended_at()
        .checked_add_signed(lifetimes.access)?
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
    fn a_session_mark_lives_as_long_as_its_access_tokens_whatever_its_refresh_token() {
        // Written as it ends: a fresh access token's life, even with a
        // refresh token valid far longer (the session store refuses that).
        assert_eq!(ttl(&session(1_000, 0)), Some(301));
        assert_eq!(ttl(&session(10, 0)), Some(301));
        // Replayed 100 s later: only what is left of it.
        assert_eq!(ttl(&session(10, 100)), Some(201));
        assert_eq!(ttl(&session(900, 100)), Some(201));
    }

    #[test]
    fn a_user_mark_lives_as_long_as_the_access_tokens_of_the_user() {
        let mark = |ended_ago| QueuedMark::User {
            id: UserId::new(7),
            ended_at: now() - Duration::seconds(ended_ago),
        };
        assert_eq!(
            revocation_of(&mark(0), &lifetimes(), now()),
            Some(Revocation::User {
                id: UserId::new(7),
                ttl_secs: 301
            })
        );
        assert_eq!(
            revocation_of(&mark(100), &lifetimes(), now()),
            Some(Revocation::User {
                id: UserId::new(7),
                ttl_secs: 201
            })
        );
    }

    #[test]
    fn a_mark_whose_tokens_all_expired_is_useless() {
        assert_eq!(ttl(&session(-400, 302)), None);
        assert_eq!(ttl(&session(-400, 300)), Some(1));
        // A deleted user's refresh tokens may live on; no mark is kept
        // for them.
        let user = QueuedMark::User {
            id: UserId::new(7),
            ended_at: now() - Duration::seconds(302),
        };
        assert_eq!(ttl(&user), None);
        assert_eq!(ttl(&session(2_000, 302)), None);
    }
}
