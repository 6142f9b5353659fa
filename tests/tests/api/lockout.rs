//! "v3: security", nobody can lock the owner out: failed logins throttle
//! the pair (account, client network), an account-wide budget holds only
//! clients without a device token, every login hands one out, and a
//! password reset starts every count afresh and ends the device tokens.

use std::time::Duration;

use integration_tests::{PASSWORD, TestApp, TestUser, json_body, spawn_app_with};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

/// Limits on, behind a trusted proxy on loopback (each request names its
/// client in `X-Forwarded-For`), with a small account-wide budget.
async fn spawn_guarded() -> TestApp {
    spawn_app_with(|settings| {
        settings
            .set("RATE_LIMITS", "on")
            .set("TRUSTED_PROXIES", "127.0.0.1/32")
            .set("RATE_LIMIT_LOGIN_PER_IP", "1000/60s")
            .set("RATE_LIMIT_FAILED_LOGINS_ACCOUNT_WIDE", "10/3600s");
    })
    .await
}

async fn login_from(app: &TestApp, ip: &str, body: Value) -> Response {
    app.request(Method::POST, "/login", None)
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .expect("login answered")
}

async fn password_from(app: &TestApp, ip: &str, user: &TestUser, password: &str) -> Response {
    login_from(app, ip, json!({"email": user.email, "password": password})).await
}

async fn device_from(
    app: &TestApp,
    ip: &str,
    user: &TestUser,
    password: &str,
    device_token: &str,
) -> Response {
    let body = json!({"email": user.email, "password": password, "device_token": device_token});
    login_from(app, ip, body).await
}

/// The rule a 429 names in `RateLimit-Policy`.
fn refused_by(response: &Response) -> String {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let policy = response.headers()["ratelimit-policy"].to_str().unwrap();
    policy
        .split(';')
        .next()
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

/// The device token of a successful login.
async fn device_token_of(response: Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    let token = body["device_token"].as_str().expect("a device_token");
    token.to_owned()
}

/// One wrong password from each of `count` networks `10.<a>.<n>.1`.
async fn fail_from_networks(app: &TestApp, user: &TestUser, a: u8, count: u8) {
    for n in 0..count {
        let wrong = password_from(app, &format!("10.{a}.{n}.1"), user, "wrong").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "network {n}");
    }
}

