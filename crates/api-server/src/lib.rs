//! Wiring of the API server: adapters in, HTTP out. `main.rs` is only the
//! command line; integration tests build the same [`Application`].

pub mod config;

use std::net::TcpListener;
use std::sync::Arc;

use application::ports::SystemClock;
use application::{Auth, AuthSettings, OutboxRelay, RelaySettings};
use http_api::crypto::{Argon2Hasher, HasherSettings, JwtCodec};
use http_api::metrics::{PoolGauge, PoolStatus};
use http_api::{AppState, ServerSettings};
use postgres_adapter::{PgEmailOutbox, PgProbe, PgSettings, PgUserRepository};
use redis_adapter::{RedisEmailQueue, RedisProbe, RedisSettings, RedisTokenRevocations};
use tokio::sync::{Notify, oneshot};

pub use config::{Config, ConfigError, DatabaseConfig};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres_adapter::PgError),
    #[error("Redis: {0}")]
    Redis(#[from] redis_adapter::RedisError),
    #[error("JWT_SECRET_KEY: {0}")]
    Jwt(#[from] http_api::crypto::JwtKeyError),
    #[error("password hasher: {0}")]
    Hasher(#[from] application::ports::HashError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

/// The API server, bound and ready to run.
pub struct Application {
    port: u16,
    server: http_api::Server,
    /// The Prometheus listener (`METRICS_ADDR`) and its port.
    metrics: Option<(u16, http_api::Server)>,
    relay: OutboxRelay,
}

impl Application {
    /// Connects nothing yet: pools open connections on first use, so the
    /// server starts (and `/health/live` answers) while a dependency is down.
    pub fn build(config: &Config) -> Result<Self, StartupError> {
        let pg_settings = PgSettings::default();
        let pg = postgres_adapter::connect(&config.database_url, &pg_settings)?;
        let redis_settings = RedisSettings::default();
        let redis = redis_adapter::connect(config.redis_url.expose(), &redis_settings)?;
        let prefix = config.redis_key_prefix.clone();

        let outbox_wakeup = Arc::new(Notify::new());
        let auth = Auth::new(
            Arc::new(PgUserRepository::new(pg.clone(), pg_settings)),
            Arc::new(RedisTokenRevocations::new(
                redis_adapter::connect_shared(config.redis_url.expose(), &redis_settings)?,
                prefix.clone(),
                redis_settings.command_timeout,
            )),
            Arc::new(Argon2Hasher::new(HasherSettings::default())?),
            Arc::new(JwtCodec::new(&config.jwt_secret, config.jwt_algorithm)?),
            Arc::new(SystemClock),
            outbox_wakeup.clone(),
            AuthSettings {
                access_ttl: chrono::Duration::seconds(config.access_ttl_secs),
                refresh_ttl: chrono::Duration::seconds(config.refresh_ttl_secs),
            },
        );
        let relay = OutboxRelay::new(
            Arc::new(PgEmailOutbox::new(pg.clone(), pg_settings)),
            Arc::new(RedisEmailQueue::new(
                redis.clone(),
                prefix,
                redis_settings.command_timeout,
            )),
            outbox_wakeup,
            RelaySettings::default(),
        );
        let pools = vec![
            PoolGauge {
                name: "postgres",
                status: Arc::new({
                    let pg = pg.clone();
                    move || {
                        let s = pg.status();
                        PoolStatus {
                            max_size: s.max_size,
                            size: s.size,
                            available: s.available,
                            waiting: s.waiting,
                        }
                    }
                }),
            },
            PoolGauge {
                name: "redis",
                status: Arc::new({
                    let redis = redis.clone();
                    move || {
                        let s = redis.status();
                        PoolStatus {
                            max_size: s.max_size,
                            size: s.size,
                            available: s.available,
                            waiting: s.waiting,
                        }
                    }
                }),
            },
        ];
        let metrics = match config.metrics_addr {
            None => None,
            Some(address) => {
                let bind_error = |source| StartupError::Bind {
                    address: address.to_string(),
                    source,
                };
                let listener = TcpListener::bind(address).map_err(bind_error)?;
                let port = listener.local_addr().map_err(bind_error)?.port();
                let server = http_api::serve_metrics(listener, pools).map_err(bind_error)?;
                Some((port, server))
            }
        };
        let state = AppState {
            auth,
            password_policy: config.password_policy,
            probes: vec![
                Arc::new(PgProbe::new(pg, pg_settings)),
                Arc::new(RedisProbe::new(redis, redis_settings.command_timeout)),
            ],
        };

        let address = format!("{}:{}", config.host, config.port);
        let bind_error = |source| StartupError::Bind {
            address: address.clone(),
            source,
        };
        let listener = TcpListener::bind((config.host, config.port)).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let server = http_api::serve(
            listener,
            state,
            ServerSettings {
                workers: config.http_workers,
                trusted_proxies: config.trusted_proxies.clone(),
                ..ServerSettings::default()
            },
        )
        .map_err(bind_error)?;
        Ok(Self {
            port,
            server,
            metrics,
            relay,
        })
    }

    /// The port of the metrics listener, when `METRICS_ADDR` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The port actually bound (useful with `PORT=0`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT (or the server is stopped), then lets
    /// in-flight requests finish and stops the outbox relay.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (stop_relay, relay_stopped) = oneshot::channel::<()>();
        let relay = tokio::spawn(self.relay.run(async {
            let _ = relay_stopped.await;
        }));
        let metrics = self.metrics.map(|(_, server)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        let served = self.server.await;
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        let _ = stop_relay.send(());
        let _ = relay.await;
        served
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres_adapter::PgError),
    #[error("{0}")]
    Repository(#[from] application::ports::RepositoryError),
    #[error("no user has the email {0}")]
    NoSuchUser(String),
}

/// Gives the user with this email the admin role.
pub async fn make_admin(config: &DatabaseConfig, email: &str) -> Result<domain::User, AdminError> {
    use application::ports::UserRepository;

    let settings = PgSettings::default();
    let pool = postgres_adapter::connect(&config.database_url, &settings)?;
    let users = PgUserRepository::new(pool, settings);
    users
        .set_role(&domain::EmailAddress::normalize(email), domain::Role::Admin)
        .await?
        .ok_or_else(|| AdminError::NoSuchUser(email.trim().to_owned()))
}
