#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Scale out and graceful shutdown: several processes of the
//! built `api-server` and `email-worker` binaries sharing one PostgreSQL
//! database and one Redis prefix, with a fake Mailgun on loopback.
//!
//! Needs `cargo build --bins` first (scripts/test.sh does it).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use integration_tests::deployment::{
    ApiProcess, Deployment, WORKER_CONCURRENCY, WORKER_GRACE_SECS, unique_tag, wait_until,
    worker_from,
};
use integration_tests::fake_mailgun::FakeMailgun;
use integration_tests::{assert_token_rejected, assert_unavailable, jwt, token_errors};
use jsonwebtoken::Algorithm;
use reqwest::{Method, StatusCode};
use tokio::net::TcpListener;

/// Bound on waiting for emails: generous, the usual wait is seconds.
const DELIVERY_LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_through_one_api_instance_revokes_the_session_at_the_other_at_once() {
    let deployment = Deployment::new().await;
    let api_a = deployment.start_api("api-a", |_| {}).await;
    let api_b = deployment.start_api("api-b", |_| {}).await;
    let email = format!("shared-{}@example.com", unique_tag());
    api_a.register_ok("shared-session", &email).await;
    let tokens = api_a.login_tokens(&email).await;
    // Instance B honours what instance A issued...
    let protected = api_b
        .request(Method::GET, "/protected", Some(&tokens.access))
        .await;
    assert_eq!(protected.status(), StatusCode::OK);
    let refreshed = api_b
        .request(Method::POST, "/refresh", Some(&tokens.refresh))
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = integration_tests::json_body(refreshed).await["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned();

    let logout = api_a
        .request(Method::POST, "/logout", Some(&tokens.refresh))
        .await;
    assert_eq!(logout.status(), StatusCode::OK);

    // ...and its revocations, with no delay: the very next requests.
    for access in [&tokens.access, &refreshed] {
        for api in [&api_b, &api_a] {
            let response = api.request(Method::GET, "/protected", Some(access)).await;
            assert_token_rejected(response, token_errors::REVOKED).await;
        }
    }
    let response = api_b
        .request(Method::POST, "/refresh", Some(&tokens.refresh))
        .await;
    assert_token_rejected(response, token_errors::REVOKED).await;
    let response = api_b
        .request(Method::POST, "/logout", Some(&tokens.refresh))
        .await;
    assert_token_rejected(response, token_errors::REVOKED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_across_two_apis_reach_mailgun_while_a_worker_is_killed_and_restarted() {
    const REGISTRATIONS: usize = 40;
    let answer_delay = Duration::from_millis(300);
    let deployment = Deployment::new().await;
    let mailgun = FakeMailgun::start().await;
    // Slow answers keep requests in flight at the workers.
    mailgun.set_delay(answer_delay);
    let api_a = deployment.start_api("api-a", |_| {}).await;
    let api_b = deployment.start_api("api-b", |_| {}).await;
    let mut worker_1 = deployment.start_worker("worker-1", &mailgun, |_| {});
    let _worker_2 = deployment.start_worker("worker-2", &mailgun, |_| {});

    let tag = unique_tag();
    let expected: Vec<String> = (0..REGISTRATIONS)
        .map(|i| format!("user{i}-{tag}@example.com"))
        .collect();
    let registered = Arc::new(AtomicUsize::new(0));
    // The APIs live to the end of the test: their relays still have jobs
    // to move after the last registration answers.
    let apis = Arc::new([api_a, api_b]);
    let clients = register_in_two_lanes(&apis, &expected, &tag, &registered);

    // Kill worker 1 about a third of the way, once it has a request
    // waiting for its answer: the crash-after-send window is open.
    let from_1 = worker_from("worker-1");
    wait_until(DELIVERY_LIMIT, "worker-1 has a request in flight", || {
        registered.load(Ordering::SeqCst) >= REGISTRATIONS / 3
            && mailgun.in_flight_from(&from_1, answer_delay) > 0
    })
    .await;
    let in_flight_at_kill = mailgun.in_flight_from(&from_1, answer_delay);
    worker_1.kill();
    let registered_at_kill = registered.load(Ordering::SeqCst);
    // Worker 2 carries on alone for a while, then worker 1 comes back.
    wait_until(DELIVERY_LIMIT, "5 more registrations", || {
        let now = registered.load(Ordering::SeqCst);
        now >= REGISTRATIONS || now >= registered_at_kill + 5
    })
    .await;
    let _worker_1_again = deployment.start_worker("worker-1-restarted", &mailgun, |_| {});
    for client in clients {
        client.await.expect("the registrations succeeded");
    }

    let tally = mailgun.wait_for_recipients(&expected, DELIVERY_LIMIT).await;
    let state = deployment.wait_until_settled(DELIVERY_LIMIT).await;
    let tally = if tally.lost.is_empty() {
        mailgun.tally(&expected)
    } else {
        tally
    };
    let by_worker: Vec<String> = ["worker-1", "worker-2", "worker-1-restarted"]
        .iter()
        .map(|name| format!("{name}={}", mailgun.count_from(&worker_from(name))))
        .collect();
    println!(
        "scale-out: registrations={REGISTRATIONS} (killed worker-1 after {registered_at_kill}, \
         ~{in_flight_at_kill} of its requests in flight) {tally:?} requests_by_worker: {}",
        by_worker.join(" ")
    );
    assert!(tally.lost.is_empty(), "emails lost: {tally:?} {state:?}");
    assert!(state.settled(), "the queue never drained: {state:?}");
    assert_eq!(state.dead, 0, "{state:?}");
    assert!(tally.unexpected.is_empty(), "{tally:?}");
    assert_eq!(tally.distinct, REGISTRATIONS);
    // Only a job the killed worker had sent but not recorded can go out
    // twice: at most one per slot it had.
    assert!(
        tally.duplicates <= WORKER_CONCURRENCY,
        "more duplicates than jobs in flight: {tally:?}"
    );
}

/// Two clients registering at once, alternating between the two API
/// instances; `registered` counts the registrations done.
fn register_in_two_lanes(
    apis: &Arc<[ApiProcess; 2]>,
    emails: &[String],
    tag: &str,
    registered: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..2)
        .map(|lane| {
            let apis = apis.clone();
            let registered = registered.clone();
            let emails: Vec<String> = emails.iter().skip(lane).step_by(2).cloned().collect();
            let tag = tag.to_owned();
            tokio::spawn(async move {
                for (i, email) in emails.iter().enumerate() {
                    let api = &apis[(lane + i) % 2];
                    api.register_ok(&format!("user-{lane}-{i}-{tag}"), email)
                        .await;
                    registered.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect()
}

/// A TCP server that accepts connections and never answers: a Redis that
/// hangs. Counts the connections it accepted.
struct SilentServer {
    port: u16,
    accepted: Arc<AtomicUsize>,
    acceptor: tokio::task::JoinHandle<()>,
}

impl SilentServer {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let acceptor = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        Self {
            port,
            accepted,
            acceptor,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_api_answer_the_request_in_flight_and_exit_0() {
    let deployment = Deployment::new().await;
    // Nothing but the request below talks to Redis (the outbox is empty,
    // rate limits are off in deployments, and the revocation cache, which
    // would open its own tracking connection at start, is off here), so
    // the first connection the silent Redis sees is that request's.
    let redis = SilentServer::start().await;
    let mut api = deployment
        .start_api("api", |vars| {
            vars.insert("REDIS_URL", format!("redis://127.0.0.1:{}", redis.port));
            vars.insert("REVOCATION_CACHE_SIZE", "0".to_owned());
            // The replay loop's probe connects to Redis too: as rarely as
            // it may, so that a new connection means the request's own.
            vars.insert("REVOCATION_REPLAY_INTERVAL", "10".to_owned());
        })
        .await;
    let claims = jwt::valid_claims(1, "access", 300);
    let token = jwt::sign(&claims, &deployment.jwt_secret, Algorithm::HS256);
    let request = api.client.get(api.url("/protected")).bearer_auth(token);
    // Connections from before the request (the probe's) do not count: the
    // stop signal must come once the request is inside its token check.
    let before = redis.accepted();
    let in_flight = tokio::spawn(request.send());
    wait_until(Duration::from_secs(30), "the request reached Redis", || {
        redis.accepted() > before
    })
    .await;

    api.process.terminate();
    // The revocation check is bounded, so the request ends (fail closed)
    // and its answer still goes out after the stop signal.
    let response = in_flight
        .await
        .expect("the request task")
        .expect("the in-flight request was answered, not cut");
    assert_unavailable(response).await;
    let status = api
        .process
        .wait_exit(Duration::from_secs(40))
        .await
        .expect("the API exited after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", api.process.log_tail(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_worker_finish_its_jobs_and_exit_0_within_its_grace() {
    const USERS: usize = 8;
    let deployment = Deployment::new().await;
    let mailgun = FakeMailgun::start().await;
    mailgun.set_delay(Duration::from_secs(1));
    let api = deployment.start_api("api", |_| {}).await;
    let tag = unique_tag();
    let expected: Vec<String> = (0..USERS)
        .map(|i| format!("user{i}-{tag}@example.com"))
        .collect();
    for (i, email) in expected.iter().enumerate() {
        api.register_ok(&format!("user-{i}-{tag}"), email).await;
    }
    let mut worker = deployment.start_worker("worker", &mailgun, |_| {});
    wait_until(DELIVERY_LIMIT, "the worker has jobs in flight", || {
        mailgun.request_count() > 0
    })
    .await;

    worker.terminate();
    // Generous over the grace: this checks the exit, not the speed.
    let limit = Duration::from_secs(WORKER_GRACE_SECS + 15);
    let status = worker
        .wait_exit(limit)
        .await
        .expect("the worker exited after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", worker.log_tail(20));
    let sent_before_exit = mailgun.request_count();
    assert!(sent_before_exit > 0);

    // What it held was finished and recorded, what it had not taken is
    // still queued: the next worker sends the rest, nothing twice.
    let _next = deployment.start_worker("worker-next", &mailgun, |_| {});
    let tally = mailgun.wait_for_recipients(&expected, DELIVERY_LIMIT).await;
    assert!(tally.lost.is_empty(), "emails lost: {tally:?}");
    let state = deployment.wait_until_settled(DELIVERY_LIMIT).await;
    assert!(state.settled(), "the queue never drained: {state:?}");
    let tally = mailgun.tally(&expected);
    assert_eq!(tally.duplicates, 0, "{tally:?}");
    assert_eq!(tally.received, USERS, "{tally:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_right_after_a_worker_started_exits_0() {
    let deployment = Deployment::new().await;
    let mailgun = FakeMailgun::start().await;
    let mut worker = deployment.start_worker("worker", &mailgun, |_| {});
    // Its last line before it consumes: it is configured and running.
    wait_until(
        Duration::from_secs(30),
        "the worker logged its start",
        || worker.logs().contains("email worker started"),
    )
    .await;

    worker.terminate();
    let status = worker
        .wait_exit(Duration::from_secs(WORKER_GRACE_SECS + 15))
        .await
        .expect("the worker exited after SIGTERM");
    assert_eq!(status.code(), Some(0), "{status}: {}", worker.log_tail(20));
}
