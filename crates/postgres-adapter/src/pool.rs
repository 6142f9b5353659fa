use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool::Runtime;
use diesel::{ConnectionError, ConnectionResult, QueryResult};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use tokio::time::timeout;

use crate::error::{Failure, PgError, redact};

/// A bounded pool of PostgreSQL connections.
pub type PgPool = Pool<AsyncPgConnection>;

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
}

impl Default for PgSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: Duration::from_secs(3),
            acquire_timeout: Duration::from_secs(2),
            query_timeout: Duration::from_secs(3),
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
    fn statement_timeout(&self) -> Duration {
        self.query_timeout + Duration::from_secs(1)
    }
}

/// Builds the pool without opening any connection, so a service can start
/// while PostgreSQL is down; connections are opened on first use.
pub fn connect(database_url: &str, settings: &PgSettings) -> Result<PgPool, PgError> {
    settings.validate()?;
    let url = DatabaseUrl::parse(database_url)?;
    let secrets: Arc<[String]> = url.secrets.into();
    let connect_timeout = settings.connect_timeout;
    let statement_timeout_ms = settings.statement_timeout().as_millis();

    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.recycling_method = RecyclingMethod::Verified;
    config.custom_setup = Box::new(move |url| {
        let secrets = Arc::clone(&secrets);
        Box::pin(async move {
            let setup = async {
                let mut conn = AsyncPgConnection::establish(url).await?;
                conn.batch_execute(&format!("SET statement_timeout = {statement_timeout_ms}"))
                    .await
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok::<_, ConnectionError>(conn)
            };
            bound_connect(connect_timeout, &secrets, setup).await
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

/// Opens a single connection outside any pool, bounded in time.
pub(crate) async fn establish(
    url: &DatabaseUrl,
    limit: Duration,
) -> ConnectionResult<AsyncPgConnection> {
    bound_connect(
        limit,
        &url.secrets,
        AsyncPgConnection::establish(url.as_str()),
    )
    .await
}

async fn bound_connect(
    limit: Duration,
    secrets: &[String],
    connecting: impl Future<Output = ConnectionResult<AsyncPgConnection>>,
) -> ConnectionResult<AsyncPgConnection> {
    match timeout(limit, connecting).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(error)) => Err(ConnectionError::BadConnection(redact(
            &error.to_string(),
            secrets,
        ))),
        Err(_) => Err(ConnectionError::BadConnection(format!(
            "connecting took longer than {limit:?}"
        ))),
    }
}

/// A parsed `postgres://` URL, with the forms of its password that must
/// never appear in a message.
pub(crate) struct DatabaseUrl {
    url: url::Url,
    pub(crate) secrets: Vec<String>,
}

impl DatabaseUrl {
    pub(crate) fn parse(raw: &str) -> Result<Self, PgError> {
        // The url crate's messages describe the problem, never the input.
        let url = url::Url::parse(raw).map_err(PgError::MalformedUrl)?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(PgError::InvalidUrl(
                "it must start with postgres:// or postgresql://",
            ));
        }
        let secrets = url
            .password()
            .map(|raw| {
                let decoded = percent_decode(raw).unwrap_or_default();
                vec![raw.to_owned(), decoded]
            })
            .unwrap_or_default();
        Ok(Self { url, secrets })
    }

    pub(crate) fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The database the URL names (its path, percent-decoded).
    pub(crate) fn database(&self) -> Result<String, PgError> {
        let raw = self.url.path().trim_start_matches('/');
        if raw.is_empty() {
            return Err(PgError::InvalidUrl("it names no database"));
        }
        percent_decode(raw)
            .ok_or_else(|| PgError::InvalidUrl("the database name is not valid UTF-8"))
    }

    /// The same server and credentials, another database.
    pub(crate) fn with_database(&self, database: &str) -> Self {
        let mut url = self.url.clone();
        // `set_path` percent-encodes what a path cannot hold.
        url.set_path(&format!("/{database}"));
        Self {
            url,
            secrets: self.secrets.clone(),
        }
    }
}

/// Decodes `%XX` escapes (and nothing else: `+` stays `+` in a URL path).
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
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
    pub(crate) async fn connection(&self) -> Result<Object<AsyncPgConnection>, Failure> {
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
    fn parses_the_database_and_the_password_forms() {
        let url = DatabaseUrl::parse("postgres://me:p%40ss@db.local:5433/my%20db?sslmode=disable")
            .unwrap();
        assert_eq!(url.database().unwrap(), "my db");
        assert_eq!(url.secrets, vec!["p%40ss".to_owned(), "p@ss".to_owned()]);
        let maintenance = url.with_database("postgres");
        assert_eq!(
            maintenance.as_str(),
            "postgres://me:p%40ss@db.local:5433/postgres?sslmode=disable"
        );
    }

    #[test]
    fn rejects_urls_that_are_not_postgres() {
        assert!(matches!(
            DatabaseUrl::parse("mysql://u@h/db"),
            Err(PgError::InvalidUrl(_))
        ));
        assert!(matches!(
            DatabaseUrl::parse("not a url"),
            Err(PgError::MalformedUrl(_))
        ));
        let no_database = DatabaseUrl::parse("postgres://u@h").unwrap();
        assert!(matches!(
            no_database.database(),
            Err(PgError::InvalidUrl(_))
        ));
    }

    #[test]
    fn percent_decoding_leaves_plus_and_stray_percent_alone() {
        assert_eq!(percent_decode("a+b%2Bc%").as_deref(), Some("a+b+c%"));
        assert_eq!(percent_decode("%zz").as_deref(), Some("%zz"));
        assert_eq!(percent_decode("%ff"), None);
    }

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
