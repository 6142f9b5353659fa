//! `api-server keys ...`: the operator's signing-key commands, on the
//! database (and, to make or import a key, `SIGNING_KEYS_ENCRYPTION_KEY`).
//! The rules are the domain's; running instances apply a change within
//! 5 s (`signing_keys_loop`).

use std::sync::Arc;

use application::ports::{ForgedKey, KeyWorkshop, KeyWorkshopError, StoredSigningKey, SystemClock};
use application::{SigningKeyError, SigningKeys};
use crypto_adapter::{CryptoKeyWorkshop, JwtCodec, JwtSettings, KeyVault};
use domain::{KeyId, KeyLifecycle, SigningAlgorithm};
use postgres_adapter::PgSigningKeyStore;

use crate::DatabaseConfig;
use crate::config::KeysConfig;

#[derive(Debug, thiserror::Error)]
pub enum KeysCommandError {
    #[error(transparent)]
    Postgres(#[from] postgres_adapter::PgError),
    #[error(transparent)]
    Keys(#[from] SigningKeyError),
    #[error("cannot read {path}")]
    ReadFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("SIGNING_KEYS_ENCRYPTION_KEY")]
    EncryptionKey(#[source] crypto_adapter::VaultError),
    #[error(transparent)]
    Codec(#[from] crypto_adapter::JwtKeyError),
}

/// One `keys` command.
#[derive(Debug, Clone)]
pub enum KeysCommand {
    Generate {
        algorithm: SigningAlgorithm,
    },
    Import {
        algorithm: SigningAlgorithm,
        file: String,
    },
    List,
    Activate {
        kid: KeyId,
        force: bool,
    },
    Retire {
        kid: KeyId,
    },
    Revoke {
        kid: KeyId,
        force: bool,
    },
}

/// Runs `command`; returns what to print.
pub async fn run_keys_command(
    database: &DatabaseConfig,
    keys: &KeysConfig,
    command: KeysCommand,
) -> Result<String, KeysCommandError> {
    let pool = postgres_adapter::connect(&database.database_url, &database.pg)?;
    let workshop: Arc<dyn KeyWorkshop> = match &keys.encryption_key {
        Some(key) => {
            let vault = KeyVault::from_base64(key).map_err(KeysCommandError::EncryptionKey)?;
            // The codec is this command's own: nothing signs with it.
            let codec = JwtCodec::asymmetric(None, JwtSettings::default())?;
            Arc::new(CryptoKeyWorkshop::new(vault, Arc::new(codec)))
        }
        None => Arc::new(NoEncryptionKey),
    };
    let signing = SigningKeys::new(
        Arc::new(PgSigningKeyStore::new(pool, database.pg)),
        workshop,
        Arc::new(SystemClock),
        keys.policy,
    );
    Ok(match command {
        KeysCommand::Generate { algorithm } => {
            let key = signing.generate(algorithm).await?;
            format!("{}\n", key.kid)
        }
        KeysCommand::Import { algorithm, file } => {
            let pem =
                std::fs::read_to_string(&file).map_err(|source| KeysCommandError::ReadFile {
                    path: file.clone(),
                    source,
                })?;
            let key = signing.import(algorithm, &pem).await?;
            format!("{}\n", key.kid)
        }
        KeysCommand::List => table(&signing.list().await?),
        KeysCommand::Activate { kid, force } => {
            let changes = signing.activate(&kid, force).await?;
            changes
                .iter()
                .map(|change| format!("{}: {} -> {}\n", change.kid, change.from, change.to))
                .collect()
        }
        KeysCommand::Retire { kid } => {
            let change = signing.retire(&kid).await?;
            format!("{}: {} -> {}\n", change.kid, change.from, change.to)
        }
        KeysCommand::Revoke { kid, force } => {
            let change = signing.revoke(&kid, force).await?;
            format!("{}: {} -> {}\n", change.kid, change.from, change.to)
        }
    })
}

/// kid, algorithm, state and dates, one key a line, oldest first.
fn table(keys: &[KeyLifecycle]) -> String {
    let date = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or_else(
            || "-".to_owned(),
            |at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
    };
    let mut out = String::from("kid\talg\tstate\tpublished\tactivated\tretired\trevoked\n");
    for key in keys {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            key.kid,
            key.algorithm,
            key.state,
            date(Some(key.published_at)),
            date(key.activated_at),
            date(key.retired_at),
            date(key.revoked_at),
        ));
    }
    out
}

/// Stands in for the key workshop when no `SIGNING_KEYS_ENCRYPTION_KEY`
/// is given: the commands that only change states need none.
struct NoEncryptionKey;

impl NoEncryptionKey {
    fn refused() -> KeyWorkshopError {
        KeyWorkshopError::InvalidKey(
            "SIGNING_KEYS_ENCRYPTION_KEY is required to make or import a key".to_owned(),
        )
    }
}

impl KeyWorkshop for NoEncryptionKey {
    fn new_kid(&self) -> KeyId {
        // Never used: generate and import fail first.
        KeyId::parse("unused").unwrap_or_else(|_| unreachable!("a valid kid"))
    }

    fn generate(&self, _: &KeyId, _: SigningAlgorithm) -> Result<ForgedKey, KeyWorkshopError> {
        Err(Self::refused())
    }

    fn import(
        &self,
        _: &KeyId,
        _: SigningAlgorithm,
        _: &str,
    ) -> Result<ForgedKey, KeyWorkshopError> {
        Err(Self::refused())
    }

    fn put_in_use(&self, _: &[StoredSigningKey]) -> Result<(), KeyWorkshopError> {
        Ok(())
    }
}
