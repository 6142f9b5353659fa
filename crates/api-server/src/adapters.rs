//! The adapters behind the ports, built from the configuration. Nothing
//! connects yet: pools open connections on first use, so the server starts
//! (and `/health/live` answers) while a dependency is down.

use std::num::NonZeroUsize;
use std::sync::Arc;

use application::ports::{SystemClock, TokenCodec, UserAdminStore, UserDirectory};
use application::{AccountPorts, SecondFactorPorts, SecretMail, SigningKeys};
use crypto_adapter::{
    Argon2Hasher, CryptoKeyWorkshop, HasherSettings, JwtCodec, KeyVault, RandomSecrets,
};
use domain::KeyPolicy;
use postgres_adapter::{
    PgOneTimeSecretStore, PgPool, PgRevocationMarkQueue, PgSecondFactorStore, PgSessionRepository,
    PgSettings, PgSigningKeyStore, PgUserAdminStore, PgUserDirectory, PgUserRepository,
};
use redis_adapter::{RedisPool, RedisSettings, RedisTokenRevocations, RevocationCacheSettings};

use crate::background_tasks::TokioBackgroundTasks;
use crate::outbox_relay_loop::OutboxWakeup;
use crate::{Config, StartupError};

/// Account emails queued after their answer, at most this many at once
/// (see `TokioBackgroundTasks`).
const BACKGROUND_TASK_LIMIT: usize = 256;

/// How long an account email's task waits before it starts, so that its
/// work never competes with the answer being written (see
/// `TokioBackgroundTasks`). Short against an email's delivery time.
const BACKGROUND_TASK_START_DELAY: std::time::Duration = std::time::Duration::from_millis(10);

/// Every adapter the use cases, the probes and the metrics read.
pub(crate) struct Adapters {
    pub pg: PgPool,
    pub pg_settings: PgSettings,
    pub redis: RedisPool,
    pub redis_settings: RedisSettings,
    /// The revocation store as itself, for its cache's counters.
    pub token_revocations: Arc<RedisTokenRevocations>,
    /// Signs and checks tokens; only `Authentication` needs it.
    pub tokens: Arc<dyn TokenCodec>,
    /// The asymmetric signing keys, when `JWT_ALGORITHM` asks for them.
    pub signing_keys: Option<Arc<SigningKeys>>,
    /// What every use case but `Authentication` is built from.
    pub account: AccountPorts,
    /// The second factor's store and cryptography.
    pub second_factor: SecondFactorPorts,
    /// The admin user search.
    pub user_directory: Arc<dyn UserDirectory>,
    /// The admins' changes to accounts.
    pub user_admin_store: Arc<dyn UserAdminStore>,
}

impl Adapters {
    /// `outbox` is woken whenever a use case queued an email.
    pub(crate) fn build(config: &Config, outbox: &OutboxWakeup) -> Result<Self, StartupError> {
        let pg_settings = config.pg;
        let pg = postgres_adapter::connect(&config.database_url, &pg_settings)?;
        let redis_settings = RedisSettings {
            max_connections: config.redis_pool_size,
            ..RedisSettings::default()
        };
        let redis = redis_adapter::connect_endpoint(&config.redis, &redis_settings)?;
        let token_revocations = Arc::new(token_revocations(config, &redis_settings)?);
        let hasher = Argon2Hasher::new(HasherSettings::default())?;
        let (tokens, signing_keys) = token_signing(config, &pg, pg_settings)?;
        let account = AccountPorts {
            users: Arc::new(PgUserRepository::new(pg.clone(), pg_settings)),
            sessions: Arc::new(PgSessionRepository::new(pg.clone(), pg_settings)),
            secrets: Arc::new(PgOneTimeSecretStore::new(pg.clone(), pg_settings)),
            revocations: token_revocations.clone(),
            marks: Arc::new(PgRevocationMarkQueue::new(pg.clone(), pg_settings)),
            hasher: Arc::new(hasher),
            clock: Arc::new(SystemClock),
            outbox: Arc::new(outbox.clone()),
            mail: SecretMail::new(Arc::new(RandomSecrets), config.account_emails.clone()),
            lifetimes: config.lifetimes,
            // The runtime building the server (`main`'s), not an actix
            // worker's: see `TokioBackgroundTasks`.
            tasks: Arc::new(TokioBackgroundTasks::new(
                BACKGROUND_TASK_LIMIT,
                BACKGROUND_TASK_START_DELAY,
                tokio::runtime::Handle::try_current().map_err(StartupError::NoRuntime)?,
            )),
        };
        let second_factor = SecondFactorPorts {
            store: Arc::new(PgSecondFactorStore::new(pg.clone(), pg_settings)),
            crypto: Arc::new(config.second_factor.crypto()?),
        };
        Ok(Self {
            second_factor,
            user_directory: Arc::new(PgUserDirectory::new(pg.clone(), pg_settings)),
            user_admin_store: Arc::new(PgUserAdminStore::new(pg.clone(), pg_settings)),
            pg,
            pg_settings,
            redis,
            redis_settings,
            token_revocations,
            tokens,
            signing_keys,
            account,
        })
    }
}

/// The codec every token goes through, and the signing keys it is kept
/// current with when they are asymmetric.
type TokenSigning = (Arc<dyn TokenCodec>, Option<Arc<SigningKeys>>);

/// The token codec: on the shared secret, or on the asymmetric keys of
/// PostgreSQL (none in use until `SigningKeys::start`).
fn token_signing(
    config: &Config,
    pg: &PgPool,
    pg_settings: PgSettings,
) -> Result<TokenSigning, StartupError> {
    let Some(signing) = &config.signing else {
        let secret = config
            .jwt_secret
            .as_ref()
            .ok_or(StartupError::NoSigningKey)?;
        return Ok((Arc::new(JwtCodec::new(secret, config.jwt.clone())?), None));
    };
    let codec = Arc::new(JwtCodec::asymmetric(
        config.jwt_secret.as_ref(),
        config.jwt.clone(),
    )?);
    let vault =
        KeyVault::from_base64(&signing.encryption_key).map_err(StartupError::EncryptionKey)?;
    let keys = SigningKeys::new(
        Arc::new(PgSigningKeyStore::new(pg.clone(), pg_settings)),
        Arc::new(CryptoKeyWorkshop::new(vault, codec.clone())),
        Arc::new(SystemClock),
        key_policy(config),
    );
    Ok((codec, Some(Arc::new(keys))))
}

/// The times the key lifecycle's refusals are measured against.
pub(crate) fn key_policy(config: &Config) -> KeyPolicy {
    KeyPolicy {
        jwks_max_age: chrono::Duration::from_std(config.jwks_max_age)
            .unwrap_or(chrono::Duration::MAX),
        access_token_lifetime: config.lifetimes.access,
    }
}

/// The revocation store on a connection of its own, with this instance's
/// cache of marks unless `REVOCATION_CACHE_SIZE` is 0.
fn token_revocations(
    config: &Config,
    redis_settings: &RedisSettings,
) -> Result<RedisTokenRevocations, StartupError> {
    let revocations = RedisTokenRevocations::new(
        redis_adapter::connect_shared_endpoint(&config.redis, redis_settings)?,
        config.redis_key_prefix.clone(),
        redis_settings.command_timeout,
    );
    Ok(match NonZeroUsize::new(config.revocation_cache_size) {
        Some(capacity) => revocations.with_cache_on(
            &config.redis,
            RevocationCacheSettings::new(capacity, redis_settings),
        )?,
        None => revocations,
    })
}
