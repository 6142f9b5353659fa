//! The command line and environment of `email-worker`. Every default is
//! written once, here (or in `RetryPolicy` for the retry budget), and
//! `--help` shows it; the README's configuration table repeats it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use application::delivery::{Mailer, RetryPolicy};
use clap::{Args, Parser, Subcommand};
use mailgun_adapter::{MailgunConfig, MailgunMailer};
use redis_adapter::{EmailStreamSettings, RedisDeliveryQueue, RedisSettings, RedisUrl};
use secrecy::SecretString;
use worker::FileMailer;

/// Default of `EMAIL_VISIBILITY_TIMEOUT_SECS`.
pub const DEFAULT_VISIBILITY_TIMEOUT_SECS: u64 = 30;
/// Default of `EMAIL_DEAD_LETTER_RETENTION`.
pub const DEFAULT_DEAD_LETTER_RETENTION: &str = "30d";
/// Default of `EMAIL_DEAD_LETTER_MAX`.
pub const DEFAULT_DEAD_LETTER_MAX: u64 = 10_000;

#[derive(Parser)]
#[command(
    name = "email-worker",
    version,
    about = "Delivers queued emails through Mailgun, with retries and dead letters",
    long_about = "Delivers queued emails through Mailgun, with retries and dead letters.\n\n\
        Without MAILGUN_API_KEY it runs in development mode and writes each email \
        under EMAIL_OUTBOX_DIR instead of sending it. Settings come from the \
        environment (a .env file is read when present)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Subcommand)]
pub enum Command {
    /// Consume the queue until SIGTERM / SIGINT (the default).
    Run,
    /// Exit 0 when the running worker's /health/ready answers 200 (for
    /// container health checks; needs WORKER_HTTP_ADDR).
    Healthcheck,
    /// Inspect or requeue jobs that were given up on.
    #[command(subcommand)]
    DeadLetters(DeadLetterCommand),
}

#[derive(Subcommand)]
pub enum DeadLetterCommand {
    /// One line per dead letter: id, kind, attempts, time and reason.
    List {
        /// Print each dead letter as JSON, job and every attempt included.
        #[arg(long)]
        json: bool,
    },
    /// Put dead letters back on the queue as fresh jobs.
    Requeue {
        /// The dead letter's id (a job id, as `list` shows it).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Requeue every dead letter.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Args)]
pub struct Config {
    /// Redis holding the queue, e.g. redis://127.0.0.1:6379 (required).
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    redis_url: Option<String>,
    /// Prefix of every Redis key; must match the API's.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = redis_adapter::DEFAULT_PREFIX, global = true)]
    redis_key_prefix: String,
    /// Mailgun API key; without it emails are written to EMAIL_OUTBOX_DIR.
    #[arg(long, env = "MAILGUN_API_KEY", global = true, hide_env_values = true)]
    mailgun_api_key: Option<String>,
    /// The Mailgun sending domain (required with MAILGUN_API_KEY).
    #[arg(long, env = "MAILGUN_DOMAIN", global = true)]
    mailgun_domain: Option<String>,
    /// https://api.mailgun.net (US), https://api.eu.mailgun.net (EU) or a fake.
    #[arg(long, env = "MAILGUN_BASE_URL", default_value = mailgun_adapter::DEFAULT_BASE_URL, global = true)]
    mailgun_base_url: String,
    /// The From of every email.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Auth Service <no-reply@example.com>",
        global = true
    )]
    mail_from: String,
    /// Development mode's folder for written emails.
    #[arg(
        long,
        env = "EMAIL_OUTBOX_DIR",
        default_value = "var/mail",
        global = true
    )]
    pub email_outbox_dir: String,
    /// Folder holding email/<kind>.html and email/<kind>.txt.
    #[arg(
        long,
        env = "TEMPLATES_DIR",
        default_value = "templates",
        global = true
    )]
    pub templates_dir: String,
    /// Jobs in flight at once.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024), global = true)]
    pub worker_concurrency: u16,
    /// Attempts per job before it is dead-lettered; also how often one
    /// queue entry may be handed out without an outcome (a crash or panic).
    #[arg(long, env = "EMAIL_MAX_ATTEMPTS", default_value_t = RetryPolicy::DEFAULT_MAX_ATTEMPTS, value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    email_max_attempts: u32,
    /// A job held this long by a worker without an outcome is taken over.
    #[arg(long, env = "EMAIL_VISIBILITY_TIMEOUT_SECS", default_value_t = DEFAULT_VISIBILITY_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(2..=3600), global = true)]
    pub email_visibility_timeout_secs: u64,
    /// Wait ceiling after a job's first failure, doubled after each; the
    /// wait is drawn from the ceiling's upper half.
    #[arg(long, env = "EMAIL_BACKOFF_BASE_MS", default_value_t = RetryPolicy::DEFAULT_BACKOFF_BASE_MS, value_parser = clap::value_parser!(u64).range(1..=3_600_000), global = true)]
    email_backoff_base_ms: u64,
    /// The wait ceiling never grows past this.
    #[arg(long, env = "EMAIL_BACKOFF_MAX_SECS", default_value_t = RetryPolicy::DEFAULT_BACKOFF_MAX_SECS, value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    email_backoff_max_secs: u64,
    /// Dead letters older than this are dropped (e.g. 30d, 12h; 1h to 3650d).
    #[arg(long, env = "EMAIL_DEAD_LETTER_RETENTION", default_value = DEFAULT_DEAD_LETTER_RETENTION, value_parser = retention, global = true)]
    email_dead_letter_retention: Duration,
    /// At most this many dead letters are kept; the oldest go first.
    #[arg(long, env = "EMAIL_DEAD_LETTER_MAX", default_value_t = DEFAULT_DEAD_LETTER_MAX, value_parser = clap::value_parser!(u64).range(1..=1_000_000), global = true)]
    email_dead_letter_max: u64,
    /// Address of the operator listener (/health/live, /health/ready,
    /// /metrics), e.g. 127.0.0.1:9100; unset: no listener.
    #[arg(long, env = "WORKER_HTTP_ADDR", global = true)]
    pub worker_http_addr: Option<SocketAddr>,
    /// How long in-flight jobs may take to finish on SIGTERM / SIGINT.
    #[arg(long, env = "EMAIL_SHUTDOWN_GRACE_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=3600), global = true)]
    pub email_shutdown_grace_secs: u64,
    /// Log lines as human-readable text or JSON.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value_t,
        ignore_case = true,
        global = true
    )]
    pub log_format: telemetry::LogFormat,
}

