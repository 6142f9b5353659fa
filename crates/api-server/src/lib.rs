//! Wiring of the API server: adapters in, HTTP out. `main.rs` is only the
//! command line; integration tests build the same [`Application`].
//! [`Application::build`] reads as its steps: the adapters
//! (`adapters.rs`), the rate limits (`rate_limiting.rs`), the use cases
//! (`use_cases.rs`), the metrics listener (`metrics.rs`), the server.

mod adapters;
mod admin;
mod background_tasks;
pub mod config;
mod keys;
mod listener;
mod metrics;
pub mod outbox_relay_loop;
pub mod purge_loop;
mod rate_limiting;
pub mod revocation_replay_loop;
pub mod signing_keys_loop;
mod startup_error;
mod use_cases;

use std::sync::Arc;

use application::{OutboxRelay, Purge, RevocationReplay, SigningKeys};
use http_api::ServerSettings;
use tokio::sync::oneshot;

use adapters::Adapters;
pub use admin::{AdminError, make_admin};
pub use config::{Config, ConfigError, DatabaseConfig};
pub use keys::{KeysCommand, KeysCommandError, run_keys_command};
use listener::bind;
use outbox_relay_loop::OutboxWakeup;
use rate_limiting::RateLimiting;
pub use startup_error::StartupError;

/// Stops the start when a `rediss://` server's certificate does not
/// verify, rather than failing every request; a Redis that does not answer
/// yet is no reason to stop (see `RedisEndpoint::check_tls`).
pub async fn check_redis_tls(config: &Config) -> Result<(), StartupError> {
    config
        .redis
        .check_tls(std::time::Duration::from_secs(2))
        .await
        .map_err(|source| StartupError::RedisTls {
            variables: redis_tls_variables(&config.redis),
            source,
        })
}

/// The variables a TLS failure is about, for its message.
pub fn redis_tls_variables(endpoint: &redis_adapter::RedisEndpoint) -> String {
    if endpoint.has_private_ca() {
        format!("{}, REDIS_CA_CERT", endpoint.variable())
    } else {
        format!(
            "{} (no REDIS_CA_CERT: the system's roots)",
            endpoint.variable()
        )
    }
}
use use_cases::UseCases;

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
    /// Deletes sessions and one-time secrets that ended long ago.
    purge: Purge,
    /// Keeps this instance's signing keys as the store's, when asymmetric.
    signing_keys: Option<Arc<SigningKeys>>,
}

impl Application {
    /// Connects nothing yet: pools open connections on first use, so the
    /// server starts (and `/health/live` answers) while a dependency is
    /// down. With asymmetric signing, though, the keys are read (the first
    /// one made, on a new install) before the server listens: without them
    /// no token can be signed or checked.
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        // Bound first: with `PORT=0`, defaulted public URLs name the port got.
        let address = format!("{}:{}", config.host, config.port);
        let (listener, port) = bind((config.host, config.port), address.clone())?;
        let config = &config.with_bound_port(port);
        let outbox_wakeup = OutboxWakeup::default();
        let adapters = Adapters::build(config, &outbox_wakeup)?;
        if let (Some(keys), Some(signing)) = (&adapters.signing_keys, &config.signing) {
            keys.start(signing.algorithm)
                .await
                .map_err(StartupError::SigningKeys)?;
        }
        let signing_keys = adapters.signing_keys.clone();
        let rate_limiting = RateLimiting::build(config)?;
        let use_cases = UseCases::build(config, &adapters, rate_limiting);
        let metrics = metrics::listener(config.metrics_addr, &adapters)?;

        let server = http_api::serve(
            listener,
            use_cases.state,
            ServerSettings {
                workers: config.http_workers,
                trusted_proxies: config.trusted_proxies.clone(),
                cors_allowed_origins: config.cors_allowed_origins.clone(),
                ..ServerSettings::default()
            },
        )
        .map_err(|source| StartupError::Bind { address, source })?;
        Ok(Self {
            port,
            server,
            metrics,
            relay: use_cases.relay,
            outbox_wakeup,
            replay: use_cases.replay,
            purge: use_cases.purge,
            signing_keys,
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
    /// in-flight requests finish and stops the outbox relay, the
    /// revocation mark replay and the purge.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (stop_keys, keys_stopped) = oneshot::channel::<()>();
        let keys = self.signing_keys.map(|keys| {
            tokio::spawn(signing_keys_loop::run(keys, async {
                let _ = keys_stopped.await;
            }))
        });
        let (stop_purge, purge_stopped) = oneshot::channel::<()>();
        let purge = tokio::spawn(purge_loop::run(self.purge, async {
            let _ = purge_stopped.await;
        }));
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
        let _ = stop_purge.send(());
        let _ = purge.await;
        let _ = stop_keys.send(());
        if let Some(keys) = keys {
            let _ = keys.await;
        }
        served
    }
}
