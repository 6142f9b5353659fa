//! Configuration: command-line flags that default to environment variables
//! (clap `env`), so `--help` shows every variable with its default and the
//! `docs/configuration.md#api-server` lists them. Values that can hold a secret (URLs with a
//! password, the JWT key) are read as text and checked here, so no error
//! line ever echoes them; every other problem is one line naming the
//! variable.

mod database;
mod error;
mod jwt_key;
mod public_urls;
mod rate_limits;
mod second_factor;
mod settings;
mod signing;
mod use_case_settings;

use std::net::{IpAddr, SocketAddr};

pub use public_urls::{DefaultPublicUrls, default_public_url};

use application::{
    AccountEmailSettings, PurgeSettings, ReplaySettings, SessionSettings, TokenLifetimes,
    rate_limits::RateLimitConfig,
};
use crypto_adapter::JwtSettings;
use domain::PasswordPolicy;
use http_api::client_ip::TrustedProxies;
use http_api::cors::AllowedOrigins;
use postgres_adapter::PgSettings;
use redis_adapter::{RedisEndpoint, RedisUrl};
use secrecy::SecretString;

pub use database::{DatabaseConfig, DatabaseUrl};
pub use error::ConfigError;
use error::invalid;
pub use jwt_key::{MIN_SECRET_DISTINCT_CHARS, SAMPLE_JWT_SECRET_KEY};
pub use second_factor::{SAMPLE_MFA_ENCRYPTION_KEY, SecondFactorConfig};
pub use settings::{DatabasePooler, MAX_REVOCATION_CACHE_SIZE, MAX_TOKEN_LIFETIME_SECS, Settings};
pub use signing::{KeysConfig, SAMPLE_SIGNING_KEYS_ENCRYPTION_KEY, SigningConfig, TokenAlgorithm};

/// Everything `serve` needs, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    /// Pool size, pooler mode and timeouts of PostgreSQL.
    pub pg: PgSettings,
    /// `REDIS_URL`, or `REDIS_CLUSTER_NODES` when set, with `REDIS_CA_CERT`.
    pub redis: RedisEndpoint,
    pub redis_pool_size: usize,
    /// Every Redis key starts with it; the email worker must use the same.
    pub redis_key_prefix: String,
    /// `JWT_SECRET_KEY`: signs with HMAC; with asymmetric signing, only
    /// verifies the HMAC tokens issued before (HS256), when still set.
    pub jwt_secret: Option<SecretString>,
    /// The HMAC algorithm, issuer and audience of every token.
    pub jwt: JwtSettings,
    /// Asymmetric signing (`JWT_ALGORITHM` ES256, EdDSA or RS256).
    pub signing: Option<SigningConfig>,
    /// `JWKS_MAX_AGE`: how long verifiers may cache the JWKS.
    pub jwks_max_age: std::time::Duration,
    /// `PUBLIC_API_URL`: the base of the discovery document's `jwks_uri`
    /// (default: [`default_public_url`]; always set).
    pub public_api_url: Option<String>,
    /// The keys sealing TOTP secrets, and the issuer apps show.
    pub second_factor: SecondFactorConfig,
    /// How long access and refresh tokens live.
    pub lifetimes: TokenLifetimes,
    /// Rotation, reuse interval, maximum session life, new-device email.
    pub sessions: SessionSettings,
    /// Links, lifetimes and rules of the account emails.
    pub account_emails: AccountEmailSettings,
    pub password_policy: PasswordPolicy,
    pub host: IpAddr,
    pub port: u16,
    /// Which of `PUBLIC_APP_URL` and `PUBLIC_API_URL` took their default
    /// (so [`Config::with_bound_port`] can name the port `PORT=0` got).
    pub default_urls: DefaultPublicUrls,
    /// actix workers; unset means one per core.
    pub http_workers: Option<usize>,
    /// Where `/metrics` is served; `None`: nowhere.
    pub metrics_addr: Option<SocketAddr>,
    /// Peers whose X-Forwarded-For is believed.
    pub trusted_proxies: TrustedProxies,
    /// Browser origins allowed to call the API (CORS).
    pub cors_allowed_origins: AllowedOrigins,
    /// Every rate limit; `None`: `RATE_LIMITS=off`.
    pub rate_limits: Option<RateLimitConfig>,
    /// Revocation marks cached per instance; 0: no cache.
    pub revocation_cache_size: usize,
    /// How often each instance writes the queued revocation marks.
    pub revocation_replay: ReplaySettings,
    /// How often, and how far back, each instance purges ended data.
    pub purge: PurgeSettings,
    /// `REDIS_WAIT_REPLICAS`: replicas that must have an email job before
    /// its outbox row is deleted.
    pub redis_wait_replicas: u32,
}

