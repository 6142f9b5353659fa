//! `email-worker`: consumes the email job queue and delivers through
//! Mailgun (or, with no `MAILGUN_API_KEY`, writes emails to files), and
//! manages dead letters.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use application::delivery::{EmailDelivery, Mailer, RetryPolicy};
use application::ports::SystemClock;
use clap::{Args, Parser, Subcommand};
use mailgun_adapter::{MailgunConfig, MailgunMailer};
use redis_adapter::{EmailStreamSettings, RedisDeliveryQueue, RedisSettings};
use secrecy::SecretString;
use worker::{FileMailer, Runner, RunnerSettings, TeraRenderer};

mod ops;

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
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
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
enum DeadLetterCommand {
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
struct Config {
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
    email_outbox_dir: String,
    /// Folder holding email/<kind>.html and email/<kind>.txt.
    #[arg(
        long,
        env = "TEMPLATES_DIR",
        default_value = "templates",
        global = true
    )]
    templates_dir: String,
    /// Jobs in flight at once.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..), global = true)]
    worker_concurrency: u16,
    /// Attempts per job before it is dead-lettered.
    #[arg(long, env = "EMAIL_MAX_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    email_max_attempts: u32,
    /// A job held this long by a worker without an outcome is taken over.
    #[arg(long, env = "EMAIL_VISIBILITY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(2..), global = true)]
    email_visibility_timeout_secs: u64,
    /// Wait ceiling after a job's first failure, doubled after each one.
    #[arg(
        long,
        env = "EMAIL_BACKOFF_BASE_MS",
        default_value_t = 5000,
        global = true
    )]
    email_backoff_base_ms: u64,
    /// The wait ceiling never grows past this.
    #[arg(
        long,
        env = "EMAIL_BACKOFF_MAX_SECS",
        default_value_t = 900,
        global = true
    )]
    email_backoff_max_secs: u64,
    /// Address of the operator listener (/health/live, /health/ready,
    /// /metrics), e.g. 127.0.0.1:9100; unset: no listener.
    #[arg(long, env = "WORKER_HTTP_ADDR", global = true)]
    worker_http_addr: Option<std::net::SocketAddr>,
    /// How long in-flight jobs may take to finish on SIGTERM / SIGINT.
    #[arg(
        long,
        env = "EMAIL_SHUTDOWN_GRACE_SECS",
        default_value_t = 20,
        global = true
    )]
    email_shutdown_grace_secs: u64,
}

impl Config {
    /// Checks REDIS_URL without echoing it: it may carry a password.
    fn redis_url(&self) -> anyhow::Result<&str> {
        let Some(raw) = self
            .redis_url
            .as_deref()
            .filter(|url| !url.trim().is_empty())
        else {
            bail!("REDIS_URL is required (e.g. redis://127.0.0.1:6379)");
        };
        let parsed = url::Url::parse(raw)
            .map_err(|error| anyhow::anyhow!("REDIS_URL is malformed: {error}"))?;
        if !matches!(parsed.scheme(), "redis" | "rediss" | "unix" | "redis+unix") {
            bail!("REDIS_URL is malformed: the scheme must be redis://, rediss:// or unix://");
        }
        Ok(raw)
    }

    fn api_key(&self) -> Option<SecretString> {
        self.mailgun_api_key
            .as_deref()
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(SecretString::from)
    }

    fn visibility_timeout(&self) -> Duration {
        Duration::from_secs(self.email_visibility_timeout_secs)
    }

    fn queue(&self) -> anyhow::Result<RedisDeliveryQueue> {
        let pool = redis_adapter::connect(self.redis_url()?, &RedisSettings::default())
            .map_err(|error| anyhow::anyhow!("REDIS_URL is malformed: {error}"))?;
        let mut settings = EmailStreamSettings::new(worker::consumer_name());
        settings.visibility_timeout = self.visibility_timeout();
        Ok(RedisDeliveryQueue::new(
            pool,
            self.redis_key_prefix.clone(),
            settings,
        ))
    }

