//! Configuration: command-line flags that default to environment variables
//! (clap `env`), so `--help` shows every variable with its default and the
//! README's table repeats them. Values that can hold a secret (URLs with a
//! password, the JWT key) are read as text and checked here, so no error
//! line ever echoes them; every other problem is one line naming the
//! variable.

mod database;
mod jwt_key;
mod rate_limits;
mod use_case_settings;

use std::net::{IpAddr, SocketAddr};

use application::{
    AccountEmailSettings, ReplaySettings, SessionSettings, TokenLifetimes,
    rate_limits::RateLimitConfig,
};
use clap::builder::TypedValueParser;
use clap::{CommandFactory, FromArgMatches};
use crypto_adapter::{JwtAlgorithm, JwtSettings};
use domain::PasswordPolicy;
use http_api::client_ip::TrustedProxies;
use redis_adapter::RedisUrl;
use secrecy::{ExposeSecret, SecretString};

pub use database::{DatabaseConfig, DatabaseUrl};
pub use jwt_key::{MIN_SECRET_DISTINCT_CHARS, SAMPLE_JWT_SECRET_KEY};

/// The longest token lifetime accepted: ten years. Anything longer is a
/// typo, and bounding it keeps every expiry computation in range.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 10 * 365 * 24 * 3600;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    /// A flag or variable clap itself refused (a number out of range, say);
    /// the text is clap's first line, which names the variable.
    #[error("{0}")]
    Rejected(String),
    /// Past what the calendar can hold once added to now.
    #[error("{variable}: {seconds} seconds is too long a token lifetime")]
    TokenLifetime {
        variable: &'static str,
        seconds: i64,
    },
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

