//! Every Redis key name this crate (producer and consumer side) uses. Tests
//! and the worker build names through these functions so they can never
//! drift apart.

use domain::{SessionId, TokenId, UserId};

/// The prefix production uses when none is configured.
pub const DEFAULT_PREFIX: &str = "auth:";

/// The one field of each email stream entry; its value is `EmailJob::to_json()`.
pub const EMAIL_JOB_FIELD: &str = "job";

/// Present (value `1`) while the token with this `jti` is revoked.
pub fn revoked_token(prefix: &str, token: &TokenId) -> String {
    format!("{prefix}revoked:jti:{token}")
}

/// Present (value `1`) while every token of this session (`sid`) is revoked.
pub fn revoked_session(prefix: &str, session: &SessionId) -> String {
    format!("{prefix}revoked:sid:{session}")
}

/// Present while every token of this user is revoked, whenever it was
/// issued (the user was deleted). A value left by an older release (unix
/// seconds) counts as present too.
pub fn revoked_user(prefix: &str, user: UserId) -> String {
    format!("{prefix}revoked:user:{user}")
}

/// The stream of email jobs the worker consumes.
pub fn email_stream(prefix: &str) -> String {
    format!("{prefix}email:jobs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_documented_layout() {
        assert_eq!(revoked_token("p:", &TokenId::new("j1")), "p:revoked:jti:j1");
        assert_eq!(
            revoked_session("p:", &SessionId::new("s1")),
            "p:revoked:sid:s1"
        );
        assert_eq!(revoked_user("p:", UserId::new(42)), "p:revoked:user:42");
        assert_eq!(email_stream(DEFAULT_PREFIX), "auth:email:jobs");
    }
}
