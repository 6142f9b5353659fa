//! The flags and variables as given, before any check.

use std::net::{IpAddr, SocketAddr};

use clap::builder::TypedValueParser;
use clap::{CommandFactory, FromArgMatches};
use crypto_adapter::JwtSettings;
use domain::PasswordPolicy;
use http_api::client_ip::TrustedProxies;
use http_api::cors::AllowedOrigins;
use secrecy::{ExposeSecret, SecretString};

use super::error::ConfigError;
use super::rate_limits;
use super::signing::TokenAlgorithm;

/// The longest token lifetime accepted: ten years. Anything longer is a
/// typo, and bounding it keeps every expiry computation in range.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 10 * 365 * 24 * 3600;

/// Every setting of the API server, as given: each flag falls back to the
/// environment variable of the same name. Checked into a [`Config`] (for
/// `serve`) or a [`DatabaseConfig`] (for `migrate`, `make-admin`). Its
/// `Debug` shows no secret: the values that may hold one (the JWT key,
/// URLs with a password) are [`SecretString`]s. They are checked after
/// clap, never by it, as clap would echo a value it refused.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// postgres://user:password@host:5432/name
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub(super) database_url: Option<SecretString>,
    /// postgres://... for `migrate` only: a direct connection when
    /// DATABASE_URL goes through a pooler; unset: DATABASE_URL
    #[arg(
        long,
        env = "DATABASE_MIGRATION_URL",
        hide_env_values = true,
        global = true
    )]
    pub(super) database_migration_url: Option<SecretString>,
    /// What sits between the API and PostgreSQL; `transaction` for
    /// PgBouncer in pool_mode=transaction
    #[arg(
        long,
        env = "DATABASE_POOLER",
        value_enum,
        default_value_t,
        global = true
    )]
    pub(super) database_pooler: DatabasePooler,
    /// PostgreSQL connections each process opens at most
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1000).map(usize::from), global = true)]
    pub(super) database_pool_size: usize,
    /// redis://host:6379 (rediss:// for TLS)
    #[arg(long, env = "REDIS_URL", hide_env_values = true, global = true)]
    pub(super) redis_url: Option<SecretString>,
    /// host:port,host:port,... of a Redis Cluster, instead of REDIS_URL
    #[arg(
        long,
        env = "REDIS_CLUSTER_NODES",
        hide_env_values = true,
        global = true
    )]
    pub(super) redis_cluster_nodes: Option<SecretString>,
    /// PEM file of the CA that signs Redis's TLS certificate (default: the system's roots)
    #[arg(long, env = "REDIS_CA_CERT", global = true)]
    pub(super) redis_ca_cert: Option<String>,
    /// Pooled Redis connections per instance (each multiplexed)
    #[arg(long, env = "REDIS_POOL_SIZE", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=1024), global = true)]
    pub(super) redis_pool_size: u32,
    /// Prefix of every Redis key; the email worker must use the same
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = redis_adapter::keys::DEFAULT_PREFIX, global = true)]
    pub(super) redis_key_prefix: String,
    /// HMAC key: at least 32 bytes for HS256, 48 for HS384, 64 for HS512
    #[arg(long, env = "JWT_SECRET_KEY", hide_env_values = true, global = true)]
    pub(super) jwt_secret_key: Option<SecretString>,
    /// HS256, HS384, HS512 (with JWT_SECRET_KEY), or ES256, EdDSA, RS256
    /// (keys in PostgreSQL, sealed with SIGNING_KEYS_ENCRYPTION_KEY)
    #[arg(long, env = "JWT_ALGORITHM", default_value = "HS256", global = true)]
    pub(super) jwt_algorithm: TokenAlgorithm,
    /// 32 bytes, base64: seals the private signing keys (ES256, EdDSA, RS256)
    #[arg(
        long,
        env = "SIGNING_KEYS_ENCRYPTION_KEY",
        hide_env_values = true,
        global = true
    )]
    pub(super) signing_keys_encryption_key: Option<SecretString>,
    /// 32 bytes, base64: seals the TOTP secrets of two-factor authentication
    #[arg(
        long,
        env = "MFA_ENCRYPTION_KEY",
        hide_env_values = true,
        global = true
    )]
    pub(super) mfa_encryption_key: Option<SecretString>,
    /// The MFA_ENCRYPTION_KEY before the current one: still opens the
    /// secrets it sealed, so the key can rotate
    #[arg(
        long,
        env = "MFA_ENCRYPTION_KEY_PREVIOUS",
        hide_env_values = true,
        global = true
    )]
    pub(super) mfa_encryption_key_previous: Option<SecretString>,
    /// The issuer name authenticator apps show beside the account (default: JWT_ISSUER)
    #[arg(long, env = "MFA_ISSUER", global = true)]
    pub(super) mfa_issuer: Option<String>,
    /// Seconds verifiers may cache the JWKS
    #[arg(long, env = "JWKS_MAX_AGE", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(0..=86_400), global = true)]
    pub(super) jwks_max_age: u64,
    /// This API's public base URL (https://auth.example.com), for the
    /// discovery document's jwks_uri; unset: http://{HOST}:{PORT}
    #[arg(long, env = "PUBLIC_API_URL", global = true)]
    pub(super) public_api_url: Option<String>,
    /// The `iss` claim of every token; tokens naming another are refused
    #[arg(long, env = "JWT_ISSUER", default_value = JwtSettings::DEFAULT_ISSUER, global = true)]
    pub(super) jwt_issuer: String,
    /// The `aud` claim of every token; tokens for another audience are refused
    #[arg(long, env = "JWT_AUDIENCE", default_value = JwtSettings::DEFAULT_AUDIENCE, global = true)]
    pub(super) jwt_audience: String,
    /// Access token lifetime, seconds
    #[arg(long, env = "JWT_ACCESS_TOKEN_EXPIRES", default_value_t = 300,
          value_parser = clap::value_parser!(i64).range(1..=MAX_TOKEN_LIFETIME_SECS), global = true)]
    pub(super) jwt_access_token_expires: i64,
    /// Refresh token lifetime, seconds
    #[arg(long, env = "JWT_REFRESH_TOKEN_EXPIRES", default_value_t = 2_592_000,
          value_parser = clap::value_parser!(i64).range(1..=MAX_TOKEN_LIFETIME_SECS), global = true)]
    pub(super) jwt_refresh_token_expires: i64,
    /// Each refresh hands out a new refresh token and retires the old one;
    /// false: v1 behaviour (one refresh token per session)
    #[arg(long, env = "REFRESH_TOKEN_ROTATION", default_value_t = true,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(),
          global = true)]
    pub(super) refresh_token_rotation: bool,
    /// Seconds the refresh token just superseded is still honoured (its
    /// reuse after that revokes the session)
    #[arg(long, env = "REFRESH_REUSE_INTERVAL", default_value_t = 10,
          value_parser = clap::value_parser!(i64).range(0..=3600), global = true)]
    pub(super) refresh_reuse_interval: i64,
    /// Seconds after its login that a session dies however active it is
    #[arg(long, env = "SESSION_MAX_LIFETIME", default_value_t = 7_776_000,
          value_parser = clap::value_parser!(i64).range(1..=MAX_TOKEN_LIFETIME_SECS), global = true)]
    pub(super) session_max_lifetime: i64,
    /// Email the user when a login comes from a device (user agent and IP
    /// /24 or /64) none of its sessions of the last 90 days used
    #[arg(long, env = "NOTIFY_NEW_DEVICE_LOGIN", default_value_t = true,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(),
          global = true)]
    pub(super) notify_new_device_login: bool,
    /// The front end links in emails point at (`/verify-email#token=...`);
    /// unset: this API's own pages, at http://{HOST}:{PORT}
    #[arg(long, env = "PUBLIC_APP_URL", global = true)]
    pub(super) public_app_url: Option<String>,
    /// Seconds an email-verification link and code live
    #[arg(long, env = "EMAIL_VERIFICATION_TTL", default_value_t = 86_400,
          value_parser = clap::value_parser!(i64).range(60..=MAX_TOKEN_LIFETIME_SECS), global = true)]
    pub(super) email_verification_ttl: i64,
    /// Seconds a password-reset link and code live
    #[arg(long, env = "PASSWORD_RESET_TTL", default_value_t = 3_600,
          value_parser = clap::value_parser!(i64).range(60..=MAX_TOKEN_LIFETIME_SECS), global = true)]
    pub(super) password_reset_ttl: i64,
    /// Refuse logins of accounts whose email address is not verified
    #[arg(long, env = "REQUIRE_VERIFIED_EMAIL", default_value_t = false,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(),
          global = true)]
    pub(super) require_verified_email: bool,
    /// Minimum password length in characters (the maximum is 128)
    #[arg(long, env = "PASSWORD_MIN_LENGTH", default_value_t = PasswordPolicy::DEFAULT_MIN_CHARS,
          value_parser = clap::value_parser!(u8).range(1..=PasswordPolicy::MAX_CHARS as i64).map(usize::from),
          global = true)]
    pub(super) password_min_length: usize,
    /// Address the API listens on
    #[arg(long, env = "HOST", default_value = "127.0.0.1", global = true)]
    pub(super) host: IpAddr,
    /// Port the API listens on (0: any free port)
    #[arg(long, env = "PORT", default_value_t = 5000, global = true)]
    pub(super) port: u16,
    /// actix worker threads; unset: one per core
    #[arg(long, env = "HTTP_WORKERS", value_parser = clap::value_parser!(u16).range(1..).map(usize::from), global = true)]
    pub(super) http_workers: Option<usize>,
    /// Address of the Prometheus listener (/metrics), e.g. 127.0.0.1:9000;
    /// unset: no metrics listener. Never the public port.
    #[arg(long, env = "METRICS_ADDR", global = true)]
    pub(super) metrics_addr: Option<SocketAddr>,
    /// Our own reverse proxies: comma-separated CIDRs. Only from these is
    /// X-Forwarded-For believed; empty: the TCP peer is the client
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "", global = true)]
    pub(super) trusted_proxies: TrustedProxies,
    /// Browser origins allowed to call the API (CORS): exact
    /// scheme://host[:port], comma-separated; `*` is refused; empty: none
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", default_value = "", global = true)]
    pub(super) cors_allowed_origins: AllowedOrigins,
    /// Log lines as human-readable text or JSON
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t, global = true)]
    pub log_format: telemetry::LogFormat,
    #[command(flatten)]
    pub(super) rate_limits: rate_limits::RateLimitSettings,
    /// Revocation marks each instance caches (Redis invalidates them as
    /// they change; ~150 bytes each); 0 turns the cache off
    #[arg(long, env = "REVOCATION_CACHE_SIZE",
          default_value_t = redis_adapter::RevocationCacheSettings::DEFAULT_CAPACITY as u32,
          value_parser = clap::value_parser!(u32).range(..=MAX_REVOCATION_CACHE_SIZE),
          global = true)]
    pub(super) revocation_cache_size: u32,
    /// Seconds between two looks at the queue of revocation marks that
    /// Redis could not take when a session ended (at most 10, so a mark
    /// reaches Redis within 15 s of it answering again)
    #[arg(long, env = "REVOCATION_REPLAY_INTERVAL", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=10), global = true)]
    pub(super) revocation_replay_interval: u64,
    /// Seconds between two purges of ended sessions and used one-time
    /// secrets; each instance also purges at its start
    #[arg(long, env = "PURGE_INTERVAL", default_value_t = 3_600,
          value_parser = clap::value_parser!(u64).range(1..=MAX_PURGE_INTERVAL_SECS), global = true)]
    pub(super) purge_interval: u64,
    /// Seconds a session is kept after it ended (expired or revoked)
    /// before the purge deletes it
    #[arg(long, env = "SESSION_RETENTION", default_value_t = 2_592_000,
          value_parser = clap::value_parser!(i64).range(0..=MAX_TOKEN_LIFETIME_SECS), global = true)]
    pub(super) session_retention: i64,
    /// How long audit events are kept (e.g. 365d, 90d; 1d to 36500d); the
    /// purge drops a month of events once all of it is older
    #[arg(long, env = "AUDIT_RETENTION", default_value = "365d",
          value_parser = audit_retention, global = true)]
    pub(super) audit_retention: std::time::Duration,
    /// Live sessions a user may have; a login beyond it ends the least
    /// recently used
    #[arg(long, env = "MAX_SESSIONS_PER_USER", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=MAX_SESSIONS_PER_USER), global = true)]
    pub(super) max_sessions_per_user: u32,
    /// Redis replicas that must acknowledge an email job before the outbox
    /// relay deletes its row; 0: the primary's word is enough
    #[arg(long, env = "REDIS_WAIT_REPLICAS", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=MAX_WAIT_REPLICAS), global = true)]
    pub(super) redis_wait_replicas: u32,
}

