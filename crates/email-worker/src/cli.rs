//! The command line and environment of `email-worker`, as given. Every
//! default is written once, here (or in `RetryPolicy` for the retry
//! budget), and `--help` shows it; `docs/configuration.md#email-worker`
//! repeats it. [`crate::config`] checks these [`Settings`] into a `Config`.

use std::net::SocketAddr;
use std::time::Duration;

use application::delivery::RetryPolicy;
use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

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
    pub settings: Settings,
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

/// Every setting, as given: each flag falls back to the environment
/// variable of the same name. Its `Debug` shows no secret: the values that
/// may hold one (the Mailgun key, a Redis URL with a password) are
/// [`SecretString`]s, checked after clap, which would echo a value it
/// refused.
#[derive(Debug, Args)]
pub struct Settings {
    /// Redis holding the queue, e.g. redis://127.0.0.1:6379 (required).
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    pub(crate) redis_url: Option<SecretString>,
    /// host:port,host:port,... of a Redis Cluster, instead of REDIS_URL.
    #[arg(
        long,
        env = "REDIS_CLUSTER_NODES",
        global = true,
        hide_env_values = true
    )]
    pub(crate) redis_cluster_nodes: Option<SecretString>,
    /// PEM file of the CA that signs Redis's TLS certificate (default: the system's roots).
    #[arg(long, env = "REDIS_CA_CERT", global = true)]
    pub(crate) redis_ca_cert: Option<String>,
    /// Pooled Redis connections (each multiplexed).
    #[arg(long, env = "REDIS_POOL_SIZE", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=1024), global = true)]
    pub(crate) redis_pool_size: u32,
    /// Prefix of every Redis key; must match the API's.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = redis_adapter::DEFAULT_PREFIX, global = true)]
    pub(crate) redis_key_prefix: String,
    /// Mailgun API key; without it emails are written to EMAIL_OUTBOX_DIR.
    #[arg(long, env = "MAILGUN_API_KEY", global = true, hide_env_values = true)]
    pub(crate) mailgun_api_key: Option<SecretString>,
    /// The Mailgun sending domain (required with MAILGUN_API_KEY).
    #[arg(long, env = "MAILGUN_DOMAIN", global = true)]
    pub(crate) mailgun_domain: Option<String>,
    /// https://api.mailgun.net (US), https://api.eu.mailgun.net (EU) or a fake.
    #[arg(long, env = "MAILGUN_BASE_URL", default_value = mailgun_adapter::DEFAULT_BASE_URL, global = true)]
    pub(crate) mailgun_base_url: String,
    /// The From of every email.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Auth Service <no-reply@example.com>",
        global = true
    )]
    pub(crate) mail_from: String,
    /// Development mode's folder for written emails.
    #[arg(
        long,
        env = "EMAIL_OUTBOX_DIR",
        default_value = "var/mail",
        global = true
    )]
    pub(crate) email_outbox_dir: String,
    /// Folder holding email/<kind>.html and email/<kind>.txt.
    #[arg(
        long,
        env = "TEMPLATES_DIR",
        default_value = "templates",
        global = true
    )]
    pub(crate) templates_dir: String,
    /// Jobs in flight at once.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024), global = true)]
    pub(crate) worker_concurrency: u16,
    /// Attempts per job before it is dead-lettered; also how often one
    /// queue entry may be handed out without an outcome (a crash or panic).
    #[arg(long, env = "EMAIL_MAX_ATTEMPTS", default_value_t = RetryPolicy::DEFAULT_MAX_ATTEMPTS, value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub(crate) email_max_attempts: u32,
    /// A job held this long by a worker without an outcome is taken over.
    #[arg(long, env = "EMAIL_VISIBILITY_TIMEOUT_SECS", default_value_t = DEFAULT_VISIBILITY_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(2..=3600), global = true)]
    pub(crate) email_visibility_timeout_secs: u64,
    /// Wait ceiling after a job's first failure, doubled after each; the
    /// wait is drawn from the ceiling's upper half.
    #[arg(long, env = "EMAIL_BACKOFF_BASE_MS", default_value_t = RetryPolicy::DEFAULT_BACKOFF_BASE_MS, value_parser = clap::value_parser!(u64).range(1..=3_600_000), global = true)]
    pub(crate) email_backoff_base_ms: u64,
    /// The wait ceiling never grows past this.
    #[arg(long, env = "EMAIL_BACKOFF_MAX_SECS", default_value_t = RetryPolicy::DEFAULT_BACKOFF_MAX_SECS, value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    pub(crate) email_backoff_max_secs: u64,
    /// Dead letters older than this are dropped (e.g. 30d, 12h; 1h to 3650d).
    #[arg(long, env = "EMAIL_DEAD_LETTER_RETENTION", default_value = DEFAULT_DEAD_LETTER_RETENTION, value_parser = retention, global = true)]
    pub(crate) email_dead_letter_retention: Duration,
    /// At most this many dead letters are kept; the oldest go first.
    #[arg(long, env = "EMAIL_DEAD_LETTER_MAX", default_value_t = DEFAULT_DEAD_LETTER_MAX, value_parser = clap::value_parser!(u64).range(1..=1_000_000), global = true)]
    pub(crate) email_dead_letter_max: u64,
    /// Address of the operator listener (/health/live, /health/ready,
    /// /metrics), e.g. 127.0.0.1:9100; unset: no listener.
    #[arg(long, env = "WORKER_HTTP_ADDR", global = true)]
    pub worker_http_addr: Option<SocketAddr>,
    /// How long in-flight jobs may take to finish on SIGTERM / SIGINT.
    #[arg(long, env = "EMAIL_SHUTDOWN_GRACE_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=3600), global = true)]
    pub(crate) email_shutdown_grace_secs: u64,
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let mut argv = vec!["email-worker"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
    }

    fn settings(args: &[&str]) -> Settings {
        parse(args).unwrap().settings
    }

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn env_example_names_every_variable() {
        let example = include_str!("../../../.env.example");
        let command = Cli::command();
        let names: Vec<String> = command
            .get_arguments()
            .filter_map(|arg| arg.get_env())
            .map(|name| name.to_string_lossy().into_owned())
            .collect();
        assert!(names.len() > 10, "{names:?}");
        for name in names {
            assert!(example.contains(&format!("{name}=")), "{name}");
        }
    }

    #[test]
    fn requeue_needs_an_id_or_all() {
        assert!(parse(&["dead-letters", "requeue"]).is_err());
        assert!(parse(&["dead-letters", "requeue", "x", "--all"]).is_err());
        assert!(parse(&["dead-letters", "requeue", "--all"]).is_ok());
        assert!(parse(&["dead-letters", "list", "--json"]).is_ok());
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
    fn dead_letter_retention_reads_human_durations_within_bounds() {
        let default = settings(&[]);
        assert_eq!(
            default.email_dead_letter_retention,
            Duration::from_secs(30 * 24 * 3600)
        );
        assert_eq!(default.email_dead_letter_max, DEFAULT_DEAD_LETTER_MAX);
        let hours = settings(&["--email-dead-letter-retention", "12h"]);
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
        assert_eq!(settings(&[]).log_format, telemetry::LogFormat::Text);
        assert_eq!(
            settings(&["--log-format", "JSON"]).log_format,
            telemetry::LogFormat::Json
        );
        assert!(parse(&["--log-format", "xml"]).is_err());
    }

    #[test]
    fn debug_of_the_settings_hides_the_api_key_and_the_redis_password() {
        let settings = settings(&[
            "--redis-url",
            "redis://:hunter2@127.0.0.1:6379/0",
            "--mailgun-api-key",
            "key-0123456789abcdef",
        ]);
        let debug = format!("{settings:?}");
        for secret in ["hunter2", "key-0123456789abcdef"] {
            assert!(!debug.contains(secret), "{secret}: {debug}");
        }
        assert!(debug.contains("mail_from"), "{debug}");
    }
}
