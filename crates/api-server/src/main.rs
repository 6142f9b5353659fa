use std::process::ExitCode;

use anyhow::Context;
use api_server::{Application, Config, DatabaseConfig, config};
use clap::{Parser, Subcommand};

const ENVIRONMENT: &str = "\
Environment (a .env file in the working directory is read too):
  DATABASE_URL               postgres://user:password@host:5432/name (required)
  REDIS_URL                  redis://host:6379 (required by serve)
  JWT_SECRET_KEY             at least 32 bytes (required by serve)
  JWT_ALGORITHM              HS256 (default), HS384 or HS512
  JWT_ACCESS_TOKEN_EXPIRES   seconds, default 300
  JWT_REFRESH_TOKEN_EXPIRES  seconds, default 2592000
  PASSWORD_MIN_LENGTH        default 8
  REDIS_KEY_PREFIX           default auth: (the email worker must match)
  HOST, PORT                 default 127.0.0.1 and 5000
  HTTP_WORKERS               default one per core
  RUST_LOG                   log filter, default info
  LOG_FORMAT                 text (default) or json";

/// The auth API server.
#[derive(Debug, Parser)]
#[command(name = "api-server", version, after_help = ENVIRONMENT)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (the default)
    Serve,
    /// Create the database if missing and apply pending migrations
    Migrate,
    /// Give the user with this email the admin role
    MakeAdmin {
        /// The user's email (case-insensitive)
        email: String,
    },
    /// Exit 0 when the local server's /health/ready answers 200 (for
    /// container health checks; uses HOST and PORT)
    Healthcheck,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A missing .env is normal; a malformed one is worth knowing about.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("error: .env: {error}");
        return ExitCode::from(2);
    }
    init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One clear line; the chain says what failed and why.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    let env = config::from_process_env();
    match command {
        Command::Serve => {
            let config = Config::load(&env)?;
            let app = Application::build(&config)?;
            tracing::info!(host = %config.host, port = app.port(), "API listening");
            app.run_until_stopped()
                .await
                .context("server stopped with an error")?;
            tracing::info!("API stopped");
        }
        Command::Migrate => {
            let config = DatabaseConfig::load(&env)?;
            if postgres_adapter::ensure_database(&config.database_url).await? {
                tracing::info!("created the database");
            }
            let applied = postgres_adapter::run_migrations(&config.database_url).await?;
            if applied.is_empty() {
                tracing::info!("database schema is up to date");
            }
            for name in applied {
                tracing::info!(migration = %name, "applied migration");
            }
        }
        Command::Healthcheck => {
            let host: std::net::IpAddr = std::env::var("HOST")
                .unwrap_or_else(|_| "127.0.0.1".into())
                .parse()
                .context("HOST is invalid")?;
            let port: u16 = std::env::var("PORT")
                .unwrap_or_else(|_| "5000".into())
                .parse()
                .context("PORT is invalid")?;
            let url = telemetry::loopback_url((host, port).into(), "/health/ready");
            telemetry::healthcheck(&url).await?;
        }
        Command::MakeAdmin { email } => {
            let config = DatabaseConfig::load(&env)?;
            let user = api_server::make_admin(&config, &email).await?;
            tracing::info!(user_id = %user.id, "user is now an admin");
            println!("{} ({}) is now an admin", user.email, user.id);
        }
    }
    Ok(())
}

/// Human-readable logs, or JSON lines with `LOG_FORMAT=json`.
fn init_tracing() {
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    telemetry::init_logs(if json {
        telemetry::LogFormat::Json
    } else {
        telemetry::LogFormat::Text
    });
}