/// What sits between the API and PostgreSQL (`DATABASE_POOLER`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DatabasePooler {
    /// PostgreSQL itself
    #[default]
    None,
    /// A pooler in session mode (same as none for us)
    Session,
    /// A pooler in transaction mode (PgBouncer pool_mode=transaction)
    Transaction,
}

/// The longest purge interval accepted: a week.
pub const MAX_PURGE_INTERVAL_SECS: u64 = 7 * 24 * 3600;

/// The largest `MAX_SESSIONS_PER_USER` accepted: more is a typo, and each
/// login reads the user's live sessions.
pub const MAX_SESSIONS_PER_USER: i64 = 10_000;

/// The most replicas `REDIS_WAIT_REPLICAS` can ask for.
pub const MAX_WAIT_REPLICAS: i64 = 64;

/// The largest revocation cache accepted (~2.7 GiB when full): anything
/// larger is a typo.
pub const MAX_REVOCATION_CACHE_SIZE: i64 = 1 << 24;

/// A clap parser around [`Settings`] alone, for [`Settings::from_lookup`].
#[derive(Debug, clap::Parser)]
#[command(name = "api-server")]
struct SettingsOnly {
    #[command(flatten)]
    settings: Settings,
}

impl Settings {
    /// Settings from `lookup` (a variable name to its value) instead of the
    /// process environment, exactly as the binary would read them: what
    /// tests use to configure an app without touching global state.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let command = SettingsOnly::command();
        let mut argv = vec!["api-server".to_owned()];
        for arg in command.get_arguments() {
            let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) else {
                continue;
            };
            let value = env.to_str().and_then(&lookup);
            // As with the real environment, an empty value is unset.
            if let Some(value) = value.filter(|value| !value.is_empty()) {
                argv.push(format!("--{long}={value}"));
            }
        }
        // Only the variables given count, not the test process's own.
        let command = command.mut_args(|arg| arg.env(None));
        let matches = command.try_get_matches_from(argv)?;
        Ok(SettingsOnly::from_arg_matches(&matches)?.settings)
    }

    /// The address `serve` listens on, for the `healthcheck` command.
    pub fn host(&self) -> IpAddr {
        self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The value, trimmed; an empty one counts as unset.
    pub(super) fn required<'a>(
        value: Option<&'a SecretString>,
        name: &'static str,
    ) -> Result<&'a str, ConfigError> {
        value
            .map(|value| value.expose_secret().trim())
            .filter(|value| !value.is_empty())
            .ok_or(ConfigError::Missing(name))
    }
}

/// `AUDIT_RETENTION`: a duration between a day and a hundred years.
fn audit_retention(raw: &str) -> Result<std::time::Duration, String> {
    let retention = humantime::parse_duration(raw.trim()).map_err(|error| error.to_string())?;
    let day = 24 * 3600;
    let allowed =
        std::time::Duration::from_secs(day)..=std::time::Duration::from_secs(36_500 * day);
    if allowed.contains(&retention) {
        Ok(retention)
    } else {
        Err("must be between 1d and 36500d".to_owned())
    }
}
