//! Every Redis key name this crate (producer and consumer side) uses. Tests
//! and the worker build names through these functions so they can never
//! drift apart.

use domain::{SessionId, TokenId, UserId};
use uuid::Uuid;

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

/// The three marks one token check reads (its own, its session's, its
/// user's), written into one buffer: one allocation per check, not three.
pub(crate) struct MarkKeys {
    text: String,
    ends: [usize; 3],
}

impl MarkKeys {
    pub(crate) fn new(prefix: &str, token: &TokenId, session: &SessionId, user: UserId) -> Self {
        use std::fmt::Write;
        let mut text = String::with_capacity(3 * (prefix.len() + 24) + token.as_str().len() * 2);
        let mut ends = [0; 3];
        // Writing to a String cannot fail. The same layout as the
        // functions above (a test holds them together).
        let _ = write!(text, "{prefix}revoked:jti:{token}");
        ends[0] = text.len();
        let _ = write!(text, "{prefix}revoked:sid:{session}");
        ends[1] = text.len();
        let _ = write!(text, "{prefix}revoked:user:{user}");
        ends[2] = text.len();
        Self { text, ends }
    }

    pub(crate) fn get(&self) -> [&str; 3] {
        [
            &self.text[..self.ends[0]],
            &self.text[self.ends[0]..self.ends[1]],
            &self.text[self.ends[1]..self.ends[2]],
        ]
    }
}

/// The stream of email jobs the worker consumes.
pub fn email_stream(prefix: &str) -> String {
    format!("{prefix}email:jobs")
}

/// The field of stream entries put back after failed attempts; its value
/// is the job with its history (see `email_stream`).
pub const EMAIL_ENVELOPE_FIELD: &str = "envelope";

/// Sorted set of jobs waiting to be retried, scored by due time (unix ms).
pub fn email_retry(prefix: &str) -> String {
    format!("{prefix}email:retry")
}

/// Hash of dead letters (JSON) by job id.
pub fn email_dead(prefix: &str) -> String {
    format!("{prefix}email:dead")
}

/// Sorted set of dead letter ids scored by when they died (unix ms), for
/// retention and the cap.
pub fn email_dead_by_time(prefix: &str) -> String {
    format!("{prefix}email:dead:by_time")
}

/// Set (value `1`) for a while after the job was delivered.
pub fn email_delivered(prefix: &str, job_id: Uuid) -> String {
    format!("{prefix}email:delivered:{job_id}")
}

/// Holds the stream entry id of the delivery sending this job right now;
/// expires after the visibility timeout.
pub fn email_claim(prefix: &str, job_id: Uuid) -> String {
    format!("{prefix}email:claim:{job_id}")
}

/// Sorted set of the events a rate limit rule counted for one subject (a
/// client IP group, a recipient), scored by time (unix ms).
pub fn rate_limit(prefix: &str, rule: &str, subject: &str) -> String {
    format!("{prefix}ratelimit:{rule}:{subject}")
}

/// Hash of an account's failed logins: `n` (how many) and `last` (when
/// the last began, unix ms).
pub fn failed_logins(prefix: &str, account: &str) -> String {
    format!("{prefix}ratelimit:failed_logins:{account}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_reads_the_three_revocation_marks() {
        let (token, session, user) = (TokenId::new("j1"), SessionId::new("s1"), UserId::new(42));
        assert_eq!(
            MarkKeys::new("p:", &token, &session, user).get(),
            [
                revoked_token("p:", &token).as_str(),
                revoked_session("p:", &session).as_str(),
                revoked_user("p:", user).as_str(),
            ]
        );
    }

    #[test]
    fn names_follow_the_documented_layout() {
        assert_eq!(revoked_token("p:", &TokenId::new("j1")), "p:revoked:jti:j1");
        assert_eq!(
            revoked_session("p:", &SessionId::new("s1")),
            "p:revoked:sid:s1"
        );
        assert_eq!(revoked_user("p:", UserId::new(42)), "p:revoked:user:42");
        assert_eq!(email_stream(DEFAULT_PREFIX), "auth:email:jobs");
        assert_eq!(email_retry("p:"), "p:email:retry");
        assert_eq!(email_dead("p:"), "p:email:dead");
        assert_eq!(email_dead_by_time("p:"), "p:email:dead:by_time");
        assert_eq!(
            email_delivered("p:", Uuid::nil()),
            "p:email:delivered:00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            email_claim("p:", Uuid::nil()),
            "p:email:claim:00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            rate_limit("p:", "login", "2001:db8::/64"),
            "p:ratelimit:login:2001:db8::/64"
        );
        assert_eq!(
            failed_logins("p:", "ada@example.io"),
            "p:ratelimit:failed_logins:ada@example.io"
        );
    }
}
