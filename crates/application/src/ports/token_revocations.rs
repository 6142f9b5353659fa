use async_trait::async_trait;
use domain::{SessionId, TokenClaims, UserId};

use super::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error("the revocation store is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the revocation store failed")]
    Unexpected(#[source] BoxError),
}

/// One thing to revoke. Each is kept for `ttl_secs`, which callers set to
/// at least the remaining life of the longest-lived token it covers.
/// There is no mark for a single token: logout ends the token's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// Every token of one login (`sid`): the session was ended (logout,
    /// session management, a password change or reset, a replayed refresh
    /// token). `user` owns it: its mark is stored beside the user's (one
    /// token check reads both, on one shard of a cluster).
    Session {
        id: SessionId,
        user: UserId,
        ttl_secs: u64,
    },
    /// Every token of the user, whenever it was issued: the user is gone.
    /// Marking the user rather than a point in time also kills tokens of a
    /// login that was still in flight when the user was deleted.
    User { id: UserId, ttl_secs: u64 },
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TokenRevocations: Send + Sync {
    /// Records all the revocations together.
    async fn revoke(&self, revocations: Vec<Revocation>) -> Result<(), RevocationError>;

    /// Whether the token is revoked by its session or its user, answered
    /// in one round trip to the store.
    async fn is_revoked(&self, claims: &TokenClaims) -> Result<bool, RevocationError>;
}
