//! The pooled connection: diesel-async's `AsyncPgConnection`, plus what a
//! pooler in transaction mode needs (docs/configuration.md#postgresql-poolers).
//!
//! tokio-postgres prepares every statement under a name (Parse, then Sync)
//! before it binds and runs it (Bind, Execute, Sync), and closes it later.
//! Behind PgBouncer 1.18 in transaction mode each Sync outside a
//! transaction may hand the next message to another server session, where
//! that name does not exist (or names another client's statement). So in
//! [`Pooler::Transaction`] mode:
//! - a statement run outside any transaction gets one of its own (BEGIN,
//!   the statement, its rows read, COMMIT), so prepare, run and close all
//!   happen on one server session;
//! - every transaction starts with `SET LOCAL statement_timeout` instead of
//!   a session-wide `SET` at connect;
//! - no statement is cached past its transaction (see `connector.rs`).
//!
//! In [`Pooler::Session`] mode everything goes straight to the inner
//! connection.

use std::sync::atomic::{AtomicBool, Ordering};

use diesel::connection::{CacheSize, Instrumentation, TransactionManagerStatus};
use diesel::pg::Pg;
use diesel::query_builder::{AsQuery, QueryFragment, QueryId};
use diesel::{ConnectionResult, QueryResult};
use diesel_async::pooled_connection::PoolableConnection;
use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncConnectionCore, AsyncPgConnection,
    SimpleAsyncConnection, TransactionManager,
};
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt, TryStreamExt};

use crate::connector::Pooler;

/// diesel-async's row type (its name is private; it borrows nothing).
type PgRow = <AsyncPgConnection as AsyncConnectionCore>::Row<'static, 'static>;

/// A PostgreSQL connection as the repositories use it.
pub struct PgConn {
    inner: AsyncPgConnection,
    pooler: Pooler,
    /// What opens a transaction: `BEGIN`, plus the statement timeout in
    /// transaction mode.
    begin: String,
    /// Set while a statement's own transaction is open: if its future is
    /// dropped half-way (a timeout), the connection is still in that
    /// transaction, and the pool must discard it.
    own_transaction_open: AtomicBool,
}

impl PgConn {
    pub(crate) fn new(
        inner: AsyncPgConnection,
        pooler: Pooler,
        statement_timeout_ms: u128,
    ) -> Self {
        let begin = match pooler {
            Pooler::Session => "BEGIN".to_owned(),
            Pooler::Transaction => {
                format!("BEGIN; SET LOCAL statement_timeout = {statement_timeout_ms}")
            }
        };
        Self {
            inner,
            pooler,
            begin,
            own_transaction_open: AtomicBool::new(false),
        }
    }

    /// Whether a statement must be wrapped in a transaction of its own.
    fn needs_own_transaction(&mut self) -> bool {
        if self.pooler == Pooler::Session {
            return false;
        }
        let status =
            <AnsiTransactionManager as TransactionManager<AsyncPgConnection>>::transaction_manager_status_mut(
                &mut self.inner,
            );
        // A broken status: let the inner connection report it.
        matches!(status.transaction_depth(), Ok(None))
    }

    /// Runs `statement` (a future that has not sent anything yet) between
    /// BEGIN and COMMIT, ROLLBACK on failure.
    fn in_own_transaction<'conn, T: Send + 'conn>(
        &'conn self,
        statement: BoxFuture<'conn, QueryResult<T>>,
    ) -> BoxFuture<'conn, QueryResult<T>> {
        let open = &self.own_transaction_open;
        let begin = self.begin.as_str();
        let mut conn = &self.inner;
        async move {
            open.store(true, Ordering::SeqCst);
            conn.batch_execute(begin).await?;
            let result = statement.await;
            let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
            conn.batch_execute(end).await?;
            open.store(false, Ordering::SeqCst);
            result
        }
        .boxed()
    }
}

impl SimpleAsyncConnection for PgConn {
    async fn batch_execute(&mut self, query: &str) -> QueryResult<()> {
        self.inner.batch_execute(query).await
    }
}

impl AsyncConnectionCore for PgConn {
    type ExecuteFuture<'conn, 'query> = BoxFuture<'conn, QueryResult<usize>>;
    type LoadFuture<'conn, 'query> = BoxFuture<'conn, QueryResult<Self::Stream<'conn, 'query>>>;
    type Stream<'conn, 'query> = BoxStream<'static, QueryResult<PgRow>>;
    type Row<'conn, 'query> = PgRow;
    type Backend = Pg;