#[tokio::test]
async fn every_login_answers_a_device_token_and_a_known_one_is_answered_again() {
    let app = spawn_guarded().await;
    let user = app.register_user().await;
    let first = device_token_of(password_from(&app, "198.51.100.7", &user, PASSWORD).await).await;
    assert_eq!(first.len(), 43);
    assert!(
        first
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let again = device_token_of(device_from(&app, "198.51.100.7", &user, PASSWORD, &first).await);
    assert_eq!(again.await, first);
    let other = device_token_of(password_from(&app, "198.51.100.7", &user, PASSWORD).await).await;
    assert_ne!(other, first);
    // Only digests are stored (32 bytes, not the 43 characters).
    let digests = app
        .query_scalar("SELECT count(*) AS value FROM device_tokens WHERE length(token_hash) = 32")
        .await;
    assert_eq!(digests, 2);
    let rows = app
        .query_scalar("SELECT count(*) AS value FROM device_tokens")
        .await;
    assert_eq!(rows, 2);
}

#[tokio::test]
async fn failures_from_one_network_do_not_lock_the_owner_out() {
    let app = spawn_guarded().await;
    let user = app.register_user().await;
    for _ in 0..5 {
        let wrong = password_from(&app, "203.0.113.9", &user, "wrong").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    // The attacker's network is throttled, whatever it sends; its
    // neighbours in the same /24 too.
    let attacker = password_from(&app, "203.0.113.9", &user, PASSWORD).await;
    assert_eq!(refused_by(&attacker), "failed_logins");
    let neighbour = password_from(&app, "203.0.113.200", &user, PASSWORD).await;
    assert_eq!(refused_by(&neighbour), "failed_logins");
    // The owner, on another network, gets in at once.
    let owner = password_from(&app, "198.51.100.7", &user, PASSWORD).await;
    assert_eq!(owner.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_account_wide_budget_spares_a_client_with_a_device_token() {
    let app = spawn_guarded().await;
    let user = app.register_user().await;
    let device = device_token_of(password_from(&app, "198.51.100.7", &user, PASSWORD).await).await;
    fail_from_networks(&app, &user, 1, 10).await;
    // Any client without a device token is refused, right password or not.
    let stranger = password_from(&app, "10.99.0.1", &user, PASSWORD).await;
    assert_eq!(refused_by(&stranger), "failed_logins_per_account");
    let owner_without = password_from(&app, "198.51.100.7", &user, PASSWORD).await;
    assert_eq!(refused_by(&owner_without), "failed_logins_per_account");
    // The owner's device gets in; a made-up token does not help.
    let made_up = device_from(&app, "10.99.0.2", &user, PASSWORD, &"A".repeat(43)).await;
    assert_eq!(refused_by(&made_up), "failed_logins_per_account");
    let owner = device_from(&app, "198.51.100.7", &user, PASSWORD, &device).await;
    assert_eq!(device_token_of(owner).await, device);
}

#[tokio::test]
async fn another_accounts_device_token_does_not_open_the_budget() {
    let app = spawn_guarded().await;
    let victim = app.register_user().await;
    let attacker = app.register_user().await;
    let own = device_token_of(password_from(&app, "10.50.0.1", &attacker, PASSWORD).await).await;
    fail_from_networks(&app, &victim, 2, 10).await;
    let borrowed = device_from(&app, "10.50.0.1", &victim, PASSWORD, &own).await;
    assert_eq!(refused_by(&borrowed), "failed_logins_per_account");
}

#[tokio::test]
async fn a_device_token_holder_is_throttled_on_its_own_failures_only() {
    let app = spawn_guarded().await;
    let user = app.register_user().await;
    let device = device_token_of(password_from(&app, "198.51.100.7", &user, PASSWORD).await).await;
    for _ in 0..5 {
        let wrong = device_from(&app, "198.51.100.7", &user, "wrong", &device).await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    let throttled = device_from(&app, "198.51.100.7", &user, PASSWORD, &device).await;
    assert_eq!(refused_by(&throttled), "failed_logins");
    // Its network, without the token, has no failures of its own.
    let network = password_from(&app, "198.51.100.7", &user, PASSWORD).await;
    assert_eq!(network.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_password_reset_clears_the_counts_and_ends_the_device_tokens() {
    let app = spawn_guarded().await;
    let user = app.register_user().await;
    let device = device_token_of(password_from(&app, "198.51.100.7", &user, PASSWORD).await).await;
    for _ in 0..5 {
        let wrong = password_from(&app, "203.0.113.9", &user, "wrong").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    fail_from_networks(&app, &user, 3, 5).await;
    let refused = password_from(&app, "203.0.113.9", &user, PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);

    let forgot = app
        .post_json("/password/forgot", &json!({"email": user.email}))
        .await;
    assert_eq!(forgot.status(), StatusCode::ACCEPTED);
    let jobs = app.wait_for_email_jobs(2, Duration::from_secs(10)).await;
    let reset_email = jobs
        .iter()
        .find(|job| job["kind"] == "password_reset")
        .expect("a reset email");
    let link = reset_email["link"].as_str().unwrap();
    let token = link.split_once("#token=").unwrap().1;
    let new_password = "a brand new passphrase";
    let reset = app
        .post_json(
            "/password/reset",
            &json!({"token": token, "password": new_password}),
        )
        .await;
    assert_eq!(reset.status(), StatusCode::OK);

    // Counts start afresh: the once-throttled network gets in...
    let fresh = password_from(&app, "203.0.113.9", &user, new_password).await;
    let new_device = device_token_of(fresh).await;
    // ...and the old device token is no longer the account's: answered
    // with a new one.
    let old = device_from(&app, "198.51.100.7", &user, new_password, &device).await;
    let answered = device_token_of(old).await;
    assert_ne!(answered, device);
    assert_ne!(answered, new_device);
}
