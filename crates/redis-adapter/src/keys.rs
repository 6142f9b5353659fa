//! Every Redis key name this crate (producer and consumer side) uses. Tests
//! and the worker build names through these functions so they can never
//! drift apart.
//!
//! Keys one operation touches together share a hash tag (the part in
//! `{}`: a Redis Cluster puts keys with the same tag in the same slot), so
//! every command, transaction and script works on a cluster and users
//! spread over every shard: a token's two marks are tagged by its user,
//! a rate limit log by its rule and subject, and the whole email stream
//! by `{email}` (it lives on one shard). The prefix must not contain `{`:
//! its braces would be the tag (see docs/redis.md#key-layout).

use domain::{SessionId, UserId};
use uuid::Uuid;

/// The prefix production uses when none is configured.
pub const DEFAULT_PREFIX: &str = "auth:";

/// The one field of each email stream entry; its value is `EmailJob::to_json()`.
pub const EMAIL_JOB_FIELD: &str = "job";

/// Whether `prefix` can start every key: it must not contain `{`, which
/// would make part of it the hash tag of every key.
pub fn valid_prefix(prefix: &str) -> bool {
    !prefix.contains('{')
}

/// Present (value `1`) while every token of this session (`sid`) of `user`
/// is revoked. Tagged by the user: a check reads it with the user's mark.
pub fn revoked_session(prefix: &str, user: UserId, session: &SessionId) -> String {
    format!("{prefix}revoked:{{u:{user}}}:sid:{session}")
}

/// Present while every token of this user is revoked, whenever it was
/// issued (the user was deleted).
pub fn revoked_user(prefix: &str, user: UserId) -> String {
    format!("{prefix}revoked:{{u:{user}}}:user")
}

/// The hash tag of `user`'s marks, as Redis reads it from the key.
pub fn user_tag(user: UserId) -> String {
    format!("u:{user}")
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
        // "revoked:{u:" (11) twice, "}:sid:" (6), "}:user" (6), and a user
        // id of up to 20 characters (`i64::MIN`) twice.
        let mut text = String::with_capacity(2 * prefix.len() + session.as_str().len() + 74);
        // Writing to a String cannot fail. The same layout as the
        // functions above (a test holds them together).
        let _ = write!(text, "{prefix}revoked:{{u:{user}}}:sid:{session}");
        let split = text.len();
        let _ = write!(text, "{prefix}revoked:{{u:{user}}}:user");
        Self { text, split }
    }

    pub(crate) fn get(&self) -> [&str; 2] {
        let (session, user) = self.text.split_at(self.split);
        [session, user]
    }
}

/// The stream of email jobs the worker consumes. It and every other email
/// key share the tag `{email}`: the scripts and transactions of a delivery
/// touch several of them at once.
pub fn email_stream(prefix: &str) -> String {
    format!("{prefix}{{email}}:jobs")
}

/// The field of stream entries put back after failed attempts; its value
/// is the job with its history (see `email_stream`).
pub const EMAIL_ENVELOPE_FIELD: &str = "envelope";

/// Sorted set of jobs waiting to be retried, scored by due time (unix ms).
pub fn email_retry(prefix: &str) -> String {
    format!("{prefix}{{email}}:retry")
}

/// Hash of dead letters (JSON) by job id.
pub fn email_dead(prefix: &str) -> String {
    format!("{prefix}{{email}}:dead")
}

/// Sorted set of dead letter ids scored by when they died (unix ms), for
/// retention and the cap.
pub fn email_dead_by_time(prefix: &str) -> String {
    format!("{prefix}{{email}}:dead:by_time")
}

/// Set (value `1`) for a while after the job was delivered.
pub fn email_delivered(prefix: &str, job_id: Uuid) -> String {
    format!("{prefix}{{email}}:delivered:{job_id}")
}

/// Holds the stream entry id of the delivery sending this job right now;
/// expires after the visibility timeout.
pub fn email_claim(prefix: &str, job_id: Uuid) -> String {
    format!("{prefix}{{email}}:claim:{job_id}")
}

/// Sorted set of the events a rate limit rule counted for one subject (a
/// client IP group, a recipient), scored by time (unix ms). Tagged by
/// rule and subject, so the subjects of one rule spread over the shards.
pub fn rate_limit(prefix: &str, rule: &str, subject: &str) -> String {
    format!("{prefix}ratelimit:{{{rule}:{subject}}}")
}

/// Hash of an account's failed logins: `n` (how many) and `last` (when
/// the last began, unix ms).
pub fn failed_logins(prefix: &str, account: &str) -> String {
    format!("{prefix}ratelimit:failed_logins:{{{account}}}")
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
                revoked_session("p:", user, &session).as_str(),
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
                revoked_session("auth:", user, &session).as_str(),
                revoked_user("auth:", user).as_str(),
            ]
        );
        assert_eq!(keys.text.len(), 2 * "auth:".len() + 32 + 74);
    }

    #[test]
    fn names_follow_the_documented_layout() {
        assert_eq!(
            revoked_session("p:", UserId::new(42), &SessionId::new("s1")),
            "p:revoked:{u:42}:sid:s1"
        );
        assert_eq!(revoked_user("p:", UserId::new(42)), "p:revoked:{u:42}:user");
        assert_eq!(email_stream(DEFAULT_PREFIX), "auth:{email}:jobs");
        assert_eq!(email_retry("p:"), "p:{email}:retry");
        assert_eq!(email_dead("p:"), "p:{email}:dead");
        assert_eq!(email_dead_by_time("p:"), "p:{email}:dead:by_time");
        assert_eq!(
            email_delivered("p:", Uuid::nil()),
            "p:{email}:delivered:00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            email_claim("p:", Uuid::nil()),
            "p:{email}:claim:00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            rate_limit("p:", "login", "2001:db8::/64"),
            "p:ratelimit:{login:2001:db8::/64}"
        );
        assert_eq!(
            failed_logins("p:", "ada@example.io"),
            "p:ratelimit:failed_logins:{ada@example.io}"
        );
    }

    /// Redis hashes the part between the first `{` and the next `}`.
    fn tag(key: &str) -> &str {
        let open = key.find('{').expect("a tag");
        let close = open + key[open..].find('}').expect("a closed tag");
        &key[open + 1..close]
    }

    #[test]
    fn keys_one_operation_touches_share_a_tag() {
        let (user, session) = (UserId::new(7), SessionId::new("s"));
        let marks = MarkKeys::new("p:", &session, user);
        let [sid, uid] = marks.get().map(tag);
        assert_eq!((sid, uid), ("u:7", "u:7"));
        assert_eq!(tag(&revoked_user("p:", user)), user_tag(user));
        assert_ne!(tag(&revoked_user("p:", UserId::new(8))), "u:7");
        let job = Uuid::nil();
        for key in [
            email_stream("p:"),
            email_retry("p:"),
            email_dead("p:"),
            email_dead_by_time("p:"),
            email_delivered("p:", job),
            email_claim("p:", job),
        ] {
            assert_eq!(tag(&key), "email", "{key}");
        }
        assert!(valid_prefix("auth:") && !valid_prefix("a{b}:"));
    }
}
