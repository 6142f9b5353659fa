//! The RateLimit header fields of draft-ietf-httpapi-ratelimit-headers-11
//! and `Retry-After`, for an allowed request and for a refusal.

use std::time::Duration;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use application::rate_limits::{RateLimit, Rule};
use application::{Allowance, RateLimited};

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Whole seconds, rounded up: a client waiting this long is not early.
fn secs_ceil(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

pub(super) fn policy_item(rule: Rule, quota: RateLimit) -> String {
    // The draft wants a non-zero window.
    let window = secs_ceil(quota.period).max(1);
    format!("\"{}\";q={};w={window}", rule.name(), quota.limit)
}

fn limit_item(rule: Rule, remaining: u32, reset: Duration) -> String {
    format!("\"{}\";r={remaining};t={}", rule.name(), secs_ceil(reset))
}

/// Appends (several rules may apply to one response: the draft's fields
/// are lists) and never fails: the values are plain ASCII.
fn append(headers: &mut HeaderMap, name: HeaderName, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.append(name, value);
    }
}

/// `RateLimit-Policy` and `RateLimit` of a counted request.
pub fn allowance_headers(allowance: &Allowance, headers: &mut HeaderMap) {
    append(
        headers,
        RATELIMIT_POLICY,
        policy_item(allowance.rule, allowance.quota),
    );
    append(
        headers,
        RATELIMIT,
        limit_item(allowance.rule, allowance.remaining, allowance.reset),
    );
}

/// `Retry-After` (at least a second), `RateLimit-Policy` and `RateLimit`
/// of a refusal.
pub fn refusal_headers(limited: &RateLimited, headers: &mut HeaderMap) {
    let wait = secs_ceil(limited.retry_after).max(1);
    headers.insert(RETRY_AFTER, HeaderValue::from(wait));
    append(
        headers,
        RATELIMIT_POLICY,
        policy_item(limited.rule, limited.quota),
    );
    append(
        headers,
        RATELIMIT,
        limit_item(limited.rule, 0, Duration::from_secs(wait)),
    );
}
