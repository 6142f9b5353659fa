#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Against the real Redis at 127.0.0.1:6379; each test uses its own prefix.

use std::time::Duration;

use application::ports::{EmailQueue, QueueError};
use application::{Email, EmailJob};
use chrono::{TimeZone, Utc};
use redis_adapter::redis::streams::StreamRangeReply;
use redis_adapter::{RedisEmailQueue, RedisPool, RedisSettings, connect, keys, redis};
use test_support::{REDIS_URL, redis_prefix};

const TIMEOUT: Duration = Duration::from_secs(2);

fn job(n: u8) -> EmailJob {
    EmailJob::new(
        Email::Welcome {
            to: format!("user{n}@example.io"),
            verification_link: String::new(),
            code: String::new(),
        },
        Utc.timestamp_opt(1_700_000_000 + i64::from(n), 0).unwrap(),
    )
}

async fn stream_entries(pool: &RedisPool, prefix: &str) -> StreamRangeReply {
    let mut connection = pool.get().await.unwrap();
    redis::cmd("XRANGE")
        .arg(keys::email_stream(prefix))
        .arg("-")
        .arg("+")
        .query_async(&mut connection)
        .await
        .unwrap()
}

#[tokio::test]
async fn pushed_jobs_land_in_the_stream_in_order() {
    let pool = connect(REDIS_URL, &RedisSettings::default()).unwrap();
    let prefix = redis_prefix();
    let queue = RedisEmailQueue::new(pool.clone(), &prefix, TIMEOUT);
    let jobs = vec![job(1), job(2), job(3)];

    queue.push(jobs.clone()).await.unwrap();

    let reply = stream_entries(&pool, &prefix).await;
    assert_eq!(reply.ids.len(), 3);
    let stored = reply
        .ids
        .iter()
        .map(|entry| {
            assert_eq!(entry.map.len(), 1, "one field per entry");
            let raw: String = entry.get(keys::EMAIL_JOB_FIELD).unwrap();
            EmailJob::from_json(&raw).unwrap()
        })
        .collect::<Vec<_>>();
    assert_eq!(stored, jobs);
}

#[tokio::test]
async fn later_pushes_append_after_earlier_ones() {
    let pool = connect(REDIS_URL, &RedisSettings::default()).unwrap();
    let prefix = redis_prefix();
    let queue = RedisEmailQueue::new(pool.clone(), &prefix, TIMEOUT);

    queue.push(vec![job(1)]).await.unwrap();
    queue.push(Vec::new()).await.unwrap();
    queue.push(vec![job(2), job(3)]).await.unwrap();

    let reply = stream_entries(&pool, &prefix).await;
    let ids = reply
        .ids
        .iter()
        .map(|entry| {
            let raw: String = entry.get(keys::EMAIL_JOB_FIELD).unwrap();
            EmailJob::from_json(&raw)
                .unwrap()
                .email
                .recipient()
                .to_owned()
        })
        .collect::<Vec<_>>();
    assert_eq!(
        ids,
        ["user1@example.io", "user2@example.io", "user3@example.io"]
    );
}

#[tokio::test]
async fn an_unreachable_redis_is_reported_unavailable() {
    let settings = RedisSettings {
        max_connections: 2,
        connect_timeout: Duration::from_millis(500),
        command_timeout: Duration::from_secs(1),
    };
    // Port 1: nothing listens there, the connection is refused.
    let pool = connect("redis://127.0.0.1:1", &settings).unwrap();
    let queue = RedisEmailQueue::new(pool, redis_prefix(), TIMEOUT);

    let result = queue.push(vec![job(1)]).await;
    assert!(
        matches!(result, Err(QueueError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_push_fewer_replicas_acknowledged_fails_though_the_jobs_are_in_the_stream() {
    let pool = connect(REDIS_URL, &RedisSettings::default()).unwrap();
    let prefix = redis_prefix();
    // The Redis of the tests has no replica: none can acknowledge.
    let queue = RedisEmailQueue::new(pool.clone(), &prefix, Duration::from_millis(400))
        .with_wait_replicas(1);

    let result = queue.push(vec![job(1), job(2)]).await;

    assert!(
        matches!(
            result,
            Err(QueueError::NotReplicated {
                acknowledged: 0,
                wanted: 1
            })
        ),
        "{result:?}"
    );
    // Appended all the same: the relay keeps the rows and pushes them
    // again, so the queue delivers at least once.
    assert_eq!(stream_entries(&pool, &prefix).await.ids.len(), 2);
}

/// A `redis-server` of this test's own, on a free port, stopped on drop.
struct OwnRedis {
    child: std::process::Child,
    url: String,
    dir: std::path::PathBuf,
}

impl OwnRedis {
    fn start(extra: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("producer-test-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .args(extra)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Self {
            child,
            url: format!("redis://127.0.0.1:{port}"),
            dir,
        }
    }

    fn port(&self) -> String {
        self.url.rsplit(':').next().unwrap().to_owned()
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn info_replication(pool: &RedisPool) -> Option<String> {
    let mut connection = pool.get().await.ok()?;
    redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut connection)
        .await
        .ok()
}

#[tokio::test]
async fn a_push_counts_once_the_replicas_acknowledged_it() {
    let primary = OwnRedis::start(&[]);
    let replica = OwnRedis::start(&["--replicaof", "127.0.0.1", &primary.port()]);
    let settings = RedisSettings::default();
    let primary_pool = connect(&primary.url, &settings).unwrap();
    let replica_pool = connect(&replica.url, &settings).unwrap();
    // Until the replica has synced, WAIT cannot count it.
    let mut synced = false;
    for _ in 0..200 {
        let info = info_replication(&replica_pool).await.unwrap_or_default();
        if info.contains("master_link_status:up") {
            synced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(synced, "the replica never synced");
    let prefix = redis_prefix();
    let queue = RedisEmailQueue::new(primary_pool, &prefix, TIMEOUT).with_wait_replicas(1);

    queue.push(vec![job(1), job(2)]).await.unwrap();

    // Acknowledged: the replica has both entries already.
    assert_eq!(stream_entries(&replica_pool, &prefix).await.ids.len(), 2);
}
