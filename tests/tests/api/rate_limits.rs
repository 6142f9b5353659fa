//! "v2: rate limits": counters in the real Redis shared by every instance,
//! per client IP (behind a trusted proxy, `X-Forwarded-For`; IPv6 by /64),
//! per account, per recipient; the in-memory fallback while Redis is cut.
//! The harness turns limits off; every test here turns them on.

use std::time::Duration;

use futures_util::future::join_all;
use integration_tests::{PASSWORD, TcpProxy, TestApp, TestSettings, json_body, spawn_app_with};
use reqwest::{Method, Response, StatusCode};
use serde_json::json;

const RATE_LIMITED: &str = "Too many requests. Try again later.";

/// An app with limits on, behind a trusted proxy on loopback, so each
/// request names its client in `X-Forwarded-For`.
async fn spawn_limited(configure: impl FnOnce(&mut TestSettings)) -> TestApp {
    spawn_app_with(|settings| {
        settings
            .set("RATE_LIMITS", "on")
            .set("TRUSTED_PROXIES", "127.0.0.1/32");
        configure(settings);
    })
    .await
}

async fn post_from(app: &TestApp, ip: &str, path: &str, body: serde_json::Value) -> Response {
    app.request(Method::POST, path, None)
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .expect("POST answered")
}

async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> Response {
    post_from(
        app,
        ip,
        "/login",
        json!({"email": email, "password": password}),
    )
    .await
}