impl From<clap::Error> for ConfigError {
    fn from(error: clap::Error) -> Self {
        let text = error.to_string();
        let first = text.lines().next().unwrap_or_default();
        ConfigError::Rejected(first.trim_start_matches("error: ").to_owned())
    }
}

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
    database_url: Option<SecretString>,
    /// redis://host:6379 (rediss:// for TLS)
    #[arg(long, env = "REDIS_URL", hide_env_values = true, global = true)]
    redis_url: Option<SecretString>,
    /// Prefix of every Redis key; the email worker must use the same
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = redis_adapter::keys::DEFAULT_PREFIX, global = true)]
    redis_key_prefix: String,
    /// HMAC key: at least 32 bytes for HS256, 48 for HS384, 64 for HS512
    #[arg(long, env = "JWT_SECRET_KEY", hide_env_values = true, global = true)]
    jwt_secret_key: Option<SecretString>,
    /// HS256, HS384 or HS512; tokens signed otherwise are refused
    #[arg(long, env = "JWT_ALGORITHM", default_value = "HS256", global = true)]
    jwt_algorithm: JwtAlgorithm,
    /// The `iss` claim of every token; tokens naming another are refused
    #[arg(long, env = "JWT_ISSUER", default_value = JwtSettings::DEFAULT_ISSUER, global = true)]
    jwt_issuer: String,
    /// The `aud` claim of every token; tokens for another audience are refused
    #[arg(long, env = "JWT_AUDIENCE", default_value = JwtSettings::DEFAULT_AUDIENCE, global = true)]
    jwt_audience: String,
    /// Access token lifetime, seconds
    #[arg(long, env = "JWT_ACCESS_TOKEN_EXPIRES", default_value_t = 300,
          value_parser = clap::value_parser!(i64).range(1..=MAX_TOKEN_LIFETIME_SECS), global = true)]
    jwt_access_token_expires: i64,
    /// Refresh token lifetime, seconds
    #[arg(long, env = "JWT_REFRESH_TOKEN_EXPIRES", default_value_t = 2_592_000,
          value_parser = clap::value_parser!(i64).range(1..=MAX_TOKEN_LIFETIME_SECS), global = true)]
    jwt_refresh_token_expires: i64,
    /// Each refresh hands out a new refresh token and retires the old one;
    /// false: v1 behaviour (one refresh token per session)
    #[arg(long, env = "REFRESH_TOKEN_ROTATION", default_value_t = true,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(),
          global = true)]
    refresh_token_rotation: bool,
    /// Seconds the refresh token just superseded is still honoured (its
    /// reuse after that revokes the session)
    #[arg(long, env = "REFRESH_REUSE_INTERVAL", default_value_t = 10,
          value_parser = clap::value_parser!(i64).range(0..=3600), global = true)]
    refresh_reuse_interval: i64,
    /// Seconds after its login that a session dies however active it is
    #[arg(long, env = "SESSION_MAX_LIFETIME", default_value_t = 7_776_000,
          value_parser = clap::value_parser!(i64).range(1..=MAX_TOKEN_LIFETIME_SECS), global = true)]
    session_max_lifetime: i64,
    /// Email the user when a login comes from a device (user agent and IP
    /// /24 or /64) none of its sessions of the last 90 days used
    #[arg(long, env = "NOTIFY_NEW_DEVICE_LOGIN", default_value_t = true,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(),
          global = true)]
    notify_new_device_login: bool,
    /// The front end links in emails point at (`/verify-email#token=...`)
    #[arg(
        long,
        env = "PUBLIC_APP_URL",
        default_value = "http://127.0.0.1:5000",
        global = true
    )]
    public_app_url: String,
    /// Seconds an email-verification link and code live
    #[arg(long, env = "EMAIL_VERIFICATION_TTL", default_value_t = 86_400,
          value_parser = clap::value_parser!(i64).range(60..=MAX_TOKEN_LIFETIME_SECS), global = true)]
    email_verification_ttl: i64,
    /// Seconds a password-reset link and code live
    #[arg(long, env = "PASSWORD_RESET_TTL", default_value_t = 3_600,
          value_parser = clap::value_parser!(i64).range(60..=MAX_TOKEN_LIFETIME_SECS), global = true)]
    password_reset_ttl: i64,
    /// Refuse logins of accounts whose email address is not verified
    #[arg(long, env = "REQUIRE_VERIFIED_EMAIL", default_value_t = false,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(),
          global = true)]
    require_verified_email: bool,
    /// Minimum password length in characters (the maximum is 128)
    #[arg(long, env = "PASSWORD_MIN_LENGTH", default_value_t = PasswordPolicy::DEFAULT_MIN_CHARS,
          value_parser = clap::value_parser!(u8).range(1..=PasswordPolicy::MAX_CHARS as i64).map(usize::from),
          global = true)]
    password_min_length: usize,
    /// Address the API listens on
    #[arg(long, env = "HOST", default_value = "127.0.0.1", global = true)]
    host: IpAddr,
    /// Port the API listens on (0: any free port)
    #[arg(long, env = "PORT", default_value_t = 5000, global = true)]
    port: u16,
    /// actix worker threads; unset: one per core
    #[arg(long, env = "HTTP_WORKERS", value_parser = clap::value_parser!(u16).range(1..).map(usize::from), global = true)]
    http_workers: Option<usize>,
    /// Address of the Prometheus listener (/metrics), e.g. 127.0.0.1:9000;
    /// unset: no metrics listener. Never the public port.
    #[arg(long, env = "METRICS_ADDR", global = true)]
    metrics_addr: Option<SocketAddr>,
    /// Our own reverse proxies: comma-separated CIDRs. Only from these is
    /// X-Forwarded-For believed; empty: the TCP peer is the client
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "", global = true)]
    trusted_proxies: TrustedProxies,
    /// Log lines as human-readable text or JSON
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t, global = true)]
    pub log_format: telemetry::LogFormat,
    #[command(flatten)]
    rate_limits: rate_limits::RateLimitSettings,
    /// Revocation marks each instance caches (Redis invalidates them as
    /// they change; ~150 bytes each); 0 turns the cache off
    #[arg(long, env = "REVOCATION_CACHE_SIZE",
          default_value_t = redis_adapter::RevocationCacheSettings::DEFAULT_CAPACITY as u32,
          value_parser = clap::value_parser!(u32).range(..=MAX_REVOCATION_CACHE_SIZE),
          global = true)]
    revocation_cache_size: u32,
    /// Seconds between two looks at the queue of revocation marks that
    /// Redis could not take when a session ended (at most 10, so a mark
    /// reaches Redis within 15 s of it answering again)
    #[arg(long, env = "REVOCATION_REPLAY_INTERVAL", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=10), global = true)]
    revocation_replay_interval: u64,
}

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
    fn required<'a>(
        value: Option<&'a SecretString>,
        name: &'static str,
    ) -> Result<&'a str, ConfigError> {
        value
            .map(|value| value.expose_secret().trim())
            .filter(|value| !value.is_empty())
            .ok_or(ConfigError::Missing(name))
    }
}

