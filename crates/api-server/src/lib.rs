//! Wiring of the API server: adapters in, HTTP out. `main.rs` is only the
//! command line; integration tests build the same [`Application`].

mod background_tasks;
pub mod config;
pub mod outbox_relay_loop;
mod rate_limiting;
pub mod revocation_replay_loop;

use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::sync::Arc;

use application::ports::{
    Clock, PasswordHasher, RevocationMarkQueue, SessionRepository, SystemClock, TokenRevocations,
    UserRepository,
};
use application::{
    AccountEmailSettings, AccountPorts, Authentication, AuthenticationPorts, EmailChange,
    EmailVerification, OutboxRelay, PasswordChange, PasswordReset, RelaySettings, ReplaySettings,
    RevocationMarks, RevocationReplay, SecretMail, SessionManagement, SessionSettings,
    TokenLifetimes, UserAccounts,
};
use chrono::TimeDelta;
use crypto_adapter::{Argon2Hasher, HasherSettings, JwtCodec, RandomSecrets};
use http_api::metrics::{PoolGauge, PoolStatus, RevocationCacheGauge, RevocationCacheStatus};
use http_api::{AppState, ServerSettings};
use postgres_adapter::{
    PgEmailOutbox, PgOneTimeSecretStore, PgProbe, PgRevocationMarkQueue, PgSessionRepository,
    PgSettings, PgUserRepository,
};
use redis_adapter::{
    RedisEmailQueue, RedisProbe, RedisSettings, RedisTokenRevocations, RevocationCacheSettings,
};
use tokio::sync::oneshot;

