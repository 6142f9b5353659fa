//! Rate limits: the rules of `docs/http-api.md#rate-limit-rules`, their arithmetic, and
//! what a limiter answers. The `RateLimiter` port is in [`crate::ports`];
//! its implementations are adapters (the in-memory and fallback limiters
//! in rate-limit-adapter, the Redis one in redis-adapter).
//!
//! Two kinds of counter, each updated in one atomic step:
//! - events per subject ([`SlidingLog`]): requests per client IP (or
//!   client network), emails
//!   per recipient. Exact: at most `limit` in any `period`. An email job
//!   counts once however often a retried relay batch asks about it;
//! - failed logins per account ([`ThrottlePolicy`]): after `threshold`
//!   failures the account waits `base`, doubling per further failure up to
//!   `max`; never a permanent lockout.
//!
//! The Redis adapter runs the same arithmetic in Lua; its tests compare
//! it with the in-memory limiter on a hand-moved clock.

mod arithmetic;
mod decisions;

use std::fmt;
use std::time::Duration;

pub use arithmetic::{FailureRecord, LogEntry, SlidingLog, millis};
pub use decisions::{AttemptDecision, RateDecision};

/// The metric counting refused requests (and dropped emails) by rule
/// (label `rule`: [`Rule::name`]).
pub const RATE_LIMITED_TOTAL: &str = "rate_limited_total";

/// One row of the rate limit table (`docs/http-api.md#rate-limit-rules`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// `POST /login`, per client IP.
    LoginPerIp,
    /// `POST /register`, per client IP.
    RegisterPerIp,
    /// `POST /password/forgot`, `POST /verify-email/resend`, per client IP.
    EmailRequestsPerIp,
    /// `POST /verify-email`, `POST /password/reset`,
    /// `POST /users/me/email/confirm`, `POST /email-change/undo`, per
    /// client IP.
    SecretAttemptsPerIp,
    /// The same routes per client network (IPv4 /24, IPv6 /48): one
    /// guesser spread over many addresses of a network.
    SecretAttemptsPerNetwork,
    /// `POST /refresh`, per client IP.
    RefreshPerIp,
    /// Emails a stranger can trigger, per recipient (security notices are
    /// never capped).
    EmailsPerRecipient,
    /// Failed logins (and wrong current passwords), per account and
    /// client (its network, or its device token).
    FailedLogins,
    /// Failed logins per account from every client without a device token.
    FailedLoginsPerAccount,
    /// `POST /users/me/email`, per user, whatever the answer: each request
    /// may mail a new code and check a password.
    EmailChangePerUser,
}

impl Rule {
    pub const ALL: [Rule; 10] = [
        Rule::LoginPerIp,
        Rule::RegisterPerIp,
        Rule::EmailRequestsPerIp,
        Rule::SecretAttemptsPerIp,
        Rule::SecretAttemptsPerNetwork,
        Rule::RefreshPerIp,
        Rule::EmailsPerRecipient,
        Rule::FailedLogins,
        Rule::FailedLoginsPerAccount,
        Rule::EmailChangePerUser,
    ];

    /// The rules of every route that takes a one-time secret or a code,
    /// in the order they are checked: per address, then per network.
    pub const SECRET_ATTEMPTS: [Rule; 2] =
        [Rule::SecretAttemptsPerIp, Rule::SecretAttemptsPerNetwork];

    /// The rule's name in Redis keys, metric labels and the
    /// `RateLimit-Policy` header: stable, lower case, no spaces.
    pub fn name(self) -> &'static str {
        match self {
            Rule::LoginPerIp => "login",
            Rule::RegisterPerIp => "register",
            Rule::EmailRequestsPerIp => "email_requests",
            Rule::SecretAttemptsPerIp => "secret_attempts",
            Rule::SecretAttemptsPerNetwork => "secret_attempts_per_network",
            Rule::RefreshPerIp => "refresh",
            Rule::EmailsPerRecipient => "emails_per_recipient",
            Rule::FailedLogins => "failed_logins",
            Rule::FailedLoginsPerAccount => "failed_logins_per_account",
            Rule::EmailChangePerUser => "email_change_per_user",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// At most `limit` events per `period` (`30/60s` in configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub period: Duration,
}

impl RateLimit {
    pub const fn new(limit: u32, period: Duration) -> Self {
        Self { limit, period }
    }

    pub const fn per_secs(limit: u32, secs: u64) -> Self {
        Self::new(limit, Duration::from_secs(secs))
    }
}

/// Exponential throttling of an account after failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures tolerated before the first wait.
    pub threshold: u32,
    /// Failures are forgotten this long after the last one (once any wait
    /// it caused is over).
    pub window: Duration,
    /// The first wait, doubled by each further failure...
    pub base: Duration,
    /// ...up to this.
    pub max: Duration,
}

impl Default for ThrottlePolicy {
    /// As `docs/http-api.md#login-throttling` states: after 5 failures in 15 minutes, 1 s doubling up to
    /// 15 minutes.
    fn default() -> Self {
        Self {
            threshold: 5,
            window: Duration::from_secs(15 * 60),
            base: Duration::from_secs(1),
            max: Duration::from_secs(15 * 60),
        }
    }
}

impl ThrottlePolicy {
    /// A budget of `limit` failures: past it, one more try per `period`
    /// (failures are forgotten once `period` passed without one).
    pub fn budget(limit: RateLimit) -> Self {
        Self {
            threshold: limit.limit,
            window: limit.period,
            base: limit.period,
            max: limit.period,
        }
    }

