#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Email end to end: the built `api-server` and `email-worker`
//! binaries as real processes, real PostgreSQL and Redis, and a fake
//! Mailgun on loopback. A user registers through the API and a welcome
//! email leaves through Mailgun's HTTP API, whatever fails on the way.
//!
//! Needs `cargo build --bins` first (scripts/test.sh does it).

use std::time::Duration;

use integration_tests::TcpProxy;
use integration_tests::deployment::{
    Deployment, WORKER_CONCURRENCY, unique_tag, wait_until, worker_from,
};
use integration_tests::fake_mailgun::{DeliveryTally, FakeMailgun, expected_authorization};
use integration_tests::processes::Process;
use serde_json::Value;

/// Bound on waiting for emails: generous, the usual wait is seconds.
const DELIVERY_LIMIT: Duration = Duration::from_secs(60);

fn exact(expected: usize) -> DeliveryTally {
    DeliveryTally {
        expected,
        received: expected,
        distinct: expected,
        duplicates: 0,
        lost: Vec::new(),
        unexpected: Vec::new(),
    }
}

const USERS: usize = 30;
const FAILURES: usize = 5;

/// 30 registrations through a Mailgun whose first 5 answers are 500s,
/// waited for until the queue settled. The first user, bob, has markup in
/// his username.
struct WelcomeRun {
    _deployment: Deployment,
    mailgun: FakeMailgun,
    expected: Vec<String>,
    bob: String,
}