use background_tasks::TokioBackgroundTasks;
pub use config::{AccountEmailConfig, Config, ConfigError, DatabaseConfig, SessionConfig};
use outbox_relay_loop::OutboxWakeup;
use rate_limiting::RateLimiting;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Postgres(#[from] postgres_adapter::PgError),
    #[error("Redis: {0}")]
    Redis(#[from] redis_adapter::RedisError),
    /// Names the variable itself (`JWT_SECRET_KEY`, `JWT_ISSUER`, ...).
    #[error(transparent)]
    Jwt(#[from] crypto_adapter::JwtKeyError),
    #[error(transparent)]
    Hasher(#[from] application::ports::HashError),
    #[error("{variable}: {seconds} seconds is too long a token lifetime")]
    TokenLifetime {
        variable: &'static str,
        seconds: i64,
    },
    /// The background tasks run on the runtime that builds the server.
    #[error("the API server must be built inside a tokio runtime")]
    NoRuntime(#[source] tokio::runtime::TryCurrentError),
    #[error("cannot listen on {address}")]
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
    outbox_wakeup: OutboxWakeup,
    /// Writes the revocation marks Redis could not take at the time.
    replay: RevocationReplay,
}

/// Account emails queued after their answer, at most this many at once
/// (see `TokioBackgroundTasks`).
const BACKGROUND_TASK_LIMIT: usize = 256;

/// How long an account email's task waits before it starts, so that its
/// work never competes with the answer being written (see
/// `TokioBackgroundTasks`). Short against an email's delivery time.
const BACKGROUND_TASK_START_DELAY: std::time::Duration = std::time::Duration::from_millis(10);

impl Application {
    /// Connects nothing yet: pools open connections on first use, so the
    /// server starts (and `/health/live` answers) while a dependency is down.
    pub fn build(config: &Config) -> Result<Self, StartupError> {
        let pg_settings = PgSettings::default();
        let pg = postgres_adapter::connect(&config.database_url, &pg_settings)?;
        let redis_settings = RedisSettings::default();
        let redis = redis_adapter::connect(config.redis_url.expose(), &redis_settings)?;
        let prefix = config.redis_key_prefix.clone();

        let lifetimes = token_lifetimes(config)?;
        let session_settings = session_settings(&config.sessions)?;
        let users: Arc<dyn UserRepository> =
            Arc::new(PgUserRepository::new(pg.clone(), pg_settings));
        let sessions: Arc<dyn SessionRepository> =
            Arc::new(PgSessionRepository::new(pg.clone(), pg_settings));
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let marks: Arc<dyn RevocationMarkQueue> =
            Arc::new(PgRevocationMarkQueue::new(pg.clone(), pg_settings));
        let secrets = Arc::new(PgOneTimeSecretStore::new(pg.clone(), pg_settings));
        let secret_mail = SecretMail::new(
            Arc::new(RandomSecrets),
            AccountEmailSettings {
                public_app_url: config.account_emails.public_app_url.clone(),
                verification_ttl: TimeDelta::seconds(config.account_emails.verification_ttl_secs),
                password_reset_ttl: TimeDelta::seconds(
                    config.account_emails.password_reset_ttl_secs,
                ),
                require_verified_email: config.account_emails.require_verified_email,
            },
        );
        let mut token_revocations = RedisTokenRevocations::new(
            redis_adapter::connect_shared(config.redis_url.expose(), &redis_settings)?,
            prefix.clone(),
            redis_settings.command_timeout,
        );
        if let Some(capacity) = NonZeroUsize::new(config.revocation_cache_size) {
            token_revocations = token_revocations.with_cache(
                config.redis_url.expose(),
                RevocationCacheSettings::new(capacity, &redis_settings),
            )?;
        }
        let token_revocations = Arc::new(token_revocations);
        let revocations: Arc<dyn TokenRevocations> = token_revocations.clone();
        let hasher: Arc<dyn PasswordHasher> =
            Arc::new(Argon2Hasher::new(HasherSettings::default())?);
        let outbox_wakeup = OutboxWakeup::default();
        let rate_limiting = RateLimiting::build(config)?;
        let authentication = Authentication::new(
            AuthenticationPorts {
                users: users.clone(),
                sessions: sessions.clone(),
                revocations: revocations.clone(),
                marks: marks.clone(),
                hasher: hasher.clone(),
                tokens: Arc::new(JwtCodec::new(&config.jwt_secret, config.jwt.clone())?),
                clock: clock.clone(),
                outbox: Arc::new(outbox_wakeup.clone()),
                secrets: secrets.clone(),
                mail: secret_mail.clone(),
                attempts: rate_limiting.login_attempts.clone(),
            },
            lifetimes,
            session_settings,
        );
        let account_ports = AccountPorts {
            users: users.clone(),
            sessions: sessions.clone(),
            secrets,
            revocations: revocations.clone(),
            marks: marks.clone(),
            hasher: hasher.clone(),
            clock: clock.clone(),
            outbox: Arc::new(outbox_wakeup.clone()),
            mail: secret_mail.clone(),
            lifetimes,
            // The runtime building the server (`main`'s), not an actix
            // worker's: see `TokioBackgroundTasks`.
            tasks: Arc::new(TokioBackgroundTasks::new(
                BACKGROUND_TASK_LIMIT,
                BACKGROUND_TASK_START_DELAY,
                tokio::runtime::Handle::try_current().map_err(StartupError::NoRuntime)?,
            )),
        };
        let verification = EmailVerification::new(account_ports.clone());
        let password_reset = PasswordReset::new(account_ports.clone());
        let password_change =
            PasswordChange::new(account_ports.clone(), rate_limiting.login_attempts.clone());
        let email_change = EmailChange::new(account_ports, rate_limiting.login_attempts.clone());
        let session_management = SessionManagement::new(
            users.clone(),
            sessions,
            revocations.clone(),
            marks.clone(),
            clock.clone(),
            lifetimes,
        );
        let replay = RevocationReplay::new(
            marks.clone(),
            revocations.clone(),
            clock.clone(),
            lifetimes,
            ReplaySettings {
                interval: config.revocation_replay_interval,
                ..ReplaySettings::default()
            },
        )
        .with_store_probe(Arc::new(RedisProbe::new(
            redis.clone(),
            redis_settings.command_timeout,
        )));
        let accounts = UserAccounts::new(
            users,
            RevocationMarks {
                revocations,
                queue: marks,
                lifetimes,
            },
            hasher,
            clock,
            Arc::new(outbox_wakeup.clone()),
            secret_mail,
        );
        let relay = OutboxRelay::new(
            Arc::new(PgEmailOutbox::new(pg.clone(), pg_settings)),
            Arc::new(RedisEmailQueue::new(
                redis.clone(),
                prefix,
                redis_settings.command_timeout,
            )),
            RelaySettings::default(),
        );
        let relay = rate_limiting.limit_recipients(relay);
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
                let revocation_cache = token_revocations.cache_stats().is_some().then(|| {
                    let revocations = token_revocations.clone();
                    RevocationCacheGauge {
                        status: Arc::new(move || {
                            let stats = revocations.cache_stats().unwrap_or_default();
                            RevocationCacheStatus {
                                hits: stats.hits,
                                misses: stats.misses,
                                invalidations: stats.invalidations,
                                resets: stats.resets,
                                entries: stats.entries,
                                capacity: stats.capacity,
                            }
                        }),
                    }
                });
                let server =
                    http_api::metrics::serve_metrics_with(listener, pools, revocation_cache)
                        .map_err(bind_error)?;
                Some((port, server))
            }
        };
        let state = AppState {
            authentication,
            accounts,
            sessions: session_management,
            verification,
            password_reset,
            password_change,
            email_change,
            password_policy: config.password_policy,
            probes: vec![
                Arc::new(PgProbe::new(pg, pg_settings)),
                Arc::new(RedisProbe::new(redis, redis_settings.command_timeout)),
            ],
            request_limits: rate_limiting.request_limits,
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
            outbox_wakeup,
            replay,
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
    /// in-flight requests finish and stops the outbox relay and the
    /// revocation mark replay.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (stop_replay, replay_stopped) = oneshot::channel::<()>();
        let replay = tokio::spawn(revocation_replay_loop::run(self.replay, async {
            let _ = replay_stopped.await;
        }));
        let (stop_relay, relay_stopped) = oneshot::channel::<()>();
        let relay = tokio::spawn(outbox_relay_loop::run(
            self.relay,
            self.outbox_wakeup,
            async {
                let _ = relay_stopped.await;
            },
        ));
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
        let _ = stop_replay.send(());
        let _ = replay.await;
        served
    }
}

/// The configured lifetimes as durations; a value too large for the
/// calendar (a token issued now could not say when it expires) stops the
/// start with a line naming it, instead of a panic or failing logins.
fn token_lifetimes(config: &Config) -> Result<TokenLifetimes, StartupError> {
    let lifetime = |variable: &'static str, seconds: i64| {
        TimeDelta::try_seconds(seconds)
            .filter(|lifetime| chrono::Utc::now().checked_add_signed(*lifetime).is_some())
            .ok_or(StartupError::TokenLifetime { variable, seconds })
    };
    Ok(TokenLifetimes {
        access: lifetime("JWT_ACCESS_TOKEN_EXPIRES", config.access_ttl_secs)?,
        refresh: lifetime("JWT_REFRESH_TOKEN_EXPIRES", config.refresh_ttl_secs)?,
    })
}

fn session_settings(config: &SessionConfig) -> Result<SessionSettings, StartupError> {
    let max_lifetime = TimeDelta::try_seconds(config.max_lifetime_secs)
        .filter(|lifetime| chrono::Utc::now().checked_add_signed(*lifetime).is_some())
        .ok_or(StartupError::TokenLifetime {
            variable: "SESSION_MAX_LIFETIME",
            seconds: config.max_lifetime_secs,
        })?;
    Ok(SessionSettings {
        rotation: config.rotation,
        reuse_interval: TimeDelta::seconds(config.reuse_interval_secs.clamp(0, 3600)),
        max_lifetime,
        notify_new_device: config.notify_new_device,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Postgres(#[from] postgres_adapter::PgError),
    #[error(transparent)]
    Repository(#[from] application::ports::RepositoryError),
    #[error("no user has the email {0}")]
    NoSuchUser(String),
    /// Anyone can register any address: an unverified one proves nothing.
    #[error("{0} has not verified its email address; pass --force to promote it anyway")]
    Unverified(String),
}

/// Gives the user with this email the admin role.
/// An unverified account is refused unless `force`: anyone can register
/// any address, so an unverified `admin@company.example` may be a squatter.
pub async fn make_admin(
    config: &DatabaseConfig,
    email: &str,
    force: bool,
) -> Result<domain::User, AdminError> {
    use application::ports::UserRepository;

    let settings = PgSettings::default();
    let pool = postgres_adapter::connect(&config.database_url, &settings)?;
    let users = PgUserRepository::new(pool, settings);
    let no_such_user = || AdminError::NoSuchUser(email.trim().to_owned());
    // An address that does not parse cannot belong to any account.
    let address = domain::EmailAddress::parse(email).map_err(|_| no_such_user())?;
    let user = users
        .find_by_email(&address.normalized())
        .await?
        .ok_or_else(no_such_user)?;
    if !user.email_verified && !force {
        return Err(AdminError::Unverified(user.email.as_str().to_owned()));
    }
    users
        .set_role(&address.normalized(), domain::Role::Admin)
        .await?
        .ok_or_else(no_such_user)
}
