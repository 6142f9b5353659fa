//! The worker's settings, checked once into the types the adapters and
//! the runner take: [`QueueConfig`] for every command (the dead-letter
//! ones need nothing else), [`Config`] for `run`. Nothing here connects or
//! builds an adapter; `adapters.rs` does. No message echoes a value that
//! may hold a secret.

use std::net::SocketAddr;
use std::time::Duration;

use application::delivery::RetryPolicy;
use mailgun_adapter::MailgunConfig;
use redis_adapter::{ClusterNodesError, RedisEndpoint, RedisUrlError};
use secrecy::{ExposeSecret, SecretString};
use worker::RunnerSettings;

use crate::cli::Settings;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("REDIS_URL is required (e.g. redis://127.0.0.1:6379)")]
    MissingRedisUrl,
    /// The reason never contains the URL, which may hold a password.
    #[error("REDIS_URL is malformed: {0}")]
    RedisUrl(RedisUrlError),
    #[error("REDIS_CLUSTER_NODES is malformed: {0}")]
    RedisClusterNodes(ClusterNodesError),
    /// The path and what is wrong with the file.
    #[error("REDIS_CA_CERT is invalid: {0}")]
    RedisCaCert(String),
    /// Its braces would be the hash tag of every key (docs/redis.md#key-layout).
    #[error("REDIS_KEY_PREFIX is invalid: it must not contain '{{'")]
    RedisKeyPrefix,
    #[error("MAILGUN_DOMAIN is required when MAILGUN_API_KEY is set")]
    MissingMailgunDomain,
    #[error("MAILGUN_BASE_URL is malformed")]
    MailgunBaseUrl(#[source] url::ParseError),
    #[error("MAILGUN_BASE_URL is malformed: it must be an http(s) URL")]
    MailgunBaseUrlScheme,
}

/// Where the queue lives and how it keeps jobs.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// `REDIS_URL`, or `REDIS_CLUSTER_NODES` when set, with `REDIS_CA_CERT`.
    /// Its `Debug` hides passwords.
    pub redis: RedisEndpoint,
    pub redis_pool_size: usize,
    /// Must match the API's.
    pub key_prefix: String,
    pub visibility_timeout: Duration,
    pub dead_letter_retention: Duration,
    pub dead_letter_max: usize,
}

impl QueueConfig {
    pub fn load(settings: &Settings) -> Result<Self, ConfigError> {
        let redis = redis_endpoint(settings)?;
        if !redis_adapter::keys::valid_prefix(&settings.redis_key_prefix) {
            return Err(ConfigError::RedisKeyPrefix);
        }
        Ok(Self {
            redis,
            redis_pool_size: settings.redis_pool_size as usize,
            key_prefix: settings.redis_key_prefix.clone(),
            visibility_timeout: Duration::from_secs(settings.email_visibility_timeout_secs),
            dead_letter_retention: settings.email_dead_letter_retention,
            dead_letter_max: usize::try_from(settings.email_dead_letter_max).unwrap_or(usize::MAX),
        })
    }
}

/// `REDIS_CLUSTER_NODES` when set (then `REDIS_URL` is not read), else
/// `REDIS_URL`; either with the CA of `REDIS_CA_CERT`.
fn redis_endpoint(settings: &Settings) -> Result<RedisEndpoint, ConfigError> {
    let secret = |value: &Option<SecretString>| {
        value
            .as_ref()
            .map(|value| value.expose_secret().trim().to_owned())
            .filter(|value| !value.is_empty())
    };
    let endpoint = match secret(&settings.redis_cluster_nodes) {
        Some(nodes) => RedisEndpoint::cluster(
            RedisEndpoint::parse_cluster_nodes(&nodes).map_err(ConfigError::RedisClusterNodes)?,
        ),
        None => {
            let url = secret(&settings.redis_url).ok_or(ConfigError::MissingRedisUrl)?;
            RedisEndpoint::single(url.parse().map_err(ConfigError::RedisUrl)?)
        }
    };
    let path = settings.redis_ca_cert.as_deref().map(str::trim);
    let Some(path) = path.filter(|path| !path.is_empty()) else {
        return Ok(endpoint);
    };
    let pem = std::fs::read(path)
        .map_err(|error| ConfigError::RedisCaCert(format!("cannot read {path}: {error}")))?;
    endpoint
        .with_ca_cert(pem)
        .map_err(|error| ConfigError::RedisCaCert(format!("{path}: {error}")))
}

/// How emails leave the worker.
#[derive(Debug, Clone)]
pub enum MailerConfig {
    /// Development mode (no `MAILGUN_API_KEY`): each email is written
    /// under `dir` instead of being sent.
    Files { dir: String, from: String },
    /// Its `Debug` hides the API key.
    Mailgun(MailgunConfig),
}

impl MailerConfig {
    /// A send must end well before the job can be taken over by another
    /// worker, or the same email could go out twice: the Mailgun timeout
    /// is at most half of `visibility_timeout`.
    fn load(settings: &Settings, visibility_timeout: Duration) -> Result<Self, ConfigError> {
        let api_key = settings
            .mailgun_api_key
            .as_ref()
            .map(|key| key.expose_secret().trim())
            .filter(|key| !key.is_empty());
        let Some(api_key) = api_key else {
            return Ok(MailerConfig::Files {
                dir: settings.email_outbox_dir.clone(),
                from: settings.mail_from.clone(),
            });
        };
        let domain = settings
            .mailgun_domain
            .as_deref()
            .map(str::trim)
            .filter(|domain| !domain.is_empty())
            .ok_or(ConfigError::MissingMailgunDomain)?;
        let base =
            url::Url::parse(&settings.mailgun_base_url).map_err(ConfigError::MailgunBaseUrl)?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ConfigError::MailgunBaseUrlScheme);
        }
        let mut config = MailgunConfig::new(
            domain.to_owned(),
            SecretString::from(api_key),
            settings.mail_from.clone(),
        );
        config.base_url = settings.mailgun_base_url.clone();
        config.timeout = config.timeout.min(visibility_timeout / 2);
        Ok(MailerConfig::Mailgun(config))
    }
}

/// Everything `run` needs, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub queue: QueueConfig,
    pub mailer: MailerConfig,
    /// Holds email/<kind>.html and email/<kind>.txt.
    pub templates_dir: String,
    pub retry: RetryPolicy,
    pub runner: RunnerSettings,
    /// The operator listener's address; `None`: no listener.
    pub worker_http_addr: Option<SocketAddr>,
}

impl Config {
    /// Checks `REDIS_URL` first, then the Mailgun variables.
    pub fn load(settings: &Settings) -> Result<Self, ConfigError> {
        let queue = QueueConfig::load(settings)?;
        let mailer = MailerConfig::load(settings, queue.visibility_timeout)?;
        let runner = RunnerSettings {
            concurrency: usize::from(settings.worker_concurrency),
            // Look for abandoned jobs a few times per visibility timeout.
            claim_interval: (queue.visibility_timeout / 4).max(Duration::from_secs(1)),
            shutdown_grace: Duration::from_secs(settings.email_shutdown_grace_secs),
            ..RunnerSettings::default()
        };
        Ok(Self {
            queue,
            mailer,
            templates_dir: settings.templates_dir.clone(),
            retry: RetryPolicy {
                max_attempts: settings.email_max_attempts,
                base_delay: Duration::from_millis(settings.email_backoff_base_ms),
                max_delay: Duration::from_secs(settings.email_backoff_max_secs),
                ..RetryPolicy::default()
            },
            runner,
            worker_http_addr: settings.worker_http_addr,
        })
    }
}

#[cfg(test)]
mod tests;
