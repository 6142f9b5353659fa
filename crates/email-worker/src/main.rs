//! `email-worker`: consumes the email job queue and delivers through
//! Mailgun (or, with no `MAILGUN_API_KEY`, writes emails to files), and
//! manages dead letters. Wiring only: the configuration is in `cli`, the
//! rest in the `worker` library.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use application::delivery::EmailDelivery;
use application::ports::SystemClock;
use clap::Parser;
use cli::{Cli, Command, Config, DeadLetterCommand};
use worker::dead_letter_commands::{self, Requeue};
use worker::{CompletionRetries, Runner, RunnerSettings, TeraRenderer, operator_listener};

mod cli;

fn main() -> ExitCode {
    // A missing .env is normal; a broken one is worth knowing about.
    let dotenv = dotenvy::dotenv();
    let cli = Cli::parse();
    telemetry::init_logs(cli.config.log_format);
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
    let config = &cli.config;
    let mut out = std::io::stdout();
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => run(config).await,
        Command::Healthcheck => {
            let Some(address) = config.worker_http_addr else {
                bail!("WORKER_HTTP_ADDR is not set: the worker has no listener to ask");
            };
            let url = telemetry::loopback_url(address, "/health/ready");
            Ok(telemetry::healthcheck(&url).await?)
        }
        Command::DeadLetters(DeadLetterCommand::List { json }) => {
            let count = dead_letter_commands::list(&config.queue()?, json, &mut out).await?;
            if !json {
                eprintln!("{count} dead letter(s)");
            }
            Ok(())
        }
        Command::DeadLetters(DeadLetterCommand::Requeue { id, all }) => {
            let which = match id {
                Some(id) if !all => Requeue::One(id),
                _ => Requeue::All,
            };
            Ok(dead_letter_commands::requeue(&config.queue()?, which, &mut out).await?)
        }
    }
}

async fn run(config: &Config) -> anyhow::Result<()> {
    let stop = worker::shutdown_signal();
    // Configuration errors first, so the mode line is the first log line.
    config.redis_url()?;
    let mailer = config.mailer()?;
    let queue = Arc::new(config.queue()?);
    let renderer = TeraRenderer::load(&config.templates_dir)?;
    let policy = config.retry_policy();
    let delivery = EmailDelivery::new(
        Arc::new(CompletionRetries::new(queue.clone())),
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
        "email worker started"
    );
    let runner = Runner::new(
        queue.clone(),
        Arc::new(delivery),
        Arc::new(SystemClock),
        settings,
    );
    let listener = match config.worker_http_addr {
        Some(address) => {
            let server = operator_listener::serve(address, queue.clone())
                .with_context(|| format!("cannot listen on WORKER_HTTP_ADDR {address}"))?;
            tracing::info!(%address, "operator listener started");
            let handle = server.handle();
            tokio::spawn(server);
            Some(handle)
        }
        None => None,
    };
    let summary = runner.run(stop).await;
    if let Some(listener) = listener {
        listener.stop(true).await;
    }
    if let Err(error) = queue.leave_group_if_idle().await {
        tracing::debug!(error = %application::delivery::error_chain(&error), "could not leave the consumer group");
    }
    tracing::info!(?summary, "email worker stopped");
    Ok(())
}