    /// The Mailgun mailer, or the file mailer in development mode; logs
    /// which as the worker's first line.
    fn mailer(&self) -> anyhow::Result<Arc<dyn Mailer>> {
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
        let base = url::Url::parse(&self.mailgun_base_url)
            .map_err(|error| anyhow::anyhow!("MAILGUN_BASE_URL is malformed: {error}"))?;
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

fn main() -> ExitCode {
    // A missing .env is normal; a broken one is worth knowing about.
    let dotenv = dotenvy::dotenv();
    let cli = Cli::parse();
    // Human-readable by default, JSON lines with LOG_FORMAT=json.
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    telemetry::init_logs(if json {
        telemetry::LogFormat::Json
    } else {
        telemetry::LogFormat::Text
    });
    if let Err(error) = &dotenv
        && !error.not_found()
    {
        tracing::warn!(%error, "ignoring an unreadable .env file");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, whatever the cause chain.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => run(&cli.config).await,
        Command::Healthcheck => healthcheck(&cli.config).await,
        Command::DeadLetters(DeadLetterCommand::List { json }) => {
            let queue = cli.config.queue()?;
            let letters = queue
                .dead_letters()
                .await
                .context("cannot read dead letters")?;
            for letter in &letters {
                if json {
                    println!("{}", serde_json::to_string(letter)?);
                } else {
                    println!(
                        "{}\t{}\tattempts={}\tdead_at={}\treason={}",
                        letter.id,
                        letter.kind.as_deref().unwrap_or("-"),
                        letter.history.len(),
                        letter.dead_at.to_rfc3339(),
                        letter.reason
                    );
                }
            }
            if !json {
                eprintln!("{} dead letter(s)", letters.len());
            }
            Ok(())
        }
        Command::DeadLetters(DeadLetterCommand::Requeue { id, all }) => {
            let queue = cli.config.queue()?;
            if all {
                let moved = queue
                    .requeue_all_dead_letters()
                    .await
                    .context("cannot requeue dead letters")?;
                println!("requeued {moved} dead letter(s)");
                return Ok(());
            }
            let Some(id) = id else {
                bail!("give a dead letter id or --all");
            };
            if queue
                .requeue_dead_letter(&id)
                .await
                .context("cannot requeue the dead letter")?
            {
                println!("requeued {id}");
                Ok(())
            } else {
                bail!("no dead letter with id {id}")
            }
        }
    }
}

async fn run(config: &Config) -> anyhow::Result<()> {
    let stop = shutdown_signal();
    // Configuration errors first, so the mode line is the first log line.
    config.redis_url()?;
    let mailer = config.mailer()?;
    let queue = Arc::new(config.queue()?);
    let renderer = TeraRenderer::load(&config.templates_dir)?;
    let policy = RetryPolicy {
        max_attempts: config.email_max_attempts,
        base_delay: Duration::from_millis(config.email_backoff_base_ms.max(1)),
        max_delay: Duration::from_secs(config.email_backoff_max_secs.max(1)),
        ..RetryPolicy::default()
    };
    let delivery = EmailDelivery::new(
        queue.clone(),
        Arc::new(renderer),
        mailer,
        Arc::new(SystemClock),
        worker::random_jitter(),
        policy,
    );
    let settings = RunnerSettings {
        concurrency: usize::from(config.worker_concurrency),
        // Look for abandoned jobs a few times per visibility timeout.
        claim_interval: (config.visibility_timeout() / 4).max(Duration::from_secs(1)),
        shutdown_grace: Duration::from_secs(config.email_shutdown_grace_secs),
        ..RunnerSettings::default()
    };
    tracing::info!(
        consumer = %queue.settings().consumer,
        concurrency = settings.concurrency,
        max_attempts = policy.max_attempts,
        visibility_timeout_secs = config.email_visibility_timeout_secs,
        prefix = %config.redis_key_prefix,
        "email worker started"
    );
    let runner = Runner::new(
        queue.clone(),
        Arc::new(delivery),
        Arc::new(SystemClock),
        settings,
    );
    let ops = match config.worker_http_addr {
        Some(address) => {
            let server = ops::serve(address, queue.clone())
                .with_context(|| format!("cannot listen on WORKER_HTTP_ADDR {address}"))?;
            tracing::info!(%address, "operator listener started");
            let handle = server.handle();
            tokio::spawn(server);
            Some(handle)
        }
        None => None,
    };
    let summary = runner.run(stop).await;
    if let Some(ops) = ops {
        ops.stop(true).await;
    }
    match queue.leave_group_if_idle().await {
        Ok(true) => tracing::debug!("left the consumer group"),
        Ok(false) => {}
        Err(error) => tracing::debug!(%error, "could not leave the consumer group"),
    }
    tracing::info!(
        sent = summary.sent,
        duplicates = summary.duplicates,
        retries_scheduled = summary.retries_scheduled,
        dead_lettered = summary.dead_lettered,
        unrecorded = summary.unrecorded,
        abandoned = summary.abandoned,
        "email worker stopped"
    );
    Ok(())
}

async fn healthcheck(config: &Config) -> anyhow::Result<()> {
    let Some(address) = config.worker_http_addr else {
        bail!("WORKER_HTTP_ADDR is not set: the worker has no listener to ask");
    };
    let url = telemetry::loopback_url(address, "/health/ready");
    telemetry::healthcheck(&url).await?;
    Ok(())
}

/// Completes on SIGTERM or SIGINT (Ctrl-C). The handlers are installed
/// when this is called, not when the future is first polled, so a signal
/// that arrives while the worker is still starting is not lost (and does
/// not kill the process with the default action).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};

    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        match (terminate, interrupt) {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => tracing::info!("SIGTERM received"),
                    _ = interrupt.recv() => tracing::info!("SIGINT received"),
                }
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot listen for signals; only Ctrl-C stops the worker");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn config(args: &[&str]) -> Config {
        let mut argv = vec!["email-worker"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap().config
    }

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn redis_url_problems_are_named_without_echoing_the_url() {
        let error = config(&["--redis-url", "redis//:secret@host"])
            .redis_url()
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("REDIS_URL is malformed"), "{error}");
        assert!(!error.contains("secret"));
        let error = config(&["--redis-url", "http://host"])
            .redis_url()
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("REDIS_URL is malformed"), "{error}");
        let ok = config(&["--redis-url", "redis://:pw@127.0.0.1:6379/0"]);
        assert_eq!(ok.redis_url().unwrap(), "redis://:pw@127.0.0.1:6379/0");
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
        assert!(Cli::try_parse_from(["email-worker", "dead-letters", "requeue"]).is_err());
        assert!(
            Cli::try_parse_from(["email-worker", "dead-letters", "requeue", "x", "--all"]).is_err()
        );
        assert!(Cli::try_parse_from(["email-worker", "dead-letters", "requeue", "--all"]).is_ok());
        assert!(Cli::try_parse_from(["email-worker", "dead-letters", "list", "--json"]).is_ok());
    }
}
