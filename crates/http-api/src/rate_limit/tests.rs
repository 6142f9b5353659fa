use std::time::Duration;

use actix_web::body::to_bytes;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use application::rate_limits::{RateLimit, ThrottlePolicy};
use application::{Allowance, RateLimited};

use super::headers::*;
use super::*;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .map(|value| value.to_str().unwrap())
        .collect()
}

#[actix_web::test]
async fn a_refusal_is_the_contract_429_with_the_draft_headers() {
    let refusal = ApiError::from(RateLimited {
        rule: Rule::LoginPerIp,
        quota: RateLimit::per_secs(30, 60),
        retry_after: Duration::from_millis(41_200),
    });
    let response = refusal.error_response();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let headers = response.headers().clone();
    assert_eq!(header(&headers, "retry-after"), ["42"]);
    assert_eq!(
        header(&headers, "ratelimit-policy"),
        ["\"login\";q=30;w=60"]
    );
    assert_eq!(header(&headers, "ratelimit"), ["\"login\";r=0;t=42"]);
    let body = to_bytes(response.into_body()).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "message": "Too many requests. Try again later.",
            "error": "rate_limited"
        })
    );
}

#[test]
fn a_wait_under_a_second_still_says_one() {
    let mut headers = HeaderMap::new();
    refusal_headers(
        &RateLimited {
            rule: Rule::FailedLogins,
            quota: ThrottlePolicy::default().as_quota(),
            retry_after: Duration::from_millis(1),
        },
        &mut headers,
    );
    assert_eq!(header(&headers, "retry-after"), ["1"]);
    assert_eq!(
        header(&headers, "ratelimit-policy"),
        ["\"failed_logins\";q=5;w=900"]
    );
    assert_eq!(header(&headers, "ratelimit"), ["\"failed_logins\";r=0;t=1"]);
}

#[test]
fn a_counted_request_says_what_is_left_and_several_rules_add_up() {
    let mut headers = HeaderMap::new();
    allowance_headers(
        &Allowance {
            rule: Rule::RefreshPerIp,
            quota: RateLimit::per_secs(300, 300),
            remaining: 299,
            reset: Duration::from_millis(299_500),
        },
        &mut headers,
    );
    refusal_headers(
        &RateLimited {
            rule: Rule::FailedLogins,
            quota: ThrottlePolicy::default().as_quota(),
            retry_after: Duration::from_secs(2),
        },
        &mut headers,
    );
    assert_eq!(
        header(&headers, "ratelimit-policy"),
        ["\"refresh\";q=300;w=300", "\"failed_logins\";q=5;w=900"]
    );
    assert_eq!(
        header(&headers, "ratelimit"),
        ["\"refresh\";r=299;t=300", "\"failed_logins\";r=0;t=2"]
    );
}

#[test]
fn a_sub_second_window_is_advertised_as_one_second() {
    assert_eq!(
        policy_item(
            Rule::LoginPerIp,
            RateLimit::new(3, Duration::from_millis(500))
        ),
        "\"login\";q=3;w=1"
    );
}

#[test]
fn the_network_rule_counts_networks_and_the_others_addresses() {
    let ip = |raw: &str| raw.parse::<IpAddr>().unwrap();
    let network = Rule::SecretAttemptsPerNetwork;
    assert_eq!(client_key(network, ip("198.51.100.7")), "198.51.100.0/24");
    assert_eq!(
        client_key(network, ip("2001:db8:1:2::1")),
        "2001:db8:1::/48"
    );
    assert_eq!(
        client_key(Rule::SecretAttemptsPerIp, ip("198.51.100.7")),
        "198.51.100.7"
    );
    assert_eq!(
        client_key(Rule::SecretAttemptsPerIp, ip("2001:db8:1:2::1")),
        "2001:db8:1:2::/64"
    );
    assert_eq!(
        Rule::SECRET_ATTEMPTS,
        [Rule::SecretAttemptsPerIp, Rule::SecretAttemptsPerNetwork]
    );
}
