use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{SessionId, TokenClaims, TokenId, UserId};

#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error("revocation store unavailable: {0}")]
    Unavailable(String),
    #[error("revocation store failed: {0}")]
    Unexpected(String),
}

/// One thing to revoke. Each is kept for `ttl_secs`, which callers set to
/// at least the remaining life of the longest-lived token it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    Token {
        id: TokenId,
        ttl_secs: u64,
    },
    Session {
        id: SessionId,
        ttl_secs: u64,
    },
    /// Every token of the user issued at or before `issued_until`.
    User {
        id: UserId,
        issued_until: DateTime<Utc>,
        ttl_secs: u64,
    },
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TokenRevocations: Send + Sync {
    /// Records all the revocations together.
    async fn revoke(&self, revocations: Vec<Revocation>) -> Result<(), RevocationError>;

    /// Whether the token is revoked by its id, its session or its user,
    /// answered in one round trip to the store.
    async fn is_revoked(&self, claims: &TokenClaims) -> Result<bool, RevocationError>;
}