/// `EMAIL_DEAD_LETTER_RETENTION`: a duration between 1 hour and 10 years.
fn retention(raw: &str) -> Result<Duration, String> {
    let retention = humantime::parse_duration(raw).map_err(|error| error.to_string())?;
    let allowed = Duration::from_secs(3600)..=Duration::from_secs(3650 * 24 * 3600);
    if allowed.contains(&retention) {
        Ok(retention)
    } else {
        Err("must be between 1h and 3650d".to_owned())
    }
}

impl Config {
    /// Checks REDIS_URL without echoing it: it may carry a password.
    pub fn redis_url(&self) -> anyhow::Result<RedisUrl> {
        let raw = self.redis_url.as_deref().unwrap_or_default();
        if raw.trim().is_empty() {
            bail!("REDIS_URL is required (e.g. redis://127.0.0.1:6379)");
        }
        raw.parse()
            .map_err(|error| anyhow::anyhow!("REDIS_URL is malformed: {error}"))
    }

    fn api_key(&self) -> Option<SecretString> {
        self.mailgun_api_key
            .as_deref()
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(SecretString::from)
    }

    pub fn visibility_timeout(&self) -> Duration {
        Duration::from_secs(self.email_visibility_timeout_secs)
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.email_max_attempts,
            base_delay: Duration::from_millis(self.email_backoff_base_ms),
            max_delay: Duration::from_secs(self.email_backoff_max_secs),
            ..RetryPolicy::default()
        }
    }

    pub fn queue(&self) -> anyhow::Result<RedisDeliveryQueue> {
        let pool = redis_adapter::connect(self.redis_url()?.expose(), &RedisSettings::default())
            .context("REDIS_URL is malformed")?;
        let mut settings = EmailStreamSettings::new(worker::consumer_name());
        settings.visibility_timeout = self.visibility_timeout();
        settings.dead_letter_retention = self.email_dead_letter_retention;
        settings.dead_letter_max =
            usize::try_from(self.email_dead_letter_max).unwrap_or(usize::MAX);
        Ok(RedisDeliveryQueue::new(
            pool,
            self.redis_key_prefix.clone(),
            settings,
        ))
    }

    /// The Mailgun mailer, or the file mailer in development mode; logs
    /// which as the worker's first line.
    pub fn mailer(&self) -> anyhow::Result<Arc<dyn Mailer>> {
        let Some(api_key) = self.api_key() else {
            tracing::warn!(
                outbox_dir = %self.email_outbox_dir,
                "development mode: MAILGUN_API_KEY is not set, so emails are written to {} instead of being sent",
                self.email_outbox_dir
            );
            return Ok(Arc::new(FileMailer::new(
                &self.email_outbox_dir,
                &self.mail_from,
            )));
        };
        let Some(domain) = self
            .mailgun_domain
            .as_deref()
            .map(str::trim)
            .filter(|domain| !domain.is_empty())
        else {
            bail!("MAILGUN_DOMAIN is required when MAILGUN_API_KEY is set");
        };
        let base =
            url::Url::parse(&self.mailgun_base_url).context("MAILGUN_BASE_URL is malformed")?;
        if !matches!(base.scheme(), "http" | "https") {
            bail!("MAILGUN_BASE_URL is malformed: it must be an http(s) URL");
        }
        let mut config = MailgunConfig::new(domain.to_owned(), api_key, self.mail_from.clone());
        config.base_url = self.mailgun_base_url.clone();
        // A send must end well before the job can be taken over by another
        // worker, or the same email could go out twice.
        config.timeout = config.timeout.min(self.visibility_timeout() / 2);
        let mailer = MailgunMailer::new(config).context("cannot set up the Mailgun client")?;
        tracing::info!(
            endpoint = mailer.endpoint(),
            "sending emails through Mailgun"
        );
        Ok(Arc::new(mailer))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let mut argv = vec!["email-worker"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
    }

    fn config(args: &[&str]) -> Config {
        parse(args).unwrap().config
    }

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn redis_url_problems_are_named_without_echoing_the_url() {
        for raw in ["redis//:secret@host", "http://:secret@host"] {
            let error = config(&["--redis-url", raw]).redis_url().unwrap_err();
            let error = format!("{error:#}");
            assert!(error.starts_with("REDIS_URL is malformed"), "{error}");
            assert!(!error.contains("secret"), "{error}");
        }
        let ok = config(&["--redis-url", "redis://:pw@127.0.0.1:6379/0"]);
        assert_eq!(
            ok.redis_url().unwrap().expose(),
            "redis://:pw@127.0.0.1:6379/0"
        );
    }

    #[test]
    fn an_empty_api_key_means_development_mode() {
        assert!(config(&["--mailgun-api-key", "  "]).api_key().is_none());
        assert!(config(&["--mailgun-api-key", "key-1"]).api_key().is_some());
    }

    #[test]
    fn an_api_key_needs_a_domain() {
        let mut config = config(&["--mailgun-api-key", "key-1"]);
        config.mailgun_domain = None;
        let error = config.mailer().err().unwrap().to_string();
        assert_eq!(
            error,
            "MAILGUN_DOMAIN is required when MAILGUN_API_KEY is set"
        );
    }

    #[test]
    fn requeue_needs_an_id_or_all() {
        assert!(parse(&["dead-letters", "requeue"]).is_err());
        assert!(parse(&["dead-letters", "requeue", "x", "--all"]).is_err());
        assert!(parse(&["dead-letters", "requeue", "--all"]).is_ok());
        assert!(parse(&["dead-letters", "list", "--json"]).is_ok());
    }

    #[test]
    fn the_defaults_are_the_retry_policy_defaults() {
        assert_eq!(config(&[]).retry_policy(), RetryPolicy::default());
    }

    #[test]
    fn values_that_would_overflow_are_refused_at_start() {
        // u64::MAX milliseconds used to panic the first retry.
        for args in [
            ["--email-backoff-base-ms", "18446744073709551615"],
            ["--email-backoff-max-secs", "18446744073709551615"],
            ["--email-visibility-timeout-secs", "18446744073709551615"],
            ["--email-shutdown-grace-secs", "18446744073709551615"],
            ["--email-max-attempts", "0"],
            ["--email-dead-letter-max", "0"],
        ] {
            assert!(parse(&args).is_err(), "{args:?} accepted");
        }
    }

    #[test]
    fn the_largest_accepted_values_keep_the_policy_finite() {
        let config = config(&[
            "--email-backoff-base-ms",
            "3600000",
            "--email-backoff-max-secs",
            "86400",
            "--email-max-attempts",
            "1000",
        ]);
        let policy = config.retry_policy();
        assert_eq!(policy.backoff_ceiling(1000), Duration::from_secs(86_400));
        assert!(policy.min_total_wait() < Duration::from_secs(1000 * 86_400));
    }

    #[test]
    fn dead_letter_retention_reads_human_durations_within_bounds() {
        let default = config(&[]);
        assert_eq!(
            default.email_dead_letter_retention,
            Duration::from_secs(30 * 24 * 3600)
        );
        assert_eq!(default.email_dead_letter_max, DEFAULT_DEAD_LETTER_MAX);
        let hours = config(&["--email-dead-letter-retention", "12h"]);
        assert_eq!(
            hours.email_dead_letter_retention,
            Duration::from_secs(12 * 3600)
        );
        for bad in ["0s", "59m", "3651d", "forever"] {
            assert!(
                parse(&["--email-dead-letter-retention", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_log_format_is_a_shared_value() {
        assert_eq!(config(&[]).log_format, telemetry::LogFormat::Text);
        assert_eq!(
            config(&["--log-format", "JSON"]).log_format,
            telemetry::LogFormat::Json
        );
        assert!(parse(&["--log-format", "xml"]).is_err());
    }
}
