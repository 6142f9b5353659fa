//! [`spawn_app`]: the real server on a random port, with a database and a
//! Redis key prefix of its own, and the [`TestApp`] handle tests drive it by.

use std::collections::BTreeMap;
use std::time::Duration;

use api_server::config::DatabaseUrl;
use api_server::{Application, Config, DatabaseConfig};
use deadpool_redis::redis;
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use test_support::TestDatabase;

use crate::{PASSWORD, REDIS_URL, REQUEST_TIMEOUT, json_body};

/// The environment the app is configured from, before it starts. Tests
/// change it through [`spawn_app_with`].
#[derive(Debug, Clone)]
pub struct TestSettings {
    vars: BTreeMap<&'static str, String>,
    database_name: String,
    /// Create and migrate the test's database before starting; off when a
    /// test points the app at a server that is down on purpose.
    pub create_database: bool,
}

impl TestSettings {
    pub fn set(&mut self, name: &'static str, value: impl Into<String>) -> &mut Self {
        self.vars.insert(name, value.into());
        self
    }

    /// Leaves `name` unset, as if the variable were not there.
    pub fn unset(&mut self, name: &'static str) -> &mut Self {
        self.vars.remove(name);
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Reach the test's database through another port of 127.0.0.1 (a
    /// [`TcpProxy`] in front of PostgreSQL, say). It is still created and
    /// migrated directly.
    pub fn database_port(&mut self, port: u16) -> &mut Self {
        let url = format!(
            "postgres://postgres@127.0.0.1:{port}/{}",
            self.database_name
        );
        self.set("DATABASE_URL", url)
    }

    /// Point the app at a PostgreSQL that does not answer (a closed port)
    /// and create no database.
    pub fn postgres_down(&mut self) -> &mut Self {
        self.create_database = false;
        self.set("DATABASE_URL", CLOSED_POSTGRES_URL)
    }

    /// Point the app at a Redis that does not answer (a closed port).
    pub fn redis_down(&mut self) -> &mut Self {
        self.set("REDIS_URL", CLOSED_REDIS_URL)
    }
}

/// Nothing listens on port 1: connections are refused at once.
pub const CLOSED_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:1/unreachable";
pub const CLOSED_REDIS_URL: &str = "redis://127.0.0.1:1";

/// A running server and what a test needs to talk to it and look behind it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    /// The test's database on the real server, whatever route the app
    /// takes to it.
    pub database_url: String,
    pub redis_prefix: String,
    pub jwt_secret: String,
    /// A connection pool to the real Redis, for inspection.
    pub redis: deadpool_redis::Pool,
    /// The metrics listener's port, when `METRICS_ADDR` was set.
    pub metrics_port: Option<u16>,
    /// Set when this harness created the database and so drops it.
    owned_database: Option<TestDatabase>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A registered user and the password it was registered with.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password: String,
}

/// The tokens of one login session.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// Starts the app with the default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A second instance of `app`'s deployment: the same database, Redis key
/// prefix and JWT key, its own port (and nothing to drop when it stops).
pub async fn spawn_peer(app: &TestApp, configure: impl FnOnce(&mut TestSettings)) -> TestApp {
    let database_url = app.database_url.clone();
    let prefix = app.redis_prefix.clone();
    let secret = app.jwt_secret.clone();
    spawn_app_with(move |settings| {
        settings.create_database = false;
        settings
            .set("DATABASE_URL", database_url)
            .set("REDIS_KEY_PREFIX", prefix)
            .set("JWT_SECRET_KEY", secret);
        configure(settings);
    })
    .await
}