async fn welcome_everyone_through_failures() -> WelcomeRun {
    let deployment = Deployment::new().await;
    let mailgun = FakeMailgun::start().await;
    mailgun.fail_next(FAILURES);
    let api = deployment.start_api("api", |_| {}).await;
    let _worker = deployment.start_worker("worker", &mailgun, |_| {});

    let tag = unique_tag();
    // Markup in a username must reach the HTML part escaped.
    let bob = format!("bob-{tag}@example.com");
    api.register_ok("<b>bob</b>", &bob).await;
    let mut expected = vec![bob.clone()];
    for i in 1..USERS {
        let email = format!("user{i}-{tag}@example.com");
        api.register_ok(&format!("user-{i}-{tag}"), &email).await;
        expected.push(email);
    }
    let tally = mailgun.wait_for_recipients(&expected, DELIVERY_LIMIT).await;
    assert!(tally.lost.is_empty(), "emails never arrived: {tally:?}");
    // Nothing waits or runs any more, so no late duplicate can follow.
    let state = deployment.wait_until_settled(DELIVERY_LIMIT).await;
    assert!(state.settled(), "the queue never drained: {state:?}");
    assert_eq!(state.dead, 0, "{state:?}");
    WelcomeRun {
        _deployment: deployment,
        mailgun,
        expected,
        bob,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_user_gets_exactly_one_welcome_email_though_mailgun_fails_at_first() {
    let WelcomeRun {
        mailgun, expected, ..
    } = welcome_everyone_through_failures().await;

    assert_eq!(mailgun.tally(&expected), exact(USERS));
    let received = mailgun.received();
    let failed = received.iter().filter(|request| request.status == 500);
    assert_eq!(
        failed.count(),
        FAILURES,
        "the scripted 500s were not all used"
    );
    assert_eq!(
        received.len(),
        USERS + FAILURES,
        "requests beyond the retries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_welcome_request_carries_the_contracts_fields() {
    let WelcomeRun {
        mailgun, expected, ..
    } = welcome_everyone_through_failures().await;

    let authorization = expected_authorization();
    for request in &mailgun.received() {
        assert_eq!(request.authorization.as_deref(), Some(&*authorization));
        assert_eq!(request.from(), worker_from("worker"));
        assert_eq!(request.field("subject"), Some("Successfully signed up"));
        assert!(expected.iter().any(|to| to == request.to()), "{request:?}");
        for part in ["text", "html"] {
            assert!(
                request
                    .field(part)
                    .is_some_and(|body| !body.trim().is_empty()),
                "no {part} in {request:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welcome_emails_carry_no_username() {
    // The address is not proven yet: whoever signed up chose the name,
    // and it must not reach the mailbox in any form.
    let WelcomeRun { mailgun, bob, .. } = welcome_everyone_through_failures().await;

    let to_bob = mailgun
        .delivered()
        .into_iter()
        .find(|request| request.to() == bob)
        .expect("bob's email");
    let html = to_bob.field("html").unwrap_or_default();
    let text = to_bob.field("text").unwrap_or_default();
    for part in [&html, &text] {
        assert!(!part.contains("bob</b>"), "{part}");
        assert!(!part.contains("bob&lt;"), "{part}");
    }
    for request in mailgun.delivered() {
        if request.to() != bob {
            let username = expected_username(request.to());
            for part in ["html", "text"] {
                assert!(
                    request
                        .field(part)
                        .is_some_and(|body| !body.contains(&username)),
                    "{username} in {request:?}"
                );
            }
        }
    }
}

/// `user7-<tag>@example.com` was registered as `user-7-<tag>`.
fn expected_username(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default();
    let (number, tag) = local.split_once('-').unwrap_or_default();
    format!("user-{}-{tag}", number.trim_start_matches("user"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_and_restarted_loses_nothing() {
    const USERS: usize = 24;
    let answer_delay = Duration::from_millis(300);
    let deployment = Deployment::new().await;
    let mailgun = FakeMailgun::start().await;
    // Slow answers keep every slot of the worker busy with a request.
    mailgun.set_delay(answer_delay);
    let api = deployment.start_api("api", |_| {}).await;
    let tag = unique_tag();
    let mut expected = Vec::new();
    for i in 0..USERS {
        let email = format!("user{i}-{tag}@example.com");
        api.register_ok(&format!("user-{i}-{tag}"), &email).await;
        expected.push(email);
    }

    let mut first = deployment.start_worker("worker-a", &mailgun, |_| {});
    let from_first = worker_from("worker-a");
    // A few sent and the rest of the batch queued behind full slots: the
    // kill lands while requests wait for their answer.
    wait_until(DELIVERY_LIMIT, "worker-a sent 6 emails", || {
        mailgun.count_from(&from_first) >= 6
    })
    .await;
    let in_flight = mailgun.in_flight_from(&from_first, answer_delay);
    first.kill();
    let sent_before_kill = mailgun.count_from(&from_first);
    let _second = deployment.start_worker("worker-b", &mailgun, |_| {});

    let tally = mailgun.wait_for_recipients(&expected, DELIVERY_LIMIT).await;
    let state = deployment.wait_until_settled(DELIVERY_LIMIT).await;
    let tally_now = mailgun.tally(&expected);
    println!(
        "kill mid-batch: users={USERS} sent_by_killed_worker={sent_before_kill} \
         in_flight_at_kill~{in_flight} received={} distinct={} duplicates={} lost={}",
        tally_now.received,
        tally_now.distinct,
        tally_now.duplicates,
        tally_now.lost.len()
    );
    assert!(tally.lost.is_empty(), "emails lost: {tally:?}");
    assert!(state.settled(), "the queue never drained: {state:?}");
    assert_eq!(state.dead, 0, "{state:?}");
    assert!(tally_now.unexpected.is_empty(), "{tally_now:?}");
    assert_eq!(tally_now.distinct, USERS, "{tally_now:?}");
    // A duplicate is only possible for a job the killed worker had sent
    // but not yet recorded: at most one per slot.
    assert!(
        tally_now.duplicates <= WORKER_CONCURRENCY,
        "more duplicates than jobs in flight: {tally_now:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_while_redis_is_down_are_each_delivered_once_after_it_returns() {
    let deployment = Deployment::new().await;
    let mailgun = FakeMailgun::start().await;
    // Both binaries reach Redis only through the proxy.
    let redis = TcpProxy::redis().await;
    let api = deployment
        .start_api("api", |vars| {
            vars.insert("REDIS_URL", redis.redis_url());
        })
        .await;
    let _worker = deployment.start_worker("worker", &mailgun, |vars| {
        vars.insert("REDIS_URL", redis.redis_url());
    });
    let tag = unique_tag();
    let emails = |phase: &'static str, count: usize| {
        (0..count)
            .map(|i| format!("{phase}{i}-{tag}@example.com"))
            .collect::<Vec<_>>()
    };

    let before = emails("before", 5);
    for email in &before {
        api.register_ok(&format!("u-{email}"), email).await;
    }
    assert!(
        mailgun
            .wait_for_recipients(&before, DELIVERY_LIMIT)
            .await
            .lost
            .is_empty()
    );
    // Cut Redis only once nothing is in flight, so no send can be caught
    // between Mailgun and its record.
    let state = deployment.wait_until_settled(DELIVERY_LIMIT).await;
    assert!(state.settled(), "{state:?}");

    redis.down().await;
    let during = emails("during", 10);
    for email in &during {
        api.register_ok(&format!("u-{email}"), email).await;
    }
    // The jobs wait in PostgreSQL, committed with their users.
    assert_eq!(deployment.queue_state().await.outbox, 10);
    assert_eq!(mailgun.tally(&during).lost.len(), 10);

    redis.up();
    let after = emails("after", 5);
    for email in &after {
        api.register_ok(&format!("u-{email}"), email).await;
    }
    let expected: Vec<String> = [before, during, after].concat();
    let tally = mailgun.wait_for_recipients(&expected, DELIVERY_LIMIT).await;
    assert!(tally.lost.is_empty(), "emails lost: {tally:?}");
    let state = deployment.wait_until_settled(DELIVERY_LIMIT).await;
    assert!(state.settled(), "the queue never drained: {state:?}");
    assert_eq!(state.dead, 0, "{state:?}");
    assert_eq!(mailgun.tally(&expected), exact(20));
}

/// One address Mailgun refuses with a 400 among five it accepts, waited
/// for until the queue settled with one dead letter.
struct RefusalRun {
    deployment: Deployment,
    mailgun: FakeMailgun,
    refused: String,
    others: Vec<String>,
    /// Keeps running for the requeue (killed when dropped).
    _worker: Process,
}

async fn one_refused_among_five() -> RefusalRun {
    let deployment = Deployment::new().await;
    let mailgun = FakeMailgun::start().await;
    let tag = unique_tag();
    let refused = format!("refused-{tag}@example.com");
    mailgun.reject(&refused);
    let api = deployment.start_api("api", |_| {}).await;
    let worker = deployment.start_worker("worker", &mailgun, |_| {});

    let others: Vec<String> = (0..5)
        .map(|i| format!("other{i}-{tag}@example.com"))
        .collect();
    api.register_ok(&format!("refused-{tag}"), &refused).await;
    for email in &others {
        api.register_ok(&format!("u-{email}"), email).await;
    }
    let tally = mailgun.wait_for_recipients(&others, DELIVERY_LIMIT).await;
    assert!(tally.lost.is_empty(), "emails lost: {tally:?}");
    let state = deployment.wait_until_settled(DELIVERY_LIMIT).await;
    assert!(state.settled(), "{state:?}");
    assert_eq!(state.dead, 1, "{state:?}");
    RefusalRun {
        deployment,
        mailgun,
        refused,
        others,
        _worker: worker,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_mailgun_refusal_is_dead_lettered_with_its_reason() {
    let RefusalRun {
        deployment,
        mailgun,
        refused,
        ..
    } = one_refused_among_five().await;

    // A 400 is not retried.
    let refusals: Vec<_> = mailgun
        .received()
        .into_iter()
        .filter(|request| request.to() == refused)
        .collect();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].status, 400);

    let letters = dead_letters(&deployment, &mailgun).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(letter["kind"], "welcome", "{letter}");
    let payload: Value =
        serde_json::from_str(letter["payload"].as_str().expect("payload")).expect("job JSON");
    assert_eq!(payload["to"], refused.as_str(), "{letter}");
    assert!(
        letter["reason"].as_str().is_some_and(|r| r.contains("400")),
        "{letter}"
    );
    assert_eq!(
        letter["history"].as_array().map(Vec::len),
        Some(1),
        "{letter}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requeueing_a_dead_letter_delivers_it_once_mailgun_accepts() {
    let RefusalRun {
        deployment,
        mailgun,
        refused,
        others,
        _worker,
    } = one_refused_among_five().await;

    mailgun.accept(&refused);
    let requeue = deployment
        .worker_command(&mailgun, &["dead-letters", "requeue", "--all"])
        .await;
    assert!(requeue.status.success(), "{}", requeue.stderr);
    assert!(
        requeue.stdout.contains("requeued 1 dead letter"),
        "{}",
        requeue.stdout
    );
    let tally = mailgun
        .wait_for_recipients(std::slice::from_ref(&refused), DELIVERY_LIMIT)
        .await;
    assert!(tally.lost.is_empty(), "the requeued email never arrived");
    let state = deployment.wait_until_settled(DELIVERY_LIMIT).await;
    assert!(state.settled(), "{state:?}");
    assert_eq!(state.dead, 0, "{state:?}");
    assert!(dead_letters(&deployment, &mailgun).await.is_empty());
    let everyone: Vec<String> = [vec![refused], others].concat();
    assert_eq!(mailgun.tally(&everyone), exact(6));
}

/// `email-worker dead-letters list --json`, one JSON object per line.
async fn dead_letters(deployment: &Deployment, mailgun: &FakeMailgun) -> Vec<Value> {
    let list = deployment
        .worker_command(mailgun, &["dead-letters", "list", "--json"])
        .await;
    assert!(list.status.success(), "{}", list.stderr);
    list.stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_reports_health_and_metrics_on_its_operator_listener() {
    let deployment = Deployment::new().await;
    let mailgun = FakeMailgun::start().await;
    let api = deployment.start_api("api", |_| {}).await;
    let address = format!("127.0.0.1:{}", integration_tests::deployment::free_port());
    let _worker = deployment.start_worker("worker", &mailgun, |vars| {
        vars.insert("WORKER_HTTP_ADDR", address.clone());
    });
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{address}{path}");
    let mut ready = false;
    for _ in 0..100 {
        let answer = client.get(url("/health/ready")).send().await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the worker's /health/ready never answered 200");
    // The compose health check: the binary asks the running worker.
    let healthcheck =
        std::process::Command::new(integration_tests::processes::binary("email-worker"))
            .arg("healthcheck")
            .env_clear()
            .env("WORKER_HTTP_ADDR", &address)
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap();
    assert!(healthcheck.status.success(), "{healthcheck:?}");

    let email = format!("metrics-{}@example.com", unique_tag());
    api.register_ok("metrics", &email).await;
    mailgun
        .wait_for_recipients(std::slice::from_ref(&email), DELIVERY_LIMIT)
        .await;
    // The outcome is counted right after the send returns.
    let mut text = String::new();
    for _ in 0..50 {
        text = client
            .get(url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains(r#"email_jobs_total{kind="welcome",outcome="sent"} 1"#) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        text.contains(r#"email_jobs_total{kind="welcome",outcome="sent"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"email_queue_depth{part="stream"}"#),
        "{text}"
    );
    assert!(text.contains("email_dead_letters 0"), "{text}");
    assert!(text.contains("email_job_attempt_bucket"), "{text}");
}