/// Everything `serve` needs, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub redis_url: RedisUrl,
    /// Every Redis key starts with it; the email worker must use the same.
    pub redis_key_prefix: String,
    pub jwt_secret: SecretString,
    /// Algorithm, issuer and audience of every token.
    pub jwt: JwtSettings,
    /// How long access and refresh tokens live.
    pub lifetimes: TokenLifetimes,
    /// Rotation, reuse interval, maximum session life, new-device email.
    pub sessions: SessionSettings,
    /// Links, lifetimes and rules of the account emails.
    pub account_emails: AccountEmailSettings,
    pub password_policy: PasswordPolicy,
    pub host: IpAddr,
    pub port: u16,
    /// actix workers; unset means one per core.
    pub http_workers: Option<usize>,
    /// Where `/metrics` is served; `None`: nowhere.
    pub metrics_addr: Option<SocketAddr>,
    /// Peers whose X-Forwarded-For is believed.
    pub trusted_proxies: TrustedProxies,
    /// Every rate limit; `None`: `RATE_LIMITS=off`.
    pub rate_limits: Option<RateLimitConfig>,
    /// Revocation marks cached per instance; 0: no cache.
    pub revocation_cache_size: usize,
    /// How often each instance writes the queued revocation marks.
    pub revocation_replay: ReplaySettings,
}

impl Config {
    pub fn load(settings: &Settings) -> Result<Self, ConfigError> {
        let database_url = DatabaseConfig::load(settings)?.database_url;
        let redis_url = Settings::required(settings.redis_url.as_ref(), "REDIS_URL")?
            .parse::<RedisUrl>()
            .map_err(|error| invalid("REDIS_URL", error.to_string()))?;
        let jwt_secret = jwt_key::checked_key(
            Settings::required(settings.jwt_secret_key.as_ref(), "JWT_SECRET_KEY")?,
            settings.jwt_algorithm,
        )?;
        let account_emails = settings.account_email_settings()?;
        let password_policy = PasswordPolicy::new(settings.password_min_length)
            .ok_or_else(|| invalid("PASSWORD_MIN_LENGTH", "out of range"))?;
        Ok(Self {
            database_url,
            redis_url,
            redis_key_prefix: settings.redis_key_prefix.clone(),
            jwt_secret,
            jwt: JwtSettings {
                algorithm: settings.jwt_algorithm,
                issuer: settings.jwt_issuer.trim().to_owned(),
                audience: settings.jwt_audience.trim().to_owned(),
            },
            lifetimes: settings.token_lifetimes()?,
            sessions: settings.session_settings()?,
            account_emails,
            password_policy,
            host: settings.host,
            port: settings.port,
            http_workers: settings.http_workers,
            metrics_addr: settings.metrics_addr,
            trusted_proxies: settings.trusted_proxies.clone(),
            rate_limits: settings.rate_limits.load()?,
            revocation_cache_size: settings.revocation_cache_size as usize,
            revocation_replay: ReplaySettings {
                interval: std::time::Duration::from_secs(settings.revocation_replay_interval),
                ..ReplaySettings::default()
            },
        })
    }

    /// [`Settings::from_lookup`] then [`Config::load`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::load(&Settings::from_lookup(lookup)?)
    }
}

#[cfg(test)]
mod tests;
