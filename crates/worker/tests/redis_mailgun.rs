#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! The whole consumer against the real Redis at 127.0.0.1:6379 and a
//! wiremock Mailgun whose first two answers are 500: every job is
//! delivered exactly once, through retries.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use application::delivery::{EmailDelivery, RetryPolicy};
use application::ports::{EmailQueue, SystemClock};
use application::{Email, EmailJob};
use chrono::Utc;
use mailgun_adapter::{MailgunConfig, MailgunMailer};
use redis_adapter::{
    EmailStreamSettings, RedisDeliveryQueue, RedisEmailQueue, RedisSettings, connect, keys, redis,
};
use secrecy::SecretString;
use tokio::sync::oneshot;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use worker::{Runner, RunnerSettings, TeraRenderer};

const JOBS: usize = 20;

async fn fake_mailgun() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mg.example.io/messages"))
        .respond_with(ResponseTemplate::new(500).set_body_string("try later"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/mg.example.io/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"message":"Queued"}"#))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_is_delivered_exactly_once_through_mailgun_failures() {
    let server = fake_mailgun().await;
    let pool = connect("redis://127.0.0.1:6379", &RedisSettings::default()).unwrap();
    let prefix = format!("test:{}:", uuid::Uuid::new_v4());

    let jobs: Vec<EmailJob> = (0..JOBS)
        .map(|i| {
            EmailJob::new(
                Email::Welcome {
                    to: format!("user{i}@example.io"),
                    username: format!("user{i}"),
                },
                Utc::now(),
            )
        })
        .collect();
    RedisEmailQueue::new(pool.clone(), &prefix, Duration::from_secs(2))
        .push(jobs)
        .await
        .unwrap();

    let mut stream_settings = EmailStreamSettings::new(worker::consumer_name());
    stream_settings.block = Duration::from_millis(100);
    let queue = Arc::new(RedisDeliveryQueue::new(
        pool.clone(),
        &prefix,
        stream_settings,
    ));
    let mut mailgun = MailgunConfig::new(
        "mg.example.io".into(),
        SecretString::from("key-test"),
        "Auth <no-reply@example.io>".into(),
    );
    mailgun.base_url = server.uri();
    let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
    let delivery = EmailDelivery::new(
        queue.clone(),
        Arc::new(TeraRenderer::load(templates).unwrap()),
        Arc::new(MailgunMailer::new(mailgun).unwrap()),
        Arc::new(SystemClock),
        worker::random_jitter(),
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(1),
        },
    );
    let runner = Runner::new(
        queue.clone(),
        Arc::new(delivery),
        Arc::new(SystemClock),
        RunnerSettings {
            concurrency: 8,
            promote_interval: Duration::from_millis(20),
            ..RunnerSettings::default()
        },
    );

    let (stop, stopped) = oneshot::channel::<()>();
    let watcher = {
        let queue = queue.clone();
        async move {
            // Done when every job is recorded as delivered (or a generous
            // safety net runs out, and the assertions below say what is missing).
            for _ in 0..600 {
                let requests = server.received_requests().await.unwrap();
                let ok = requests.len().saturating_sub(2);
                if ok >= JOBS && queue.retries_waiting().await.unwrap() == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = stop.send(());
            server
        }
    };
    let (summary, server) = tokio::join!(
        runner.run(async {
            let _ = stopped.await;
        }),
        watcher
    );

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