    /// The policy as a quota, for the `RateLimit-Policy` header.
    pub fn as_quota(&self) -> RateLimit {
        RateLimit::new(self.threshold, self.window)
    }
}

/// Every limit of `docs/http-api.md#rate-limit-rules`, with its defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub login_per_ip: RateLimit,
    pub register_per_ip: RateLimit,
    pub email_requests_per_ip: RateLimit,
    pub secret_attempts_per_ip: RateLimit,
    pub secret_attempts_per_network: RateLimit,
    pub refresh_per_ip: RateLimit,
    pub emails_per_recipient: RateLimit,
    /// Per (account, client network) and per (account, device token).
    pub failed_logins: ThrottlePolicy,
    /// Per account, for clients without a device token.
    pub failed_logins_per_account: ThrottlePolicy,
    pub email_change_per_user: RateLimit,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            login_per_ip: RateLimit::per_secs(30, 60),
            register_per_ip: RateLimit::per_secs(10, 60),
            email_requests_per_ip: RateLimit::per_secs(5, 60),
            secret_attempts_per_ip: RateLimit::per_secs(30, 600),
            secret_attempts_per_network: RateLimit::per_secs(100, 600),
            refresh_per_ip: RateLimit::per_secs(300, 300),
            emails_per_recipient: RateLimit::per_secs(10, 3600),
            failed_logins: ThrottlePolicy::default(),
            failed_logins_per_account: ThrottlePolicy::budget(RateLimit::per_secs(100, 3600)),
            email_change_per_user: RateLimit::per_secs(3, 3600),
        }
    }
}

impl RateLimitConfig {
    /// The quota of `rule` (for failed logins: failures per window).
    pub fn quota(&self, rule: Rule) -> RateLimit {
        match rule {
            Rule::LoginPerIp => self.login_per_ip,
            Rule::RegisterPerIp => self.register_per_ip,
            Rule::EmailRequestsPerIp => self.email_requests_per_ip,
            Rule::SecretAttemptsPerIp => self.secret_attempts_per_ip,
            Rule::SecretAttemptsPerNetwork => self.secret_attempts_per_network,
            Rule::RefreshPerIp => self.refresh_per_ip,
            Rule::EmailsPerRecipient => self.emails_per_recipient,
            Rule::FailedLogins => self.failed_logins.as_quota(),
            Rule::FailedLoginsPerAccount => self.failed_logins_per_account.as_quota(),
            Rule::EmailChangePerUser => self.email_change_per_user,
        }
    }
}

/// A request refused by a rule: `429` with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("over the {rule} rate limit")]
pub struct RateLimited {
    pub rule: Rule,
    /// The rule's quota, advertised in `RateLimit-Policy`.
    pub quota: RateLimit,
    pub retry_after: Duration,
}

/// The longest subject kept: an email address is at most 254 characters,
/// and text that is longer cannot belong to any account, so cutting it
/// costs nothing and bounds what an attacker can make us store.
const MAX_SUBJECT_CHARS: usize = 254;

/// The counter subject of an email address (an account or a recipient):
/// its normal form, so `Ada@Example.COM` and `ada@example.com` share one
/// budget; text that is not an address, trimmed and lower-cased. Whether
/// an account uses the address plays no part, so a limit reveals nothing.
pub fn email_subject(raw: &str) -> String {
    match domain::EmailAddress::from_storage(raw) {
        Ok(email) => email.normalized(),
        Err(_) => raw
            .trim()
            .chars()
            .take(MAX_SUBJECT_CHARS)
            .collect::<String>()
            .to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_contract_table() {
        let config = RateLimitConfig::default();
        let per = |limit, secs| RateLimit::per_secs(limit, secs);
        assert_eq!(config.quota(Rule::LoginPerIp), per(30, 60));
        assert_eq!(config.quota(Rule::RegisterPerIp), per(10, 60));
        assert_eq!(config.quota(Rule::EmailRequestsPerIp), per(5, 60));
        assert_eq!(config.quota(Rule::SecretAttemptsPerIp), per(30, 600));
        assert_eq!(config.quota(Rule::SecretAttemptsPerNetwork), per(100, 600));
        assert_eq!(config.quota(Rule::RefreshPerIp), per(300, 300));
        assert_eq!(config.quota(Rule::EmailsPerRecipient), per(10, 3600));
        assert_eq!(config.quota(Rule::FailedLogins), per(5, 900));
        assert_eq!(config.quota(Rule::FailedLoginsPerAccount), per(100, 3600));
        assert_eq!(config.quota(Rule::EmailChangePerUser), per(3, 3600));
        assert_eq!(config.failed_logins.base, Duration::from_secs(1));
        assert_eq!(config.failed_logins.max, Duration::from_secs(900));
    }

    #[test]
    fn rule_names_are_distinct_and_plain() {
        let mut names: Vec<_> = Rule::ALL.iter().map(|rule| rule.name()).collect();
        assert!(
            names
                .iter()
                .all(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Rule::ALL.len());
    }

    #[test]
    fn email_subjects_are_normal_forms() {
        assert_eq!(
            email_subject(" Ada@Example.COM "),
            email_subject("ada@example.com")
        );
        // Not an address: still one subject per spelling, case aside.
        assert_eq!(email_subject("  NOT-AN-ADDRESS "), "not-an-address");
        assert_eq!(email_subject(&"x".repeat(10_000)).chars().count(), 254);
    }
}
