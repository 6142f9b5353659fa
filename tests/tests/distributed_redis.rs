#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! The built binaries on the Redis a managed or distributed deployment
//! has: a Redis Cluster of three masters (`REDIS_CLUSTER_NODES`) and a
//! TLS-only Redis with a private CA (`REDIS_URL=rediss://`,
//! `REDIS_CA_CERT`), each started by the test from Debian's
//! `redis-server`. On each, two API instances and an email worker run the
//! flows that touch Redis: the welcome email through the stream, login,
//! refresh rotation, logout seen by the other instance at once, and a rate
//! limit both instances share. A certificate that does not verify stops
//! both binaries at start.
//!
//! Needs `cargo build --bins` first (scripts/test.sh does it).

use std::time::Duration;

use integration_tests::deployment::{ApiProcess, Deployment, unique_tag};
use integration_tests::fake_mailgun::FakeMailgun;
use integration_tests::processes::{Vars, binary, run_to_completion};
use integration_tests::{Tokens, json_body};
use reqwest::{Method, StatusCode};
use test_support::redis_servers::{RedisCluster, TlsRedis};

const DELIVERY_LIMIT: Duration = Duration::from_secs(60);

/// Logins per client IP both instances allow together.
const LOGINS: usize = 4;

/// Points `vars` at `redis` and turns the login limit on.
fn on(redis: &Vars) -> impl Fn(&mut Vars) + '_ {
    move |vars: &mut Vars| {
        vars.remove("REDIS_URL");
        vars.extend(redis.iter().map(|(name, value)| (*name, value.clone())));
        vars.insert("RATE_LIMITS", "on".to_owned());
        vars.insert("RATE_LIMIT_LOGIN_PER_IP", format!("{LOGINS}/60s"));
    }
}

async fn status(api: &ApiProcess, method: Method, path: &str, token: &str) -> StatusCode {
    api.request(method, path, Some(token)).await.status()
}

/// The flows, on two instances `a` and `b` and a worker sharing `redis`.
async fn run_the_flows(redis: Vars) {
    let deployment = Deployment::new().await;
    let mailgun = FakeMailgun::start().await;
    let a = deployment.start_api("api-a", on(&redis)).await;
    let b = deployment.start_api("api-b", on(&redis)).await;
    let _worker = deployment.start_worker("worker", &mailgun, on(&redis));
    for api in [&a, &b] {
        let ready = api
            .client
            .get(api.url("/health/ready"))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), StatusCode::OK, "{}", json_body(ready).await);
    }

    // The welcome email goes through the stream and the worker.
    let email = format!("ada-{}@example.com", unique_tag());
    a.register_ok(&format!("ada-{}", unique_tag()), &email)
        .await;
    let tally = mailgun
        .wait_for_recipients(std::slice::from_ref(&email), DELIVERY_LIMIT)
        .await;
    assert!(tally.lost.is_empty(), "no welcome email: {tally:?}");

    // A login on A is good on B; a rotation on B is good on A.
    let first = a.login_tokens(&email).await;
    assert_eq!(
        status(&b, Method::GET, "/protected", &first.access).await,
        StatusCode::OK
    );
    let rotated = b
        .request(Method::POST, "/refresh", Some(&first.refresh))
        .await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let body = json_body(rotated).await;
    let tokens = Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    };
    assert_ne!(tokens.refresh, first.refresh);
    assert_eq!(
        status(&a, Method::GET, "/protected", &tokens.access).await,
        StatusCode::OK
    );

    // A logout on A revokes the session's tokens on B at once.
    assert_eq!(
        status(&a, Method::POST, "/logout", &tokens.refresh).await,
        StatusCode::OK
    );
    for api in [&b, &a] {
        let response = api
            .request(Method::GET, "/protected", Some(&tokens.access))
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json_body(response).await["error"], "token_revoked");
    }

    // The login limit counts on both instances together: one login so
    // far on A, then alternate until the limit is used up.
    for n in 1..LOGINS {
        let api = if n % 2 == 1 { &b } else { &a };
        api.login_tokens(&email).await;
    }
    for api in [&a, &b] {
        let refused = api
            .client
            .post(api.url("/login"))
            .json(&serde_json::json!({"email": email, "password": integration_tests::PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_runs_on_a_redis_cluster() {
    let cluster = RedisCluster::start(3);
    run_the_flows(Vars::from([("REDIS_CLUSTER_NODES", cluster.nodes())])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_runs_on_a_tls_redis_with_a_private_ca() {
    let redis = TlsRedis::start();
    run_the_flows(Vars::from([
        ("REDIS_URL", redis.url()),
        ("REDIS_CA_CERT", redis.ca_file.display().to_string()),
    ]))
    .await;
}

/// Its one line on stderr, which must say what is wrong and name `names`.
async fn refused_at_start(deployment: &Deployment, program: &str, vars: &Vars, names: &str) {
    let finished = run_to_completion(
        &format!("{program}-{}", unique_tag()),
        &binary(program),
        &[],
        vars,
        &deployment.dir,
        Duration::from_secs(30),
    )
    .await;
    assert!(
        !finished.status.success(),
        "{program} started: {}",
        finished.stderr
    );
    let line = finished
        .stderr
        .lines()
        .find(|line| line.starts_with("error:"))
        .unwrap_or_else(|| panic!("{program}: no error line in {}", finished.stderr));
    assert!(line.contains(names), "{program}: {line}");
    assert!(
        line.contains("TLS certificate does not verify"),
        "{program}: {line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_that_does_not_verify_stops_both_binaries() {
    let redis = TlsRedis::start();
    let deployment = Deployment::new().await;
    let mailgun = FakeMailgun::start().await;
    let wrong_ca = redis.wrong_ca_file().display().to_string();
    for (ca, names) in [
        (Some(wrong_ca.as_str()), "REDIS_URL, REDIS_CA_CERT"),
        (None, "REDIS_URL (no REDIS_CA_CERT"),
    ] {
        let configure = |vars: &mut Vars| {
            vars.insert("REDIS_URL", redis.url());
            vars.remove("REDIS_CA_CERT");
            if let Some(ca) = ca {
                vars.insert("REDIS_CA_CERT", ca.to_owned());
            }
        };
        let mut api = deployment.api_vars();
        api.insert("PORT", "0".to_owned());
        configure(&mut api);
        refused_at_start(&deployment, "api-server", &api, names).await;
        let mut worker = deployment.worker_vars("worker", &mailgun);
        configure(&mut worker);
        refused_at_start(&deployment, "email-worker", &worker, names).await;
    }
}
