//! Rate limits at the HTTP edge: [`limited`] puts a route under a rule of
//! the rule table of `docs/http-api.md#rate-limit-rules`, counted per client IP group, and the headers of
//! the IETF draft "RateLimit header fields for HTTP",
//! draft-ietf-httpapi-ratelimit-headers-11 (May 2026): a `RateLimit-Policy`
//! item (`"login";q=30;w=60`: quota `q` per window `w` seconds) and a
//! `RateLimit` item (`"login";r=12;t=5`: `r` left, and no more than that
//! for the next `t` seconds). A refusal also carries `Retry-After`, equal
//! to `t`, as the draft asks.
//!
//! Putting a route under rules is its `.limited(&[Rule::...])` in
//! `routes::ROUTES`; a route taking a one-time secret or a code uses
//! `.limited(&Rule::SECRET_ATTEMPTS)`.

mod counted;
pub mod headers;

pub(crate) use counted::{Counted, counted};

use std::net::IpAddr;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::web::Data;
use actix_web::{Error, ResponseError};
use application::rate_limits::Rule;

use self::headers::allowance_headers;
use crate::client_ip::{ClientIp, network_group, rate_limit_group};
use crate::error::ApiError;
use crate::state::AppState;

/// Middleware counting each `POST` under `rules` per client IP group (IPv6
/// by /64; per network for a per-network rule), before the handler and
/// before the body is read. Every limited route is a `POST`; other methods
/// only get their `405`, uncounted, so a stray `GET` spends nobody's budget.
/// The rules are checked in order: each counts the request, and the first
/// that refuses answers the `429` (the later ones then count nothing).
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
                let response = ApiError::from(limited).error_response();
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

#[cfg(test)]
mod tests;
