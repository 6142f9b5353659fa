//! Rate limits at the HTTP edge: [`limited`] puts a route under a rule of
//! the contract's table, counted per client IP group, and the headers of
//! the IETF draft "RateLimit header fields for HTTP",
//! draft-ietf-httpapi-ratelimit-headers-11 (May 2026): a `RateLimit-Policy`
//! item (`"login";q=30;w=60`: quota `q` per window `w` seconds) and a
//! `RateLimit` item (`"login";r=12;t=5`: `r` left, and no more than that
//! for the next `t` seconds). A refusal also carries `Retry-After`, equal
//! to `t`, as the draft asks.
//!
//! Attaching a rule to a route is one call in `routes::configure`:
//! `resource("/password/forgot", "POST").route(...).wrap(limited(Rule::EmailRequestsPerIp))`;
//! several rules at once (a route taking a one-time secret or a code):
//! `.wrap(limited_by(&Rule::SECRET_ATTEMPTS))`.

use std::net::IpAddr;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::Method;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::middleware::{Next, from_fn};
use actix_web::web::Data;
use actix_web::{Error, HttpResponse, ResponseError};
use application::rate_limits::{RateLimit, Rule};
use application::{Allowance, RateLimited};

use crate::client_ip::{ClientIp, network_group, rate_limit_group};
use crate::error::ApiError;
use crate::state::AppState;

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Middleware counting each `POST` under `rule` per client IP group (IPv6
/// by /64; per network for a per-network rule), before the handler and
/// before the body is read. Every limited route is a `POST`; other methods
/// only get their `405`, uncounted, so a stray `GET` spends nobody's budget.
pub fn limited<S, B>(
    rule: Rule,
) -> impl Transform<S, ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error, InitError = ()>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    from_fn(move |request: ServiceRequest, next: Next<B>| async move {
        enforce(&[rule], request, next).await
    })
}

/// [`limited`] under several rules, checked in order: each counts the
/// request, and the first that refuses answers the `429` (the later ones
/// then count nothing).
pub fn limited_by<S, B>(
    rules: &'static [Rule],
) -> impl Transform<S, ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error, InitError = ()>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    from_fn(move |request: ServiceRequest, next: Next<B>| enforce(rules, request, next))
}

/// The counter key of a client under `rule`: its network (IPv4 /24, IPv6
/// /48) for a per-network rule, else its address (IPv6 by /64).
fn client_key(rule: Rule, ip: IpAddr) -> String {
    match rule {
        Rule::SecretAttemptsPerNetwork => network_group(ip),
        _ => rate_limit_group(ip),
    }
}

async fn enforce<B: MessageBody + 'static>(
    rules: &[Rule],
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let state = request.app_data::<Data<AppState>>().cloned();
    let Some(state) = state.filter(|_| request.method() == Method::POST) else {
        return Ok(next.call(request).await?.map_into_boxed_body());
    };
    let client = ClientIp::of(request.request()).map(|ClientIp(ip)| ip);
    let mut allowances = Vec::with_capacity(rules.len());
    for &rule in rules {
        let key = client.map(|ip| client_key(rule, ip)).unwrap_or_default();
        match state.request_limits.check(rule, &key).await {
            Err(limited) => {
                let response = ApiError::RateLimited(limited).error_response();
                return Ok(request.into_response(response));
            }
            Ok(allowance) => allowances.extend(allowance),
        }
    }
    let mut response = next.call(request).await?.map_into_boxed_body();
    for allowance in &allowances {
        allowance_headers(allowance, response.headers_mut());
    }
    Ok(response)
}

/// Counts a request of `subject` under `rule` from inside a handler, for
/// limits keyed by what only an authenticated request knows (a user id),
/// then runs `handler`: its answer, success or error, carries the
/// `RateLimit` headers. Over the limit, `handler` does not run.
pub(crate) async fn counted(
    state: &AppState,
    rule: Rule,
    subject: &str,
    handler: impl Future<Output = Result<HttpResponse, ApiError>>,
) -> Result<HttpResponse, ApiError> {
    let allowance = state.request_limits.check(rule, subject).await?;
    let mut response = handler.await.unwrap_or_else(|error| error.error_response());
    if let Some(allowance) = allowance {
        allowance_headers(&allowance, response.headers_mut());
    }
    Ok(response)
}

/// Whole seconds, rounded up: a client waiting this long is not early.
fn secs_ceil(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

fn policy_item(rule: Rule, quota: RateLimit) -> String {
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
fn allowance_headers(allowance: &Allowance, headers: &mut HeaderMap) {
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
pub(crate) fn refusal_headers(limited: &RateLimited, headers: &mut HeaderMap) {
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

#[cfg(test)]
mod tests;
