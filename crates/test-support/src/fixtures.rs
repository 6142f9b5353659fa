//! Values several test crates build the same way.

use chrono::{DateTime, Utc};
use domain::{SessionId, TokenClaims, TokenId, TokenKind, UserId};

/// The claims of an access token (not fresh, outside any refresh family)
/// issued at `issued_at` and valid for `lifetime`.
pub fn access_claims(
    user: i64,
    token: &str,
    session: &str,
    issued_at: DateTime<Utc>,
    lifetime: chrono::Duration,
) -> TokenClaims {
    TokenClaims {
        user_id: UserId::new(user),
        token_id: TokenId::new(token),
        session_id: SessionId::new(session),
        kind: TokenKind::Access,
        fresh: false,
        generation: None,
        methods: domain::AuthMethods::Password,
        issued_at,
        expires_at: issued_at + lifetime,
    }
}