fn headers(response: &Response, name: &str) -> Vec<String> {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

/// Asserts the 429 of `docs/http-api.md#rate-limit-headers` under `policy` (`"login";q=30;w=60`):
/// the exact body, `Retry-After` and the draft's headers agreeing with it.
/// Returns the wait in seconds.
async fn assert_rate_limited(response: Response, policy: &str) -> u64 {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = headers(&response, "retry-after")[0].parse().unwrap();
    assert!(retry_after >= 1, "Retry-After: {retry_after}");
    assert!(
        headers(&response, "ratelimit-policy").contains(&policy.to_owned()),
        "{:?}",
        response.headers()
    );
    let name = policy.split(';').next().unwrap();
    assert!(
        headers(&response, "ratelimit").contains(&format!("{name};r=0;t={retry_after}")),
        "{:?}",
        response.headers()
    );
    let body = json_body(response).await;
    assert_eq!(
        body,
        json!({"message": RATE_LIMITED, "error": "rate_limited"})
    );
    retry_after
}

fn unknown_email(n: usize) -> String {
    format!("nobody-{n}-{}@example.com", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn the_31st_login_from_one_ip_in_a_minute_is_refused_exactly_as_the_contract_says() {
    let app = spawn_limited(|_| {}).await;
    for n in 0..30 {
        // A different account each time: only the IP rule is at play.
        let response = login_from(&app, "198.51.100.7", &unknown_email(n), "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "login {n}");
        assert_eq!(
            headers(&response, "ratelimit-policy"),
            ["\"login\";q=30;w=60"]
        );
        let remaining = headers(&response, "ratelimit")[0].clone();
        assert!(
            remaining.starts_with(&format!("\"login\";r={};t=", 29 - n)),
            "{remaining}"
        );
    }
    let refused = login_from(&app, "198.51.100.7", &unknown_email(31), "wrong").await;
    let wait = assert_rate_limited(refused, "\"login\";q=30;w=60").await;
    assert!(wait <= 60, "{wait}");
    // Even the right password of a real account: the IP is over its limit.
    let user = app.register_user().await;
    let refused = login_from(&app, "198.51.100.7", &user.email, PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another client has its own budget.
    let other = login_from(&app, "198.51.100.8", &user.email, PASSWORD).await;
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test]
async fn other_methods_get_their_405_and_spend_no_budget() {
    let app = spawn_limited(|_| {}).await;
    for _ in 0..40 {
        let response = app
            .request(Method::GET, "/login", None)
            .header("x-forwarded-for", "203.0.113.77")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    for n in 0..30 {
        let response = login_from(&app, "203.0.113.77", &unknown_email(n), "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "login {n}");
    }
    let response = login_from(&app, "203.0.113.77", &unknown_email(31), "wrong").await;
    assert_rate_limited(response, "\"login\";q=30;w=60").await;
}

#[tokio::test]
async fn ipv6_clients_share_a_budget_per_64() {
    let app = spawn_limited(|settings| {
        settings.set("RATE_LIMIT_LOGIN_PER_IP", "2/60s");
    })
    .await;
    for ip in ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"] {
        let response = login_from(&app, ip, &unknown_email(0), "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{ip}");
    }
    let same_64 = login_from(&app, "2001:db8:1:2::abcd", &unknown_email(1), "wrong").await;
    assert_rate_limited(same_64, "\"login\";q=2;w=60").await;
    let next_64 = login_from(&app, "2001:db8:1:3::1", &unknown_email(2), "wrong").await;
    assert_eq!(next_64.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_11th_registration_from_one_ip_in_a_minute_is_refused() {
    let app = spawn_limited(|_| {}).await;
    let register = |n: usize| {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        post_from(
            &app,
            "203.0.113.5",
            "/register",
            json!({"username": format!("user-{n}-{}", &tag[..8]), "email": format!("{tag}@example.com"), "password": PASSWORD}),
        )
    };
    for n in 0..10 {
        assert_eq!(
            register(n).await.status(),
            StatusCode::CREATED,
            "sign-up {n}"
        );
    }
    assert_rate_limited(register(10).await, "\"register\";q=10;w=60").await;
}

#[tokio::test]
async fn forgot_password_shares_the_email_request_budget_of_an_ip() {
    let app = spawn_limited(|_| {}).await;
    let forgot = |n: usize| {
        post_from(
            &app,
            "203.0.113.9",
            if n % 2 == 0 {
                "/password/forgot"
            } else {
                "/verify-email/resend"
            },
            json!({"email": unknown_email(n)}),
        )
    };
    for n in 0..5 {
        assert_eq!(
            forgot(n).await.status(),
            StatusCode::ACCEPTED,
            "request {n}"
        );
    }
    assert_rate_limited(forgot(6).await, "\"email_requests\";q=5;w=60").await;
    // Another client is not affected.
    let response = post_from(
        &app,
        "198.51.100.9",
        "/password/forgot",
        json!({"email": unknown_email(7)}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn secret_attempts_are_limited_per_ip_on_every_route_that_consumes_one() {
    let app = spawn_limited(|_| {}).await;
    let token = json!({"token": "x".repeat(43), "password": "a long enough password"});
    let second_step = json!({"mfa_token": "x".repeat(43), "code": "123456"});
    let routes = [
        "/password/reset",
        "/users/me/email/confirm",
        "/verify-email",
        "/email-change/undo",
        "/login/mfa",
    ];
    let body = |route| match route {
        "/login/mfa" => second_step.clone(),
        _ => token.clone(),
    };
    for n in 0..30 {
        let route = routes[n % routes.len()];
        let response = post_from(&app, "203.0.113.10", route, body(route)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "attempt {n}");
    }
    for route in routes {
        let response = post_from(&app, "203.0.113.10", route, body(route)).await;
        assert_rate_limited(response, "\"secret_attempts\";q=30;w=600").await;
    }
}

#[tokio::test]
async fn secret_attempts_are_also_limited_per_ipv4_24_on_top_of_each_address() {
    let app = spawn_limited(|settings| {
        settings
            .set("RATE_LIMIT_SECRET_ATTEMPTS_PER_IP", "2/600s")
            .set("RATE_LIMIT_SECRET_ATTEMPTS_PER_NETWORK", "5/600s");
    })
    .await;
    let token = json!({"token": "x".repeat(43), "password": "a long enough password"});
    let routes = [
        "/password/reset",
        "/users/me/email/confirm",
        "/verify-email",
    ];
    // A counted attempt carries both rules' headers.
    let response = post_from(&app, "203.0.113.1", routes[0], token.clone()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        headers(&response, "ratelimit-policy"),
        [
            "\"secret_attempts\";q=2;w=600",
            "\"secret_attempts_per_network\";q=5;w=600"
        ]
    );
    let response = post_from(&app, "203.0.113.1", routes[1], token.clone()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // The address is over its own limit: refused by that rule first.
    let response = post_from(&app, "203.0.113.1", routes[2], token.clone()).await;
    assert_rate_limited(response, "\"secret_attempts\";q=2;w=600").await;
    // Other addresses of the /24, each under its own limit, spend the
    // network's budget (two attempts so far; the refused one did not count).
    for (n, ip) in ["203.0.113.2", "203.0.113.2", "203.0.113.254"]
        .into_iter()
        .enumerate()
    {
        let response = post_from(&app, ip, routes[n % 3], token.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{ip}");
    }
    for (n, ip) in ["203.0.113.3", "203.0.113.254", "203.0.113.77"]
        .into_iter()
        .enumerate()
    {
        let response = post_from(&app, ip, routes[n], token.clone()).await;
        assert_rate_limited(response, "\"secret_attempts_per_network\";q=5;w=600").await;
    }
    // The next /24 has a budget of its own.
    let response = post_from(&app, "203.0.114.1", routes[0], token.clone()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn secret_attempts_of_an_ipv6_48_share_one_network_budget() {
    let app = spawn_limited(|settings| {
        settings.set("RATE_LIMIT_SECRET_ATTEMPTS_PER_NETWORK", "3/600s");
    })
    .await;
    let token = json!({"token": "x".repeat(43)});
    // Three /64s of one /48: each its own address budget, one network.
    for ip in ["2001:db8:7:1::1", "2001:db8:7:2::1", "2001:db8:7:ffff::1"] {
        let response = post_from(&app, ip, "/verify-email", token.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{ip}");
    }
    let response = post_from(&app, "2001:db8:7:3::9", "/verify-email", token.clone()).await;
    assert_rate_limited(response, "\"secret_attempts_per_network\";q=3;w=600").await;
    let response = post_from(&app, "2001:db8:8::1", "/verify-email", token.clone()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn refresh_is_limited_per_ip_and_token_checks_never_are() {
    let app = spawn_limited(|settings| {
        settings.set("RATE_LIMIT_REFRESH_PER_IP", "3/300s");
    })
    .await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let refresh = || {
        app.request(Method::POST, "/refresh", Some(&tokens.refresh))
            .header("x-forwarded-for", "192.0.2.44")
            .send()
    };
    for _ in 0..3 {
        assert_eq!(refresh().await.unwrap().status(), StatusCode::OK);
    }
    assert_rate_limited(refresh().await.unwrap(), "\"refresh\";q=3;w=300").await;

    // Token checks: no limit, no headers, no counter.
    for _ in 0..20 {
        let response = app
            .request(Method::GET, "/protected", Some(&tokens.access))
            .header("x-forwarded-for", "192.0.2.44")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(headers(&response, "ratelimit").is_empty());
    }
    let mut redis = app.redis.get().await.unwrap();
    let keys: Vec<String> = deadpool_redis::redis::cmd("KEYS")
        .arg(format!("{}ratelimit:*", app.redis_prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    let counted: Vec<&String> = keys
        .iter()
        .filter(|key| key.contains("192.0.2.44"))
        .collect();
    assert_eq!(
        counted,
        [&redis_adapter::keys::rate_limit(
            &app.redis_prefix,
            "refresh",
            "192.0.2.44"
        )],
        "only /refresh counted this client"
    );
}

#[tokio::test]
async fn two_instances_share_one_budget() {
    let first = spawn_limited(|settings| {
        settings.set("RATE_LIMIT_LOGIN_PER_IP", "4/60s");
    })
    .await;
    let prefix = first.redis_prefix.clone();
    let second = spawn_limited(|settings| {
        settings
            .set("RATE_LIMIT_LOGIN_PER_IP", "4/60s")
            .set("REDIS_KEY_PREFIX", prefix);
    })
    .await;
    for (n, app) in [&first, &second, &first, &second].into_iter().enumerate() {
        let response = login_from(app, "198.51.100.20", &unknown_email(n), "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "login {n}");
    }
    for app in [&first, &second] {
        let refused = login_from(app, "198.51.100.20", &unknown_email(9), "wrong").await;
        assert_rate_limited(refused, "\"login\";q=4;w=60").await;
    }
    // Failed logins of one account add up across instances too.
    let victim = unknown_email(100);
    for n in 0..5 {
        let app = if n % 2 == 0 { &first } else { &second };
        let ip = format!("198.51.100.{}", 100 + n);
        let response = login_from(app, &ip, &victim, "guess").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "guess {n}");
    }
    let throttled = login_from(&second, "198.51.100.200", &victim, "guess").await;
    assert_rate_limited(throttled, "\"failed_logins\";q=5;w=900").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_guesses_from_many_ips_never_exceed_the_account_budget() {
    // A first wait longer than the test: every guess past the budget must
    // meet it, however the 50 requests interleave.
    let app = spawn_limited(|settings| {
        settings.set("RATE_LIMIT_ACCOUNT_THROTTLE_BASE", "60s");
    })
    .await;
    let user = app.register_user().await;
    let guesses = (0..50).map(|n| {
        let ip = format!("10.20.{}.{}", n / 200, n % 200 + 1);
        let app = &app;
        let email = user.email.to_uppercase();
        async move {
            login_from(app, &ip, &email, &format!("guess {n}"))
                .await
                .status()
        }
    });
    let statuses = join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|status| **status == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|status| **status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (5, 45), "{statuses:?}");
    // Throttled whatever the password: the right one learns nothing either
    // from that network (another network is another count).
    let right = login_from(&app, "10.20.0.250", &user.email, PASSWORD).await;
    assert_rate_limited(right, "\"failed_logins\";q=5;w=900").await;
}

#[tokio::test]
async fn an_unknown_account_is_throttled_like_a_real_one() {
    let app = spawn_limited(|_| {}).await;
    let user = app.register_user().await;
    let unknown = unknown_email(0);
    for email in [&user.email, &unknown] {
        for n in 0..5 {
            let ip = format!("10.30.0.{n}");
            let response = login_from(&app, &ip, email, "wrong").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        let throttled = login_from(&app, "10.30.0.99", email, "wrong").await;
        let wait = assert_rate_limited(throttled, "\"failed_logins\";q=5;w=900").await;
        assert_eq!(wait, 1, "the first wait is one second");
    }
}

#[tokio::test]
async fn a_successful_login_clears_the_failures_and_no_lockout_is_permanent() {
    let app = spawn_limited(|_| {}).await;
    let user = app.register_user().await;
    // One client network (a /24): its failures count together.
    for n in 0..4 {
        let response = login_from(&app, &format!("10.40.0.{n}"), &user.email, "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let ok = login_from(&app, "10.40.0.101", &user.email, PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::OK);
    // Cleared: five more failures before any wait.
    for n in 0..5 {
        let response = login_from(&app, &format!("10.40.0.2{n}"), &user.email, "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "failure {n}");
    }
    let throttled = login_from(&app, "10.40.0.31", &user.email, PASSWORD).await;
    let wait = assert_rate_limited(throttled, "\"failed_logins\";q=5;w=900").await;
    // The wait ends; the owner gets in.
    tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(100)).await;
    let ok = login_from(&app, "10.40.0.31", &user.email, PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::OK);
}

/// Repeats a login from `ip` until it answers `expected` or 10 s pass.
async fn eventually_login(app: &TestApp, ip: &str, expected: StatusCode) -> StatusCode {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = login_from(app, ip, &unknown_email(0), "wrong")
            .await
            .status();
        if status == expected || tokio::time::Instant::now() >= deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_cut_mid_run_switches_to_memory_and_back() {
    let redis = TcpProxy::redis().await;
    let app = spawn_limited(|settings| {
        settings
            .set("REDIS_URL", redis.redis_url())
            .set("RATE_LIMIT_LOGIN_PER_IP", "3/60s");
    })
    .await;
    let app = &app;
    let login = |ip: &'static str| async move {
        login_from(app, ip, &unknown_email(0), "wrong")
            .await
            .status()
    };
    for _ in 0..3 {
        assert_eq!(login("198.51.100.1").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login("198.51.100.1").await, StatusCode::TOO_MANY_REQUESTS);

    // Redis dies: login still works, and is still limited, in memory.
    redis.down().await;
    for _ in 0..3 {
        assert_eq!(login("198.51.100.2").await, StatusCode::UNAUTHORIZED);
    }
    let refused = login_from(app, "198.51.100.2", &unknown_email(0), "wrong").await;
    assert_rate_limited(refused, "\"login\";q=3;w=60").await;

    // Redis is back: counting returns there. Memory holds 3 for .2 and
    // Redis none, so the first 401 for .2 says Redis answers again.
    redis.up();
    assert_eq!(
        eventually_login(app, "198.51.100.2", StatusCode::UNAUTHORIZED).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login("198.51.100.2").await, StatusCode::UNAUTHORIZED);
    assert_eq!(login("198.51.100.2").await, StatusCode::UNAUTHORIZED);
    assert_eq!(login("198.51.100.2").await, StatusCode::TOO_MANY_REQUESTS);
    // And Redis kept what it counted before the cut.
    assert_eq!(login("198.51.100.1").await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn emails_over_a_recipients_limit_are_dropped_never_queued() {
    let app = spawn_limited(|settings| {
        settings.set("RATE_LIMIT_EMAILS_PER_RECIPIENT", "1/3600s");
    })
    .await;
    // Two welcome emails to one address: sign up, delete, sign up again
    // (in another spelling of the same address).
    let user = app.register_user().await;
    assert_eq!(
        app.wait_for_email_jobs(1, Duration::from_secs(10))
            .await
            .len(),
        1
    );
    let tokens = app.login_tokens(&user).await;
    let deleted = app
        .delete(&format!("/users/{}", user.id), Some(&tokens.access))
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let again = app
        .register("again", &user.email.to_uppercase(), PASSWORD)
        .await;
    assert_eq!(again.status(), StatusCode::CREATED);

    // The relay takes the second job out of the outbox without queueing it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.outbox_len().await > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.outbox_len().await, 0);
    let jobs = app.email_jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    // Another recipient is not affected.
    app.register_user().await;
    assert_eq!(
        app.wait_for_email_jobs(2, Duration::from_secs(10))
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn security_notices_go_out_past_the_recipient_limit() {
    let app = spawn_limited(|settings| {
        settings.set("RATE_LIMIT_EMAILS_PER_RECIPIENT", "1/3600s");
    })
    .await;
    // The welcome email spends the whole budget of the address.
    let user = app.register_user().await;
    app.wait_for_email_jobs(1, Duration::from_secs(10)).await;
    let tokens = app.login_tokens(&user).await;
    let changed = app
        .request(Method::POST, "/users/me/password", Some(&tokens.access))
        .json(&json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);

    // "Your password was changed" is queued all the same.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let notified = || async {
        app.email_jobs()
            .await
            .iter()
            .any(|job| job["kind"] == "password_changed" && job["to"] == user.email.as_str())
    };
    while !notified().await && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(notified().await, "{:?}", app.email_jobs().await);

    // An email a stranger can ask for is still held to the limit.
    let forgot = post_from(
        &app,
        "198.51.100.7",
        "/password/forgot",
        json!({"email": user.email}),
    )
    .await;
    assert_eq!(forgot.status(), StatusCode::ACCEPTED);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.outbox_len().await > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.outbox_len().await, 0);
    assert!(
        !app.email_jobs()
            .await
            .iter()
            .any(|job| job["kind"] == "password_reset"),
        "the reset email is dropped"
    );
}

#[tokio::test]
async fn forwarded_hops_with_a_port_count_as_their_address() {
    let app = spawn_limited(|settings| {
        settings.set("RATE_LIMIT_LOGIN_PER_IP", "1/60s");
    })
    .await;
    let status = |ip: &'static str| {
        let app = &app;
        async move {
            login_from(app, ip, &unknown_email(0), "wrong")
                .await
                .status()
        }
    };
    // Two clients behind a proxy that writes ports: two buckets.
    assert_eq!(status("198.51.100.1:1000").await, StatusCode::UNAUTHORIZED);
    assert_eq!(status("[2001:db8::1]:443").await, StatusCode::UNAUTHORIZED);
    // The port does not make a new client.
    assert_eq!(
        status("198.51.100.1:2000").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        status("[2001:db8::1]:8443").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn refusals_are_counted_by_rule_in_the_metrics() {
    let app = spawn_limited(|settings| {
        settings
            .set("RATE_LIMIT_LOGIN_PER_IP", "1/60s")
            .set("METRICS_ADDR", "127.0.0.1:0");
    })
    .await;
    login_from(&app, "198.51.100.99", &unknown_email(0), "wrong").await;
    let refused = login_from(&app, "198.51.100.99", &unknown_email(0), "wrong").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let port = app.metrics_port.expect("a metrics listener");
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("rate_limited_total{rule=\"login\"}")),
        "{metrics}"
    );
}
