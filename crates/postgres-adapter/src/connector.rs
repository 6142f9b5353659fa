//! Opening one connection: plain or TLS (see `tls.rs`), and, behind a
//! pooler in transaction mode, without leaving anything on the server
//! session. See docs/configuration.md#postgresql-poolers.

use std::time::Duration;

use diesel::connection::CacheSize;
use diesel::{ConnectionError, ConnectionResult};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use tokio::time::timeout;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{NoTls, Socket};

use crate::database_url::DatabaseUrl;
use crate::error::{PgError, redact};
use crate::tls::{RustlsConnect, is_certificate_error};

/// What sits between us and PostgreSQL (`DATABASE_POOLER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pooler {
    /// PostgreSQL itself, or a pooler in session mode: a connection is one
    /// server session for its whole life.
    #[default]
    Session,
    /// A pooler in transaction mode (PgBouncer `pool_mode=transaction`):
    /// consecutive transactions of one connection may run on different
    /// server sessions, so nothing may outlive a transaction.
    Transaction,
}

/// A database URL with its TLS connector ready (the CA file read once).
pub(crate) struct Connector {
    pub(crate) url: DatabaseUrl,
    tls: Option<RustlsConnect>,
}

impl Connector {
    pub(crate) fn new(url: DatabaseUrl) -> Result<Self, PgError> {
        let tls = url.tls.connector()?;
        Ok(Self { url, tls })
    }

    pub(crate) fn parse(raw: &str) -> Result<Self, PgError> {
        Self::new(DatabaseUrl::parse(raw)?)
    }

    /// Opens a connection within `limit`; its errors never hold the password.
    pub(crate) async fn open(
        &self,
        pooler: Pooler,
        limit: Duration,
    ) -> ConnectionResult<AsyncPgConnection> {
        let url = self.url.driver_url();
        let opening = async {
            match &self.tls {
                None => open_with(url, NoTls, pooler).await,
                Some(tls) => open_with(url, tls.clone(), pooler).await,
            }
        };
        match timeout(limit, opening).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(error)) => Err(ConnectionError::BadConnection(redact(
                &error.to_string(),
                &self.url.secrets,
            ))),
            Err(_) => Err(ConnectionError::BadConnection(format!(
                "connecting took longer than {limit:?}"
            ))),
        }
    }

    /// When the URL asks for TLS: connects once and fails only when the
    /// server's certificate does not verify. Any other failure (the server
    /// down, a password refused) is logged and left to the first query, as
    /// without TLS: a service starts while its database is down.
    pub(crate) async fn check_certificate(&self, limit: Duration) -> Result<(), PgError> {
        let Some(tls) = &self.tls else {
            return Ok(());
        };
        let connecting = tokio_postgres::connect(self.url.driver_url(), tls.clone());
        match timeout(limit, connecting).await {
            Ok(Ok((client, connection))) => {
                drop(client);
                // Ends once the client is gone (Terminate sent).
                let _ = connection.await;
                Ok(())
            }
            Ok(Err(error)) if is_certificate_error(&error) => Err(PgError::Certificate {
                trusted: self.url.tls.trust_anchor(),
                reason: redact(&root_cause(&error), &self.url.secrets),
            }),
            Ok(Err(error)) => {
                tracing::warn!(
                    error = %redact(&error_text(&error), &self.url.secrets),
                    "could not check PostgreSQL's certificate at start; will retry on first use"
                );
                Ok(())
            }
            Err(_) => {
                tracing::warn!(
                    ?limit,
                    "could not check PostgreSQL's certificate at start; will retry on first use"
                );
                Ok(())
            }
        }
    }
}

/// The error and its sources on one line: tokio-postgres's own text of a
/// server refusal is only "db error".
fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(source) = current {
        text.push_str(": ");
        text.push_str(&source.to_string());
        current = source.source();
    }
    text
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

async fn open_with<T>(url: &str, tls: T, pooler: Pooler) -> ConnectionResult<AsyncPgConnection>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, mut connection) = tokio_postgres::connect(url, tls)
        .await
        .map_err(|error| ConnectionError::BadConnection(error_text(&error)))?;
    let transaction_mode = pooler == Pooler::Transaction;
    if transaction_mode {
        // diesel-async sets the time zone and encoding with prepared
        // statements as it wraps the client: in one transaction, they stay
        // on one server session (the pooler carries both parameters over
        // to whichever session serves us next). Until diesel-async drives
        // the connection, we do.
        let begin = client.batch_execute("BEGIN");
        tokio::pin!(begin);
        tokio::select! {
            begun = &mut begin => {
                begun.map_err(|error| ConnectionError::BadConnection(error_text(&error)))?;
            }
            ended = &mut connection => {
                let reason = match ended {
                    Ok(()) => "the server closed the connection".to_owned(),
                    Err(error) => error_text(&error),
                };
                return Err(ConnectionError::BadConnection(reason));
            }
        }
    }
    let mut conn = AsyncPgConnection::try_from_client_and_connection(client, connection).await?;
    if transaction_mode {
        conn.batch_execute("COMMIT")
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        // A cached statement would outlive its transaction.
        conn.set_prepared_statement_cache_size(CacheSize::Disabled);
    }
    Ok(conn)
}
