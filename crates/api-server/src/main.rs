//! `api-server`: the command line. Wiring lives in the library
//! ([`api_server::Application`]), configuration in [`api_server::config`].

use std::process::ExitCode;

use anyhow::Context;
use api_server::config::Settings;
use api_server::{Application, Config, DatabaseConfig, KeysCommand};
use clap::{Parser, Subcommand};
use domain::{KeyId, SigningAlgorithm};

/// The auth API server. Every flag falls back to the environment variable
/// shown with it; a .env file in the working directory is read first.
#[derive(Debug, Parser)]
#[command(name = "api-server", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
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
        /// Promote the account even if its email address is not verified
        #[arg(long)]
        force: bool,
    },
    /// Manage the asymmetric signing keys (JWT_ALGORITHM ES256, EdDSA, RS256)
    #[command(subcommand)]
    Keys(KeysCli),
    /// Exit 0 when the local server's /health/ready answers 200 (for
    /// container health checks; uses HOST and PORT)
    Healthcheck,
}

/// `api-server keys ...`. Running instances apply a change within 5 s.
#[derive(Debug, Subcommand)]
enum KeysCli {
    /// Make a standby key (published, not signing yet); prints its kid
    Generate {
        #[arg(long = "alg", value_parser = parse_algorithm)]
        algorithm: SigningAlgorithm,
    },
    /// List every key: kid, algorithm, state, dates
    List,
    /// Make KID the signing key; the active key is retired. Refused for a
    /// key published less than JWKS_MAX_AGE ago unless --force
    Activate {
        #[arg(value_parser = parse_kid)]
        kid: KeyId,
        #[arg(long)]
        force: bool,
    },
    /// Stop a standby key from ever signing (the active key cannot be
    /// retired: activate another)
    Retire {
        #[arg(value_parser = parse_kid)]
        kid: KeyId,
    },
    /// Withdraw a key: its tokens are refused. Refused for a key retired
    /// less than the access-token lifetime + JWKS_MAX_AGE ago unless --force
    Revoke {
        #[arg(value_parser = parse_kid)]
        kid: KeyId,
        #[arg(long)]
        force: bool,
    },
    /// Import a PKCS#8 PEM private key as a standby key; prints its kid
    Import {
        #[arg(long = "alg", value_parser = parse_algorithm)]
        algorithm: SigningAlgorithm,
        /// FILE.pem (-----BEGIN PRIVATE KEY-----)
        file: String,
    },
}

fn parse_algorithm(text: &str) -> Result<SigningAlgorithm, String> {
    text.parse()
        .map_err(|error: domain::UnknownSigningAlgorithm| error.to_string())
}

fn parse_kid(text: &str) -> Result<KeyId, String> {
    KeyId::parse(text).map_err(|error| error.to_string())
}

impl From<KeysCli> for KeysCommand {
    fn from(command: KeysCli) -> Self {
        match command {
            KeysCli::Generate { algorithm } => Self::Generate { algorithm },
            KeysCli::List => Self::List,
            KeysCli::Activate { kid, force } => Self::Activate { kid, force },
            KeysCli::Retire { kid } => Self::Retire { kid },
            KeysCli::Revoke { kid, force } => Self::Revoke { kid, force },
            KeysCli::Import { algorithm, file } => Self::Import { algorithm, file },
        }
    }
}

fn main() -> ExitCode {
    // Before parsing: flags fall back to variables the .env file may set.
    let dotenv = dotenvy::dotenv();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => error.exit(), // --help, --version
        Err(error) => {
            eprintln!("error: {}", api_server::ConfigError::from(error));
            return ExitCode::from(2);
        }
    };
    telemetry::init_logs(cli.settings.log_format);
    if let Err(error) = dotenv
        && !error.not_found()
    {
        eprintln!("error: .env: {error}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    match runtime.block_on(run(command, &cli.settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One clear line; the chain says what failed and why.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: &Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let config = Config::load(settings)?;
            api_server::check_redis_tls(&config).await?;
            // A certificate that does not verify stops the start; a
            // database that is down does not (see check_tls).
            postgres_adapter::check_tls(&config.database_url, &config.pg)
                .await
                .context("DATABASE_URL")?;
            let app = Application::build(&config).await?;
            tracing::info!(host = %config.host, port = app.port(), "API listening");
            app.run_until_stopped()
                .await
                .context("server stopped with an error")?;
            tracing::info!("API stopped");
        }
        Command::Migrate => {
            let config = DatabaseConfig::load(settings)?;
            let url = config.migration_url();
            if postgres_adapter::ensure_database(url).await? {
                tracing::info!("created the database");
            }
            let applied = postgres_adapter::run_migrations(url).await?;
            if applied.is_empty() {
                tracing::info!("database schema is up to date");
            }
            for name in applied {
                tracing::info!(migration = %name, "applied migration");
            }
        }
        Command::Keys(command) => {
            let database = DatabaseConfig::load(settings)?;
            let keys = settings.keys_config()?;
            let out = api_server::run_keys_command(&database, &keys, command.into()).await?;
            print!("{out}");
        }
        Command::Healthcheck => {
            let address = (settings.host(), settings.port()).into();
            telemetry::healthcheck(&telemetry::loopback_url(address, "/health/ready")).await?;
        }
        Command::MakeAdmin { email, force } => {
            let config = DatabaseConfig::load(settings)?;
            let user = api_server::make_admin(&config, &email, force).await?;
            tracing::info!(user_id = %user.id, "user is now an admin");
            println!(
                "{} ({}, id {}) is now an admin",
                user.username, user.email, user.id
            );
        }
    }
    Ok(())
}
