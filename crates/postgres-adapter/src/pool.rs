use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool::Runtime;
use diesel::{ConnectionError, QueryResult};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use futures_util::future::BoxFuture;
use tokio::time::timeout;

use crate::connection::PgConn;
use crate::connector::Connector;
pub use crate::connector::Pooler;
use crate::database_url::DatabaseUrl;
use crate::error::{Failure, PgError};

/// A bounded pool of PostgreSQL connections.
pub type PgPool = Pool<PgConn>;

/// Size and time bounds of the pool and of every statement run through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgSettings {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Longest wait to open (and set up) one connection.
    pub connect_timeout: Duration,
    /// Longest wait for a free connection when all are in use.
    pub acquire_timeout: Duration,
    /// Longest wait for one statement or transaction.
    pub query_timeout: Duration,
    /// What sits between us and PostgreSQL.
    pub pooler: Pooler,
}

impl Default for PgSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: Duration::from_secs(3),
            acquire_timeout: Duration::from_secs(2),
            query_timeout: Duration::from_secs(3),
            pooler: Pooler::Session,
        }
    }
}

impl PgSettings {
    fn validate(&self) -> Result<(), PgError> {
        if self.max_connections == 0 {
            return Err(PgError::InvalidSettings(
                "max_connections must be at least 1",
            ));
        }
        if self.connect_timeout.is_zero()
            || self.acquire_timeout.is_zero()
            || self.query_timeout.is_zero()
        {
            return Err(PgError::InvalidSettings("timeouts must be above zero"));
        }
        Ok(())
    }

    /// The server-side `statement_timeout`: a little longer than our own
    /// bound, so callers see our timeout (Unavailable) first while the server
    /// still stops a statement that nobody waits for any more.
    pub(crate) fn statement_timeout(&self) -> Duration {
        self.query_timeout + Duration::from_secs(1)
    }
}

/// Builds the pool without opening any connection, so a service can start
/// while PostgreSQL is down; connections are opened on first use. The URL's
/// TLS parameters are checked (and its CA file read) now.
pub fn connect(database_url: &str, settings: &PgSettings) -> Result<PgPool, PgError> {
    settings.validate()?;
    let connector = Arc::new(Connector::parse(database_url)?);
    let settings = *settings;
    let statement_timeout_ms = settings.statement_timeout().as_millis();

    let mut config = ManagerConfig::<PgConn>::default();
    config.recycling_method = match settings.pooler {
        Pooler::Session => RecyclingMethod::Verified,
        // A simple query: no statement to prepare, no transaction to open.
        Pooler::Transaction => RecyclingMethod::CustomFunction(Box::new(ping)),
    };
    config.custom_setup = Box::new(move |_url| {
        let connector = Arc::clone(&connector);
        Box::pin(async move {
            let mut conn = connector
                .open(settings.pooler, settings.connect_timeout)
                .await?;
            // Behind a transaction-mode pooler, a session setting would
            // stick to whichever server session ran it: there the timeout
            // is set per transaction instead.
            if settings.pooler == Pooler::Session {
                conn.batch_execute(&format!("SET statement_timeout = {statement_timeout_ms}"))
                    .await
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
            }
            Ok(PgConn::new(conn, settings.pooler, statement_timeout_ms))
        })
    });
    let manager = AsyncDieselConnectionManager::new_with_config(database_url, config);
    Pool::builder(manager)
        .max_size(settings.max_connections)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.acquire_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .recycle_timeout(Some(settings.query_timeout))
        .build()
        .map_err(|error| PgError::Pool(error.into()))
}

fn ping(conn: &mut PgConn) -> BoxFuture<'_, QueryResult<()>> {
    Box::pin(conn.batch_execute("SELECT 1"))
}

/// Checks the URL (its TLS parameters, its CA file) without connecting:
/// for configuration checks that want a problem named at start.
pub fn check_url(database_url: &str) -> Result<(), PgError> {
    Connector::parse(database_url).map(drop)
}

/// When `database_url` asks for TLS, connects once and refuses a server
/// whose certificate does not verify ([`PgError::Certificate`]). Any other
/// failure is logged and left to the first query, so a service still
/// starts while its database is down. Without TLS it connects to nothing.
pub async fn check_tls(database_url: &str, settings: &PgSettings) -> Result<(), PgError> {
    Connector::parse(database_url)?
        .check_certificate(settings.connect_timeout)
        .await
}

/// Opens a single direct connection outside any pool, bounded in time.
pub(crate) async fn establish(
    url: DatabaseUrl,
    limit: Duration,
) -> Result<AsyncPgConnection, PgError> {
    Connector::new(url)?
        .open(Pooler::Session, limit)
        .await
        .map_err(|error| PgError::Connect(error.into()))
}

/// The pool plus the bounds every repository call observes.
#[derive(Clone)]
pub(crate) struct Db {
    pool: PgPool,
    settings: PgSettings,
}

impl Db {
    pub(crate) fn new(pool: PgPool, settings: PgSettings) -> Self {
        Self { pool, settings }
    }

    pub(crate) fn settings(&self) -> &PgSettings {
        &self.settings
    }

    /// A pooled connection, or Unavailable once waiting for a free slot and
    /// opening a connection have taken longer than their bounds together.
    pub(crate) async fn connection(&self) -> Result<Object<PgConn>, Failure> {
        let limit = self.settings.acquire_timeout + self.settings.connect_timeout;
        match timeout(limit, self.pool.get()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(error)) => Err(error.into()),
            Err(_) => Err(Failure::unavailable(format!(
                "no database connection within {limit:?}"
            ))),
        }
    }

    /// Runs one statement or transaction within the query timeout. A
    /// transaction cut short leaves its connection marked broken, and the
    /// pool discards it instead of handing it out again.
    pub(crate) async fn bounded<T>(
        &self,
        query: impl Future<Output = QueryResult<T>>,
    ) -> Result<T, Failure> {
        let limit = self.settings.query_timeout;
        match timeout(limit, query).await {
            Ok(result) => result.map_err(Failure::from),
            Err(_) => Err(Failure::unavailable(format!(
                "the statement took longer than {limit:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_must_bound_something() {
        assert!(PgSettings::default().validate().is_ok());
        let zero_pool = PgSettings {
            max_connections: 0,
            ..PgSettings::default()
        };
        assert!(zero_pool.validate().is_err());
        let zero_timeout = PgSettings {
            query_timeout: Duration::ZERO,
            ..PgSettings::default()
        };
        assert!(zero_timeout.validate().is_err());
    }

    #[tokio::test]
    async fn connect_builds_lazily_and_rejects_bad_input() {
        // Nothing listens on port 1: building must still succeed.
        assert!(connect("postgres://u@127.0.0.1:1/db", &PgSettings::default()).is_ok());
        assert!(matches!(
            connect("http://x/db", &PgSettings::default()),
            Err(PgError::InvalidUrl(_))
        ));
    }
}
