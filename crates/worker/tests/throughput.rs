//! A measurement, not a check: emails per second for one worker against a
//! fake Mailgun that answers after 100 ms. Run it with
//! `cargo test -p worker --release --test throughput -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use application::delivery::{EmailDelivery, RetryPolicy};
use application::ports::{EmailQueue, SystemClock};
use application::{Email, EmailJob};
use chrono::Utc;
use mailgun_adapter::{MailgunConfig, MailgunMailer};
use redis_adapter::{
    EmailStreamSettings, RedisDeliveryQueue, RedisEmailQueue, RedisSettings, connect,
};
use secrecy::SecretString;
use tokio::sync::oneshot;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};
use worker::{Runner, RunnerSettings, TeraRenderer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run on demand"]
async fn emails_per_second_against_a_100ms_mailgun() {
    let jobs: usize = std::env::var("JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(800);
    let concurrency: usize = std::env::var("WORKER_CONCURRENCY")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(16);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(100)))
        .mount(&server)
        .await;
    let pool = connect("redis://127.0.0.1:6379", &RedisSettings::default()).unwrap();
    let prefix = format!("bench:{}:", uuid::Uuid::new_v4());
    let batch: Vec<EmailJob> = (0..jobs)
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
    RedisEmailQueue::new(pool.clone(), &prefix, Duration::from_secs(5))
        .push(batch)
        .await
        .unwrap();

    let queue = Arc::new(RedisDeliveryQueue::new(
        pool.clone(),
        &prefix,
        EmailStreamSettings::new(worker::consumer_name()),
    ));
    let mut mailgun = MailgunConfig::new(
        "mg.example.io".into(),
        SecretString::from("key-bench"),
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
        RetryPolicy::default(),
    );
    let runner = Runner::new(
        queue,
        Arc::new(delivery),
        Arc::new(SystemClock),
        RunnerSettings {
            concurrency,
            ..RunnerSettings::default()
        },
    );

    let started = Instant::now();
    let (stop, stopped) = oneshot::channel::<()>();
    let watch = async {
        while server.received_requests().await.unwrap().len() < jobs {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = stop.send(());
    };
    let (summary, ()) = tokio::join!(
        runner.run(async {
            let _ = stopped.await;
        }),
        watch
    );
    let elapsed = started.elapsed();
    assert_eq!(summary.sent, jobs as u64);
    println!(
        "{jobs} emails, concurrency {concurrency}, Mailgun latency 100 ms: {:.2} s, {:.1} emails/s",
        elapsed.as_secs_f64(),
        jobs as f64 / elapsed.as_secs_f64()
    );
}