/// Starts the app after `configure` adjusted the settings. The test's own
/// database is created and migrated first unless `create_database` is off.
pub async fn spawn_app_with(configure: impl FnOnce(&mut TestSettings)) -> TestApp {
    let id = Uuid::new_v4().simple().to_string();
    let database = TestDatabase::named("it_", "");
    let database_name = database.name().to_owned();
    let database_url = database.url.clone();
    let redis_prefix = test_support::redis_prefix_for("it");
    let jwt_secret = format!("integration-test-secret-{id}");

    let mut settings = TestSettings {
        vars: BTreeMap::from([
            ("DATABASE_URL", database_url.clone()),
            ("REDIS_URL", REDIS_URL.to_owned()),
            ("REDIS_KEY_PREFIX", redis_prefix.clone()),
            ("JWT_SECRET_KEY", jwt_secret.clone()),
            (
                "MFA_ENCRYPTION_KEY",
                test_support::MFA_ENCRYPTION_KEY.to_owned(),
            ),
            ("HOST", "127.0.0.1".to_owned()),
            ("PORT", "0".to_owned()),
            ("HTTP_WORKERS", "1".to_owned()),
            // Tests that are about rate limits turn them on.
            ("RATE_LIMITS", "off".to_owned()),
        ]),
        database_name: database_name.clone(),
        create_database: true,
    };
    configure(&mut settings);

    let owned_database = if settings.create_database {
        database.create().await;
        Some(database)
    } else {
        database.disown();
        None
    };

    let vars = settings.vars.clone();
    let config = Config::from_lookup(move |name: &str| vars.get(name).cloned())
        .expect("valid test configuration");
    let application = Application::build(&config).await.expect("the app starts");
    let port = application.port();
    let metrics_port = application.metrics_port();
    let server = tokio::spawn(application.run_until_stopped());

    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client");
    let redis = deadpool_redis::Config::from_url(REDIS_URL)
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .expect("a Redis pool");

    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client,
        database_url,
        redis_prefix,
        jwt_secret: settings
            .get("JWT_SECRET_KEY")
            .unwrap_or(&jwt_secret)
            .to_owned(),
        redis,
        metrics_port,
        owned_database,
        server,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request with an optional bearer token.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token)
            .send()
            .await
            .expect("GET answered")
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::DELETE, path, token)
            .send()
            .await
            .expect("DELETE answered")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path, None)
            .json(body)
            .send()
            .await
            .expect("POST answered")
    }

    /// A POST without a body, as `/refresh` and `/logout` take.
    pub async fn post_with_token(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::POST, path, token)
            .send()
            .await
            .expect("POST answered")
    }

    pub async fn register(&self, username: &str, email: &str, password: &str) -> Response {
        self.post_json(
            "/register",
            &json!({"username": username, "email": email, "password": password}),
        )
        .await
    }

    /// Registers a new user with a unique email and asserts it worked.
    pub async fn register_user(&self) -> TestUser {
        let tag = &Uuid::new_v4().simple().to_string()[..12];
        let username = format!("user-{tag}");
        let email = format!("{tag}@example.com");
        let response = self.register(&username, &email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CREATED, "register");
        let body = json_body(response).await;
        TestUser {
            id: body["user"]["id"].as_i64().expect("user id"),
            username,
            email,
            password: PASSWORD.to_owned(),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json("/login", &json!({"email": email, "password": password}))
            .await
    }

    /// Logs `user` in (a new session) and asserts it worked.
    pub async fn login_tokens(&self, user: &TestUser) -> Tokens {
        let response = self.login(&user.email, &user.password).await;
        assert_eq!(response.status(), StatusCode::OK, "login");
        let body = json_body(response).await;
        Tokens {
            access: body["access_token"].as_str().expect("access").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh").to_owned(),
        }
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_with_token("/refresh", Some(refresh_token)).await
    }

    /// Exchanges a refresh token for a (non-fresh) access token.
    pub async fn refreshed_access(&self, refresh_token: &str) -> String {
        let response = self.refresh(refresh_token).await;
        assert_eq!(response.status(), StatusCode::OK, "refresh");
        json_body(response).await["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    pub async fn logout(&self, refresh_token: &str) -> Response {
        self.post_with_token("/logout", Some(refresh_token)).await
    }

    /// `POST /logout` with `{"scope": scope}`.
    pub async fn logout_scope(&self, refresh_token: &str, scope: &str) -> Response {
        self.request(Method::POST, "/logout", Some(refresh_token))
            .json(&json!({ "scope": scope }))
            .send()
            .await
            .expect("POST /logout answered")
    }

    /// Rotates a refresh token: the new access and refresh tokens.
    pub async fn rotated(&self, refresh_token: &str) -> Tokens {
        let response = self.refresh(refresh_token).await;
        assert_eq!(response.status(), StatusCode::OK, "refresh");
        let body = json_body(response).await;
        Tokens {
            access: body["access_token"]
                .as_str()
                .expect("access token")
                .to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("a rotated refresh token")
                .to_owned(),
        }
    }

    /// Gives the user the admin role, as `make-admin --force` does (test
    /// users have not verified their address).
    pub async fn make_admin(&self, email: &str) {
        let config = DatabaseConfig {
            database_url: DatabaseUrl::parse(&self.database_url).expect("a database URL"),
            migration_url: None,
            pg: postgres_adapter::PgSettings::default(),
        };
        api_server::make_admin(&config, email, true)
            .await
            .expect("make admin");
    }

    pub fn email_stream(&self) -> String {
        redis_adapter::keys::email_stream(&self.redis_prefix)
    }

    /// Every job in this app's email stream, oldest first, as JSON (each
    /// checked to be readable by the worker's `EmailJob::from_json`).
    pub async fn email_jobs(&self) -> Vec<Value> {
        let mut conn = self.redis.get().await.expect("a Redis connection");
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.email_stream())
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .expect("XRANGE");
        reply
            .ids
            .iter()
            .map(|entry| {
                let raw: String = entry
                    .get(redis_adapter::keys::EMAIL_JOB_FIELD)
                    .expect("the job field");
                application::EmailJob::from_json(&raw).expect("a job the worker can read");
                serde_json::from_str(&raw).expect("JSON")
            })
            .collect()
    }

    /// Polls the email stream until it holds at least `count` jobs or
    /// `limit` passes; returns what it holds then.
    pub async fn wait_for_email_jobs(&self, count: usize, limit: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let jobs = self.email_jobs().await;
            if jobs.len() >= count || tokio::time::Instant::now() >= deadline {
                return jobs;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Rows waiting in the transactional outbox.
    /// The `value` column of a one-row query on the test's database.
    pub async fn query_scalar(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = BigInt)]
            value: i64,
        }
        let mut conn = AsyncPgConnection::establish(&self.database_url)
            .await
            .expect("connect to the test database");
        let row: Row = diesel::sql_query(sql)
            .get_result(&mut conn)
            .await
            .expect("query the test database");
        row.value
    }

    /// Deletes every Redis key of this app's prefix: what a `FLUSHDB` or a
    /// restart without persistence does to it, without touching the other
    /// tests sharing the server.
    pub async fn delete_redis_keys(&self) {
        let mut conn = self.redis.get().await.expect("a Redis connection");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.redis_prefix))
            .query_async(&mut conn)
            .await
            .expect("KEYS");
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut conn)
                .await
                .expect("DEL");
        }
    }

    pub async fn outbox_len(&self) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            count: i64,
        }
        let mut conn = AsyncPgConnection::establish(&self.database_url)
            .await
            .expect("connect to the test database");
        let row: Count = diesel::sql_query("SELECT count(*) AS count FROM email_outbox")
            .get_result(&mut conn)
            .await
            .expect("count the outbox");
        row.count
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        forget_redis_keys(self.redis_prefix.clone());
        // Then the database, if this harness made it.
        self.owned_database.take();
    }
}

/// Deletes the Redis keys under `prefix`. Drop runs inside the test's
/// runtime, which cannot block on async work, so this runs on a thread with
/// a runtime of its own, and waits for it.
pub(crate) fn forget_redis_keys(prefix: String) {
    let cleanup = std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            let limit = Duration::from_secs(10);
            let _ = tokio::time::timeout(limit, delete_keys(&prefix)).await;
        });
    });
    let _ = cleanup.join();
}

async fn delete_keys(prefix: &str) {
    let Ok(pool) = deadpool_redis::Config::from_url(REDIS_URL)
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
    else {
        return;
    };
    let Ok(mut conn) = pool.get().await else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
    }
}