impl Config {
    pub fn load(settings: &Settings) -> Result<Self, ConfigError> {
        let database = DatabaseConfig::load(settings)?;
        let redis = redis_endpoint(settings)?;
        if !redis_adapter::keys::valid_prefix(&settings.redis_key_prefix) {
            // Its braces would be the hash tag of every key (docs/redis.md#key-layout).
            return Err(invalid("REDIS_KEY_PREFIX", "it must not contain '{'"));
        }
        let (hmac_algorithm, jwt_secret, signing) = match settings.jwt_algorithm {
            TokenAlgorithm::Hmac(algorithm) => {
                let secret = jwt_key::checked_key(
                    Settings::required(settings.jwt_secret_key.as_ref(), "JWT_SECRET_KEY")?,
                    algorithm,
                )?;
                (algorithm, Some(secret), None)
            }
            // The secret, when still set, verifies the HS256 tokens issued
            // before the move; it signs nothing.
            TokenAlgorithm::Asymmetric(algorithm) => {
                let hmac = crypto_adapter::JwtAlgorithm::Hs256;
                let secret = settings
                    .jwt_secret_key
                    .as_ref()
                    .map(|key| {
                        jwt_key::checked_key(secrecy::ExposeSecret::expose_secret(key), hmac)
                    })
                    .transpose()?;
                let encryption_key =
                    signing::encryption_key(settings.signing_keys_encryption_key.as_ref())?;
                (
                    hmac,
                    secret,
                    Some(SigningConfig {
                        algorithm,
                        encryption_key,
                    }),
                )
            }
        };
        let public_api_url = public_urls::set(settings.public_api_url.as_deref())
            .map(|url| {
                url::Url::parse(url)
                    .ok()
                    .filter(|parsed| matches!(parsed.scheme(), "http" | "https"))
                    .map(|_| url.trim_end_matches('/').to_owned())
                    .ok_or_else(|| invalid("PUBLIC_API_URL", "must be an http(s) URL"))
            })
            .transpose()?;
        let default_urls = DefaultPublicUrls {
            app: public_urls::set(settings.public_app_url.as_deref()).is_none(),
            api: public_api_url.is_none(),
        };
        let public_api_url = Some(
            public_api_url.unwrap_or_else(|| default_public_url(settings.host, settings.port)),
        );
        let second_factor = SecondFactorConfig::check(
            settings.mfa_encryption_key.as_ref(),
            settings.mfa_encryption_key_previous.as_ref(),
            &settings
                .mfa_issuer
                .clone()
                .unwrap_or_else(|| second_factor::default_issuer(&settings.jwt_issuer)),
        )?;
        let account_emails = settings.account_email_settings()?;
        let password_policy = PasswordPolicy::new(settings.password_min_length)
            .ok_or_else(|| invalid("PASSWORD_MIN_LENGTH", "out of range"))?;
        Ok(Self {
            database_url: database.database_url,
            pg: database.pg,
            redis,
            redis_pool_size: settings.redis_pool_size as usize,
            redis_key_prefix: settings.redis_key_prefix.clone(),
            jwt_secret,
            signing,
            jwks_max_age: std::time::Duration::from_secs(settings.jwks_max_age),
            public_api_url,
            second_factor,
            jwt: JwtSettings {
                algorithm: hmac_algorithm,
                issuer: settings.jwt_issuer.trim().to_owned(),
                audience: settings.jwt_audience.trim().to_owned(),
            },
            lifetimes: settings.token_lifetimes()?,
            sessions: settings.session_settings()?,
            account_emails,
            password_policy,
            host: settings.host,
            port: settings.port,
            default_urls,
            http_workers: settings.http_workers,
            metrics_addr: settings.metrics_addr,
            trusted_proxies: settings.trusted_proxies.clone(),
            cors_allowed_origins: settings.cors_allowed_origins.clone(),
            rate_limits: settings.rate_limits.load()?,
            revocation_cache_size: settings.revocation_cache_size as usize,
            revocation_replay: ReplaySettings {
                interval: std::time::Duration::from_secs(settings.revocation_replay_interval),
                ..ReplaySettings::default()
            },
            purge: settings.purge_settings()?,
            redis_wait_replicas: settings.redis_wait_replicas,
        })
    }

    /// [`Settings::from_lookup`] then [`Config::load`].
    /// This configuration once the server is bound to `port`: defaulted
    /// public URLs name it (it differs from `PORT` only when that is 0).
    pub fn with_bound_port(&self, port: u16) -> Config {
        let mut config = self.clone();
        let base = default_public_url(self.host, port);
        if self.default_urls.app {
            config.account_emails.public_app_url = base.clone();
        }
        if self.default_urls.api {
            config.public_api_url = Some(base);
        }
        config
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::load(&Settings::from_lookup(lookup)?)
    }
}

/// `REDIS_CLUSTER_NODES` when set (then `REDIS_URL` is not read), else
/// `REDIS_URL`; either with the CA of `REDIS_CA_CERT`.
fn redis_endpoint(settings: &Settings) -> Result<RedisEndpoint, ConfigError> {
    use secrecy::ExposeSecret;

    let nodes = settings
        .redis_cluster_nodes
        .as_ref()
        .map(|nodes| nodes.expose_secret().trim())
        .filter(|nodes| !nodes.is_empty());
    let endpoint = match nodes {
        Some(nodes) => RedisEndpoint::cluster(
            RedisEndpoint::parse_cluster_nodes(nodes)
                .map_err(|error| invalid("REDIS_CLUSTER_NODES", error.to_string()))?,
        ),
        None => RedisEndpoint::single(
            Settings::required(settings.redis_url.as_ref(), "REDIS_URL")?
                .parse::<RedisUrl>()
                .map_err(|error| invalid("REDIS_URL", error.to_string()))?,
        ),
    };
    let Some(path) = settings
        .redis_ca_cert
        .as_deref()
        .map(str::trim)
        .filter(|path| !path.is_empty())
    else {
        return Ok(endpoint);
    };
    let pem = std::fs::read(path)
        .map_err(|error| invalid("REDIS_CA_CERT", format!("cannot read {path}: {error}")))?;
    endpoint
        .with_ca_cert(pem)
        .map_err(|error| invalid("REDIS_CA_CERT", format!("{path}: {error}")))
}

#[cfg(test)]
mod tests;
