//! Every Redis key name this crate (producer and consumer side) uses. Tests
//! and the worker build names through these functions so they can never
//! drift apart.

use domain::{SessionId, UserId};
use uuid::Uuid;

/// The prefix production uses when none is configured.
pub const DEFAULT_PREFIX: &str = "auth:";

/// The one field of each email stream entry; its value is `EmailJob::to_json()`.
pub const EMAIL_JOB_FIELD: &str = "job";

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

/// The two marks one token check reads (its session's and its user's),
/// written into one buffer: one allocation per check, not two.
pub(crate) struct MarkKeys {
    text: String,
    /// Where the session's key ends and the user's begins.
    split: usize,
}

impl MarkKeys {
    pub(crate) fn new(prefix: &str, session: &SessionId, user: UserId) -> Self {
        use std::fmt::Write;
        // "revoked:sid:" (12) and "revoked:user:" (13), and a user id of up
        // to 20 characters (`i64::MIN`).
        let mut text = String::with_capacity(2 * prefix.len() + session.as_str().len() + 45);
        // Writing to a String cannot fail. The same layout as the
        // functions above (a test holds them together).
        let _ = write!(text, "{prefix}revoked:sid:{session}");
        let split = text.len();
        let _ = write!(text, "{prefix}revoked:user:{user}");
        Self { text, split }
    }

    pub(crate) fn get(&self) -> [&str; 2] {
        let (session, user) = self.text.split_at(self.split);
        [session, user]
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
    fn a_check_reads_the_two_revocation_marks() {
        let (session, user) = (SessionId::new("s1"), UserId::new(42));
        assert_eq!(
            MarkKeys::new("p:", &session, user).get(),
            [
                revoked_session("p:", &session).as_str(),
                revoked_user("p:", user).as_str(),
            ]
        );
        // The longest user id fills the reservation exactly: no check
        // allocates twice.
        let (session, user) = (SessionId::new("0".repeat(32)), UserId::new(i64::MIN));
        let keys = MarkKeys::new("auth:", &session, user);
        assert_eq!(
            keys.get(),
            [
                revoked_session("auth:", &session).as_str(),
                revoked_user("auth:", user).as_str(),
            ]
        );
        assert_eq!(keys.text.len(), 2 * "auth:".len() + 32 + 45);
    }

    #[test]
    fn names_follow_the_documented_layout() {
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
