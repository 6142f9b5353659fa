#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! The whole consumer against the real Redis at 127.0.0.1:6379 and a
//! wiremock Mailgun: delivery through failures, duplicate queue entries
//! racing, and a job whose handling panics.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use application::delivery::{
    DeliveryQueue, EmailDelivery, EmailRenderer, Outcome, QueueAdmin, RenderError, RenderedEmail,
    RetryPolicy,
};
use application::ports::{EmailQueue, SystemClock};
use application::{Email, EmailJob};
use chrono::Utc;
use mailgun_adapter::{MailgunConfig, MailgunMailer};
use redis_adapter::{
    EmailStreamSettings, RedisDeliveryQueue, RedisEmailQueue, RedisPool, RedisSettings, connect,
    keys, redis,
};
use secrecy::SecretString;
use test_support::{REDIS_URL, redis_prefix};
use tokio::sync::oneshot;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use worker::{RunSummary, Runner, RunnerSettings, TeraRenderer};

const JOBS: usize = 20;

/// A Mailgun whose first `failures` answers are 500, then 200 after `delay`.
async fn fake_mailgun(failures: u64, delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    if failures > 0 {
        Mock::given(method("POST"))
            .and(path("/v3/mg.example.io/messages"))
            .respond_with(ResponseTemplate::new(500).set_body_string("try later"))
            .up_to_n_times(failures)
            .with_priority(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/v3/mg.example.io/messages"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"message":"Queued"}"#)
                .set_delay(delay),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

fn recipient(body: &[u8]) -> String {
    url::form_urlencoded::parse(body)
        .find(|(key, _)| key == "to")
        .map(|(_, value)| value.into_owned())
        .unwrap()
}

fn welcome(i: usize) -> EmailJob {
    EmailJob::new(
        Email::Welcome {
            to: format!("user{i}@example.io"),
            verification_link: String::new(),
            code: String::new(),
        },
        Utc::now(),
    )
}

fn pool() -> RedisPool {
    connect(REDIS_URL, &RedisSettings::default()).unwrap()
}

async fn push(pool: &RedisPool, prefix: &str, jobs: Vec<EmailJob>) {
    RedisEmailQueue::new(pool.clone(), prefix, Duration::from_secs(2))
        .push(jobs)
        .await
        .unwrap();
}

fn consumer(
    pool: &RedisPool,
    prefix: &str,
    visibility_timeout: Duration,
) -> Arc<RedisDeliveryQueue> {
    let mut settings = EmailStreamSettings::new(worker::consumer_name());
    settings.block = Duration::from_millis(100);
    settings.visibility_timeout = visibility_timeout;
    Arc::new(RedisDeliveryQueue::new(pool.clone(), prefix, settings))
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(1),
    }
}

fn delivery(
    queue: Arc<dyn DeliveryQueue>,
    server: &MockServer,
    renderer: Arc<dyn EmailRenderer>,
    policy: RetryPolicy,
) -> EmailDelivery {
    let mut mailgun = MailgunConfig::new(
        "mg.example.io".into(),
        SecretString::from("key-test"),
        "Auth <no-reply@example.io>".into(),
    );
    mailgun.base_url = server.uri();
    EmailDelivery::new(
        queue,
        renderer,
        Arc::new(MailgunMailer::new(mailgun).unwrap()),
        Arc::new(SystemClock),
        worker::random_jitter(),
        policy,
    )
}

fn templates() -> Arc<dyn EmailRenderer> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
    Arc::new(TeraRenderer::load(dir).unwrap())
}

/// Runs `runner` until `done` says so (polled every 50 ms, at most 30 s;
/// the assertions after it say what is missing if time runs out).
async fn run_until<F: Future<Output = bool>>(
    runner: Runner,
    mut done: impl FnMut() -> F,
) -> RunSummary {
    let (stop, stopped) = oneshot::channel::<()>();
    let watcher = async move {
        for _ in 0..600 {
            if done().await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = stop.send(());
    };
    let (summary, ()) = tokio::join!(
        runner.run(async {
            let _ = stopped.await;
        }),
        watcher
    );
    summary
}

struct Delivered {
    summary: RunSummary,
    server: MockServer,
    queue: Arc<RedisDeliveryQueue>,
    pool: RedisPool,
    prefix: String,
}

/// 20 jobs through a Mailgun whose first two answers are 500s.
async fn deliver_through_two_failures() -> Delivered {
    let server = fake_mailgun(2, Duration::ZERO).await;
    let pool = pool();
    let prefix = redis_prefix();
    push(&pool, &prefix, (0..JOBS).map(welcome).collect()).await;
    let queue = consumer(&pool, &prefix, Duration::from_secs(30));
    let delivery = delivery(queue.clone(), &server, templates(), policy(8));
    let settings = RunnerSettings {
        concurrency: 8,
        promote_interval: Duration::from_millis(20),
        ..RunnerSettings::default()
    };
    let runner = Runner::new(
        queue.clone(),
        Arc::new(delivery),
        Arc::new(SystemClock),
        settings,
    );
    let summary = run_until(runner, || async {
        let ok = server
            .received_requests()
            .await
            .unwrap()
            .len()
            .saturating_sub(2);
        ok >= JOBS && queue.retries_waiting().await.unwrap() == 0
    })
    .await;
    Delivered {
        summary,
        server,
        queue,
        pool,
        prefix,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_is_delivered_exactly_once_through_mailgun_failures() {
    let Delivered {
        summary, server, ..
    } = deliver_through_two_failures().await;

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), JOBS + 2, "20 successes after 2 failures");
    // The first two requests got the 500s; every other one delivered an email.
    let mut delivered: HashMap<String, usize> = HashMap::new();
    for request in &requests[2..] {
        *delivered.entry(recipient(&request.body)).or_default() += 1;
    }
    assert_eq!(delivered.len(), JOBS, "each recipient got an email");
    assert!(
        delivered.values().all(|&n| n == 1),
        "none twice: {delivered:?}"
    );
    assert_eq!(summary.sent, JOBS as u64);
    assert_eq!(summary.retries_scheduled, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivering_through_mailgun_failures_leaves_the_queue_empty() {
    let Delivered {
        summary,
        queue,
        pool,
        prefix,
        ..
    } = deliver_through_two_failures().await;

    assert_eq!(summary.dead_lettered, 0);
    assert_eq!(queue.retries_waiting().await.unwrap(), 0);
    assert!(queue.dead_letters().await.unwrap().is_empty());
    let mut connection = pool.get().await.unwrap();
    let left: usize = redis::cmd("XLEN")
        .arg(keys::email_stream(&prefix))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(left, 0, "every entry handled and removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_racing_on_duplicate_entries_of_one_job_send_it_once() {
    // The relay pushed the job twice (its XADD went through, its delete
    // did not); each worker receives one of the two entries. Mailgun is
    // slow, so both sends would overlap without the claim.
    let server = fake_mailgun(0, Duration::from_millis(300)).await;
    let pool = pool();
    let prefix = redis_prefix();
    let job = welcome(1);
    push(&pool, &prefix, vec![job.clone()]).await;
    push(&pool, &prefix, vec![job.clone()]).await;
    let (queue_a, queue_b) = (
        consumer(&pool, &prefix, Duration::from_secs(30)),
        consumer(&pool, &prefix, Duration::from_secs(30)),
    );
    let entry_a = queue_a.receive(1).await.unwrap().remove(0);
    let entry_b = queue_b.receive(1).await.unwrap().remove(0);
    assert_ne!(entry_a.receipt, entry_b.receipt);
    let worker_a = delivery(queue_a.clone(), &server, templates(), policy(8));
    let worker_b = delivery(queue_b.clone(), &server, templates(), policy(8));

    let (a, b) = tokio::join!(worker_a.handle(entry_a), worker_b.handle(entry_b));

    let mut outcomes = vec![a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|outcome| outcome.as_str());
    assert_eq!(outcomes, [Outcome::ClaimedElsewhere, Outcome::Sent]);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// A renderer with a bug: it panics on every job.
struct PanickingRenderer;

impl EmailRenderer for PanickingRenderer {
    fn render(&self, _job: &EmailJob) -> Result<RenderedEmail, RenderError> {
        panic!("a bug in the template engine");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_handling_panics_is_dead_lettered_after_max_attempts_hand_outs() {
    let server = fake_mailgun(0, Duration::ZERO).await;
    let pool = pool();
    let prefix = redis_prefix();
    let job = welcome(1);
    push(&pool, &prefix, vec![job.clone()]).await;
    let queue = consumer(&pool, &prefix, Duration::from_millis(200));
    let delivery = delivery(
        queue.clone(),
        &server,
        Arc::new(PanickingRenderer),
        policy(2),
    );
    let settings = RunnerSettings {
        concurrency: 2,
        claim_interval: Duration::from_millis(50),
        ..RunnerSettings::default()
    };
    let runner = Runner::new(
        queue.clone(),
        Arc::new(delivery),
        Arc::new(SystemClock),
        settings,
    );

    let summary = run_until(runner, || async { queue.depths().await.unwrap().dead == 1 }).await;

    let letters = queue.dead_letters().await.unwrap();
    assert_eq!(letters.len(), 1, "{summary:?}");
    assert_eq!(letters[0].id, job.id.to_string());
    assert!(
        letters[0]
            .reason
            .starts_with("handed out 3 times without an outcome"),
        "{}",
        letters[0].reason
    );
    assert_eq!(summary.unrecorded, 2, "two panics, then the dead letter");
    assert_eq!(queue.depths().await.unwrap().stream, 0);
    assert!(server.received_requests().await.unwrap().is_empty());
}
