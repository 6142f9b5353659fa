//! `email-worker`: consumes the email job queue and delivers through
//! Mailgun (or, with no `MAILGUN_API_KEY`, writes emails to files), and
//! manages dead letters. Wiring only: the flags are in `cli`, their
//! checking in `config`, the adapters' building in `adapters`, the rest in
//! the `worker` library.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use application::delivery::EmailDelivery;
use application::ports::SystemClock;
use clap::Parser;
use cli::{Cli, Command, DeadLetterCommand, Settings};
use config::{Config, QueueConfig};
use worker::dead_letter_commands::{self, Requeue};
use worker::{CompletionRetries, Runner, TeraRenderer, operator_listener};

mod adapters;
mod cli;
mod config;

fn main() -> ExitCode {
    // A missing .env is normal; a broken one is worth knowing about.
    let dotenv = dotenvy::dotenv();
    let cli = Cli::parse();
    telemetry::init_logs(cli.settings.log_format);
    if let Err(error) = &dotenv
        && !error.not_found()
    {
        tracing::warn!(error.chain = %application::ErrorChain(&error), "ignoring an unreadable .env file");
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
    let settings = &cli.settings;
    let mut out = std::io::stdout();
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => run(settings).await,
        Command::Healthcheck => {
            let Some(address) = settings.worker_http_addr else {
                bail!("WORKER_HTTP_ADDR is not set: the worker has no listener to ask");
            };
            let url = telemetry::loopback_url(address, "/health/ready");
            Ok(telemetry::healthcheck(&url).await?)
        }
        Command::DeadLetters(DeadLetterCommand::List { json }) => {
            let queue = adapters::queue(&QueueConfig::load(settings)?).await?;
            let count = dead_letter_commands::list(&queue, json, &mut out).await?;
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
            let queue = adapters::queue(&QueueConfig::load(settings)?).await?;
            Ok(dead_letter_commands::requeue(&queue, which, &mut out).await?)
        }
    }
}

async fn run(settings: &Settings) -> anyhow::Result<()> {
    let stop = worker::shutdown_signal();
    // Configuration errors first, so the mode line is the first log line.
    let config = Config::load(settings)?;
    let mailer = adapters::mailer(&config.mailer)?;
    let queue = Arc::new(adapters::queue(&config.queue).await?);
    let renderer = TeraRenderer::load(&config.templates_dir)?;
    let policy = config.retry;
    let delivery = EmailDelivery::new(
        Arc::new(CompletionRetries::new(queue.clone())),
        Arc::new(renderer),
        mailer,
        Arc::new(SystemClock),
        worker::random_jitter(),
        policy,
    );
    tracing::info!(
        consumer = %queue.settings().consumer,
        concurrency = config.runner.concurrency,
        max_attempts = policy.max_attempts,
        visibility_timeout_secs = config.queue.visibility_timeout.as_secs(),
        "email worker started"
    );
    let runner = Runner::new(
        queue.clone(),
        Arc::new(delivery),
        Arc::new(SystemClock),
        config.runner,
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
        tracing::debug!(error.chain = %application::ErrorChain(&error), "could not leave the consumer group");
    }
    tracing::info!(?summary, "email worker stopped");
    Ok(())
}
