//! A deployment of the built binaries for the end-to-end tests: one fresh
//! database (migrated by `api-server migrate`, the container's migration
//! command) and one Redis key prefix, shared by any number of `api-server`
//! and `email-worker` processes, plus what a test needs to look at the
//! queue behind them.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::{Method, Response, StatusCode};
use serde_json::json;
use test_support::TestDatabase;
use uuid::Uuid;

use crate::fake_mailgun::{FakeMailgun, MAILGUN_API_KEY, MAILGUN_DOMAIN};
use crate::processes::{Finished, Process, Vars, binary, run_to_completion, workspace_root};
use crate::{PASSWORD, REDIS_URL, REQUEST_TIMEOUT, Tokens, json_body};

/// How long a process may take to start answering.
const STARTUP_LIMIT: Duration = Duration::from_secs(30);

/// Visibility timeout of the test workers: a killed worker's jobs are
/// taken over after this, so it is short to keep the suite fast.
pub const VISIBILITY_TIMEOUT_SECS: u64 = 3;
/// Shutdown grace of the test workers.
pub const WORKER_GRACE_SECS: u64 = 5;
/// Jobs in flight per test worker unless a test says otherwise.
pub const WORKER_CONCURRENCY: usize = 4;

/// The `from` a worker started under `name` sends with, so a test can tell
/// which worker process sent an email.
pub fn worker_from(name: &str) -> String {
    format!("Auth Service <{name}@e2e.test>")
}

/// A free port on loopback right now (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// How much work is left anywhere between registration and Mailgun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueState {
    /// Jobs committed with their user, not yet handed to Redis.
    pub outbox: i64,
    /// Jobs in the stream: waiting or in flight (an entry leaves the
    /// stream only once its outcome is recorded).
    pub stream: usize,
    /// Jobs waiting for a retry.
    pub retrying: usize,
    pub dead: usize,
}

impl QueueState {
    /// Nothing waits or runs: no email can go out any more.
    pub fn settled(&self) -> bool {
        self.outbox == 0 && self.stream == 0 && self.retrying == 0
    }
}

pub struct Deployment {
    pub database_url: String,
    pub redis_prefix: String,
    pub jwt_secret: String,
    /// The processes' working folder (their logs are there).
    pub dir: PathBuf,
    /// Created by `api-server migrate`; dropped with the deployment.
    _database: TestDatabase,
    redis: deadpool_redis::Pool,
}

impl Deployment {
    /// A fresh database (created and migrated by `api-server migrate`), a
    /// fresh Redis prefix and a fresh working folder.
    pub async fn new() -> Self {
        let id = Uuid::new_v4().simple().to_string();
        let database = TestDatabase::named("e2e_", "");
        let database_url = database.url.clone();
        let dir = std::env::temp_dir().join(format!("e2e-{id}"));
        std::fs::create_dir_all(&dir).expect("create the working folder");
        let redis = deadpool_redis::Config::from_url(REDIS_URL)
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .expect("a Redis pool");
        let deployment = Self {
            database_url,
            redis_prefix: format!("e2e:{id}:"),
            jwt_secret: format!("end-to-end-test-secret-{id}"),
            dir,
            _database: database,
            redis,
        };
        let vars = Vars::from([("DATABASE_URL", deployment.database_url.clone())]);
        let migrate = run_to_completion(
            "migrate",
            &binary("api-server"),
            &["migrate"],
            &vars,
            &deployment.dir,
            Duration::from_secs(60),
        )
        .await;
        assert!(
            migrate.status.success(),
            "api-server migrate failed: {}",
            migrate.stderr
        );
        deployment
    }