    fn load<'conn, 'query, T>(&'conn mut self, source: T) -> Self::LoadFuture<'conn, 'query>
    where
        T: AsQuery + 'query,
        T::Query: QueryFragment<Pg> + QueryId + 'query,
    {
        if !self.needs_own_transaction() {
            return self.inner.load(source);
        }
        let this: &'conn Self = self;
        // Through a shared reference (diesel-async's pipelining API), the
        // query is turned into SQL and binds now, and sent only when
        // polled: after BEGIN.
        let mut shared = &this.inner;
        let loading = shared.load(source);
        // Rows are read before COMMIT, and the statement is closed with them.
        let rows = async move {
            let rows: Vec<PgRow> = loading.await?.try_collect().await?;
            Ok(futures_util::stream::iter(rows.into_iter().map(Ok)).boxed())
        }
        .boxed();
        this.in_own_transaction(rows)
    }

    fn execute_returning_count<'conn, 'query, T>(
        &'conn mut self,
        source: T,
    ) -> Self::ExecuteFuture<'conn, 'query>
    where
        T: QueryFragment<Pg> + QueryId + 'query,
    {
        if !self.needs_own_transaction() {
            return self.inner.execute_returning_count(source);
        }
        let this: &'conn Self = self;
        let mut shared = &this.inner;
        let executing = shared.execute_returning_count(source);
        this.in_own_transaction(executing)
    }
}

impl AsyncConnection for PgConn {
    type TransactionManager = PgTransactionManager;

    async fn establish(database_url: &str) -> ConnectionResult<Self> {
        let inner = AsyncPgConnection::establish(database_url).await?;
        Ok(Self::new(inner, Pooler::Session, 0))
    }

    fn transaction_state(&mut self) -> &mut AnsiTransactionManager {
        self.inner.transaction_state()
    }

    fn instrumentation(&mut self) -> &mut dyn Instrumentation {
        self.inner.instrumentation()
    }

    fn set_instrumentation(&mut self, instrumentation: impl Instrumentation) {
        self.inner.set_instrumentation(instrumentation);
    }

    fn set_prepared_statement_cache_size(&mut self, size: CacheSize) {
        self.inner.set_prepared_statement_cache_size(size);
    }
}

impl PoolableConnection for PgConn {
    fn is_broken(&mut self) -> bool {
        self.own_transaction_open.load(Ordering::SeqCst)
            || <PgTransactionManager as TransactionManager<Self>>::is_broken_transaction_manager(
                self,
            )
    }
}

/// diesel-async's ANSI transactions on the inner connection, whose
/// outermost BEGIN sets the statement timeout in transaction mode.
pub struct PgTransactionManager;

impl TransactionManager<PgConn> for PgTransactionManager {
    type TransactionStateData = AnsiTransactionManager;

    async fn begin_transaction(conn: &mut PgConn) -> QueryResult<()> {
        let outermost = matches!(
            Self::transaction_manager_status_mut(conn).transaction_depth(),
            Ok(None)
        );
        if outermost && conn.pooler == Pooler::Transaction {
            AnsiTransactionManager::begin_transaction_sql(&mut conn.inner, &conn.begin).await
        } else {
            AnsiTransactionManager::begin_transaction(&mut conn.inner).await
        }
    }

    async fn rollback_transaction(conn: &mut PgConn) -> QueryResult<()> {
        AnsiTransactionManager::rollback_transaction(&mut conn.inner).await
    }

    async fn commit_transaction(conn: &mut PgConn) -> QueryResult<()> {
        AnsiTransactionManager::commit_transaction(&mut conn.inner).await
    }

    fn transaction_manager_status_mut(conn: &mut PgConn) -> &mut TransactionManagerStatus {
        <AnsiTransactionManager as TransactionManager<AsyncPgConnection>>::transaction_manager_status_mut(
            &mut conn.inner,
        )
    }
}

#[cfg(test)]
mod tests {
    use diesel::QueryableByName;
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;

    use super::*;
    use crate::pool::PgSettings;

    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        timeout: String,
    }

    const PROBE: &str = "SELECT current_setting('statement_timeout') AS timeout";

    /// No session SET at connect in transaction mode: the timeout seen is
    /// the `SET LOCAL` of the transaction each statement runs in (a `SET
    /// LOCAL` outside a transaction does nothing).
    #[tokio::test]
    async fn transaction_mode_runs_each_statement_in_a_transaction_with_its_timeout() {
        let db = test_support::TestDatabase::fresh("pgconn_").await;
        let settings = PgSettings {
            max_connections: 1,
            pooler: Pooler::Transaction,
            ..PgSettings::default()
        };
        let pool = crate::connect(&db.url, &settings).expect("a pool");
        let mut conn = pool.get().await.expect("a connection");

        let alone: Setting = diesel::sql_query(PROBE)
            .get_result(&mut conn)
            .await
            .expect("a statement alone");
        assert_eq!(alone.timeout, "4s");
        let within: Setting = conn
            .transaction(async |conn| diesel::sql_query(PROBE).get_result(conn).await)
            .await
            .expect("a statement in a transaction");
        assert_eq!(within.timeout, "4s");
        assert!(!conn.is_broken());
    }

    #[tokio::test]
    async fn session_mode_sets_the_timeout_once_at_connect() {
        let db = test_support::TestDatabase::fresh("pgconn_").await;
        let pool = crate::connect(&db.url, &PgSettings::default()).expect("a pool");
        let mut conn = pool.get().await.expect("a connection");
        let alone: Setting = diesel::sql_query(PROBE)
            .get_result(&mut conn)
            .await
            .expect("a statement alone");
        assert_eq!(alone.timeout, "4s");
    }
}