    /// The API's environment: this deployment's database, Redis and
    /// prefix, and a JWT secret every API instance shares.
    pub fn api_vars(&self) -> Vars {
        Vars::from([
            ("DATABASE_URL", self.database_url.clone()),
            ("REDIS_URL", REDIS_URL.to_owned()),
            ("REDIS_KEY_PREFIX", self.redis_prefix.clone()),
            ("JWT_SECRET_KEY", self.jwt_secret.clone()),
            (
                "MFA_ENCRYPTION_KEY",
                test_support::MFA_ENCRYPTION_KEY.to_owned(),
            ),
            ("HOST", "127.0.0.1".to_owned()),
            ("HTTP_WORKERS", "2".to_owned()),
            ("RUST_LOG", "info".to_owned()),
            // Plain log files, no colour codes.
            ("NO_COLOR", "1".to_owned()),
            // Many sign-ups from one address: not what these tests are about.
            ("RATE_LIMITS", "off".to_owned()),
        ])
    }

    /// Starts `api-server` (after `configure` adjusted its environment) on
    /// a free port and waits until `/health/live` answers.
    pub async fn start_api(&self, name: &str, configure: impl FnOnce(&mut Vars)) -> ApiProcess {
        let mut vars = self.api_vars();
        configure(&mut vars);
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("an HTTP client");
        // The port is free when picked but another process may take it
        // before the server binds: try again with another.
        for _ in 0..5 {
            let port = free_port();
            vars.insert("PORT", port.to_string());
            let mut process = Process::spawn(name, &binary("api-server"), &[], &vars, &self.dir);
            let address = format!("http://127.0.0.1:{port}");
            let deadline = tokio::time::Instant::now() + STARTUP_LIMIT;
            loop {
                if let Some(status) = process.try_status() {
                    let logs = process.logs();
                    if logs.contains("cannot listen") {
                        break;
                    }
                    panic!("{name} exited at start ({status}):\n{logs}");
                }
                let live = client
                    .get(format!("{address}/health/live"))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await;
                if live.is_ok_and(|response| response.status() == StatusCode::OK) {
                    return ApiProcess {
                        process,
                        address,
                        client,
                    };
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{name} did not answer /health/live within {STARTUP_LIMIT:?}\n{}",
                    process.log_tail(40)
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("{name} found no free port in 5 tries");
    }

    /// The worker's environment: this deployment's Redis and prefix, the
    /// fake Mailgun, short timeouts, and a `from` naming the worker.
    pub fn worker_vars(&self, name: &str, mailgun: &FakeMailgun) -> Vars {
        Vars::from([
            ("REDIS_URL", REDIS_URL.to_owned()),
            ("REDIS_KEY_PREFIX", self.redis_prefix.clone()),
            ("MAILGUN_API_KEY", MAILGUN_API_KEY.to_owned()),
            ("MAILGUN_DOMAIN", MAILGUN_DOMAIN.to_owned()),
            ("MAILGUN_BASE_URL", mailgun.base_url()),
            ("MAIL_FROM", worker_from(name)),
            ("WORKER_CONCURRENCY", WORKER_CONCURRENCY.to_string()),
            ("EMAIL_MAX_ATTEMPTS", "8".to_owned()),
            (
                "EMAIL_VISIBILITY_TIMEOUT_SECS",
                VISIBILITY_TIMEOUT_SECS.to_string(),
            ),
            ("EMAIL_BACKOFF_BASE_MS", "100".to_owned()),
            ("EMAIL_BACKOFF_MAX_SECS", "1".to_owned()),
            ("EMAIL_SHUTDOWN_GRACE_SECS", WORKER_GRACE_SECS.to_string()),
            (
                "TEMPLATES_DIR",
                workspace_root().join("templates").display().to_string(),
            ),
            (
                "EMAIL_OUTBOX_DIR",
                self.dir.join("mail").display().to_string(),
            ),
            ("RUST_LOG", "info".to_owned()),
            ("NO_COLOR", "1".to_owned()),
            // Many sign-ups from one address: not what these tests are about.
            ("RATE_LIMITS", "off".to_owned()),
        ])
    }

    /// Starts `email-worker` (after `configure` adjusted its environment).
    /// It needs no readiness wait: jobs wait for it in the stream.
    pub fn start_worker(
        &self,
        name: &str,
        mailgun: &FakeMailgun,
        configure: impl FnOnce(&mut Vars),
    ) -> Process {
        let mut vars = self.worker_vars(name, mailgun);
        configure(&mut vars);
        Process::spawn(name, &binary("email-worker"), &[], &vars, &self.dir)
    }

    /// Runs an `email-worker` subcommand (e.g. `dead-letters list --json`)
    /// against this deployment's queue.
    pub async fn worker_command(&self, mailgun: &FakeMailgun, args: &[&str]) -> Finished {
        let name = format!("email-worker-{}", Uuid::new_v4().simple());
        run_to_completion(
            &name,
            &binary("email-worker"),
            args,
            &self.worker_vars("operator", mailgun),
            &self.dir,
            Duration::from_secs(30),
        )
        .await
    }

    /// The outbox, stream, retry set and dead letters, as they are now.
    pub async fn queue_state(&self) -> QueueState {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            count: i64,
        }
        let mut pg = AsyncPgConnection::establish(&self.database_url)
            .await
            .expect("connect to the test database");
        let outbox: Count = diesel::sql_query("SELECT count(*) AS count FROM email_outbox")
            .get_result(&mut pg)
            .await
            .expect("count the outbox");
        let mut redis = self.redis.get().await.expect("a Redis connection");
        let (stream, retrying, dead): (usize, usize, usize) = redis_adapter::redis::pipe()
            .cmd("XLEN")
            .arg(redis_adapter::keys::email_stream(&self.redis_prefix))
            .cmd("ZCARD")
            .arg(redis_adapter::keys::email_retry(&self.redis_prefix))
            .cmd("HLEN")
            .arg(redis_adapter::keys::email_dead(&self.redis_prefix))
            .query_async(&mut redis)
            .await
            .expect("read the queue's sizes");
        QueueState {
            outbox: outbox.count,
            stream,
            retrying,
            dead,
        }
    }

    /// Polls until no email is waiting or in flight anywhere, or `limit`
    /// passes; returns the state then.
    pub async fn wait_until_settled(&self, limit: Duration) -> QueueState {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let state = self.queue_state().await;
            if state.settled() || tokio::time::Instant::now() >= deadline {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        // The database goes with the `_database` field, after this.
        crate::forget_redis_keys(self.redis_prefix.clone());
        if std::thread::panicking() {
            eprintln!("process logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A running `api-server` and a client for it.
pub struct ApiProcess {
    pub process: Process,
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub client: reqwest::Client,
}

impl ApiProcess {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn request(&self, method: Method, path: &str, token: Option<&str>) -> Response {
        let builder = self.client.request(method, self.url(path));
        let builder = match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        };
        builder.send().await.expect("the API answered")
    }

    pub async fn register(&self, username: &str, email: &str) -> Response {
        self.client
            .post(self.url("/register"))
            .json(&json!({"username": username, "email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("the API answered")
    }

    /// Registers and asserts `201`.
    pub async fn register_ok(&self, username: &str, email: &str) {
        let response = self.register(username, email).await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{} register {email}: {body}",
            self.process.name()
        );
    }

    /// Logs in (a new session) and asserts it worked.
    pub async fn login_tokens(&self, email: &str) -> Tokens {
        let response = self
            .client
            .post(self.url("/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("the API answered");
        assert_eq!(response.status(), StatusCode::OK, "login");
        let body = json_body(response).await;
        Tokens {
            access: body["access_token"].as_str().expect("access").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh").to_owned(),
        }
    }
}

/// Polls `condition` every few milliseconds until it holds; panics naming
/// `what` if it still does not after `limit`.
pub async fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A short unique tag for emails and usernames.
pub fn unique_tag() -> String {
    Uuid::new_v4().simple().to_string()[..12].to_owned()
}
