//! The connections every adapter uses, on one server or a Redis Cluster
//! alike: each type is an enum over the two that implements the redis
//! crate's `ConnectionLike`, so commands, pipelines and scripts are
//! written once. On a cluster the redis crate routes each command (or
//! pipeline, by its first key) to the node owning the slot, and follows
//! MOVED and ASK after a failover or a resharding.

use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleResult};
use deadpool_redis::redis::aio::{ConnectionLike, ConnectionManager, MultiplexedConnection};
use deadpool_redis::redis::cluster::{ClusterClient, ClusterClientBuilder};
use deadpool_redis::redis::cluster_async::ClusterConnection;
use deadpool_redis::redis::{self, Cmd, Pipeline, RedisError, RedisFuture, Value};
use tokio::sync::OnceCell;

use crate::endpoint::RedisEndpoint;

/// Implements `ConnectionLike` for an enum whose variants all do.
macro_rules! either_connection {
    ($type:ty, $($variant:ident),+) => {
        impl ConnectionLike for $type {
            fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
                match self {
                    $(Self::$variant(connection) => connection.req_packed_command(cmd),)+
                }
            }

            fn req_packed_commands<'a>(
                &'a mut self,
                pipeline: &'a Pipeline,
                offset: usize,
                count: usize,
            ) -> RedisFuture<'a, Vec<Value>> {
                match self {
                    $(Self::$variant(connection) => {
                        connection.req_packed_commands(pipeline, offset, count)
                    })+
                }
            }

            fn get_db(&self) -> i64 {
                match self {
                    $(Self::$variant(connection) => connection.get_db(),)+
                }
            }
        }
    };
}

/// Builds cluster connections: the seed nodes, the TLS roots and the
/// timeouts (deadpool-redis's own cluster manager takes neither of the last two).
pub struct ClusterManager {
    client: ClusterClient,
    endpoint: RedisEndpoint,
    connect_timeout: Duration,
}

impl ClusterManager {
    pub(crate) fn new(
        endpoint: &RedisEndpoint,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Result<Self, RedisError> {
        Ok(Self {
            client: cluster_client(endpoint, connect_timeout, response_timeout)?,
            endpoint: endpoint.clone(),
            connect_timeout,
        })
    }

    /// A client whose connections wait up to `response_timeout` for a
    /// reply (a blocking read needs longer than other commands).
    pub(crate) fn client_with(
        &self,
        response_timeout: Duration,
    ) -> Result<ClusterClient, RedisError> {
        cluster_client(&self.endpoint, self.connect_timeout, response_timeout)
    }
}

pub(crate) fn cluster_client(
    endpoint: &RedisEndpoint,
    connect_timeout: Duration,
    response_timeout: Duration,
) -> Result<ClusterClient, RedisError> {
    crate::tls::install_provider();
    let nodes: Vec<&str> = endpoint.urls().iter().map(|url| url.expose()).collect();
    let mut builder = ClusterClientBuilder::new(nodes)
        .connection_timeout(connect_timeout)
        .response_timeout(response_timeout);
    if let Some(certificates) = endpoint.certificates() {
        builder = builder.certs(certificates);
    }
    builder.build()
}

impl managed::Manager for ClusterManager {
    type Type = ClusterConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<ClusterConnection, RedisError> {
        self.client.get_async_connection().await
    }

    async fn recycle(
        &self,
        connection: &mut ClusterConnection,
        _: &Metrics,
    ) -> RecycleResult<RedisError> {
        let () = redis::cmd("PING").query_async(connection).await?;
        Ok(())
    }
}

pub type ClusterPool = managed::Pool<ClusterManager>;

/// The shared connection pool. Connections are multiplexed, so a few
/// serve many concurrent requests.
#[derive(Clone)]
pub enum RedisPool {
    Single(deadpool_redis::Pool),
    Cluster(ClusterPool),
}

impl std::fmt::Debug for RedisPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Self::Single(_) => "single",
            Self::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisPool")
            .field("kind", &kind)
            .field("status", &self.status())
            .finish()
    }
}

/// A connection taken from [`RedisPool`]; back to the pool when dropped.
pub enum PooledConnection {
    Single(deadpool_redis::Connection),
    Cluster(managed::Object<ClusterManager>),
}

either_connection!(PooledConnection, Single, Cluster);

/// A connection of its own, out of any pool (the blocking stream read).
pub(crate) enum OwnConnection {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

either_connection!(OwnConnection, Single, Cluster);

impl RedisPool {
    /// A connection, opened (or PINGed, if reused) within the pool's timeouts.
    pub async fn get(&self) -> Result<PooledConnection, deadpool_redis::PoolError> {
        Ok(match self {
            Self::Single(pool) => PooledConnection::Single(pool.get().await?),
            Self::Cluster(pool) => PooledConnection::Cluster(pool.get().await?),
        })
    }

    pub fn status(&self) -> deadpool_redis::Status {
        match self {
            Self::Single(pool) => pool.status(),
            Self::Cluster(pool) => pool.status(),
        }
    }

    /// A connection for the caller alone, whose replies may take up to
    /// `response_timeout`.
    pub(crate) async fn own_connection(
        &self,
        response_timeout: Duration,
    ) -> Result<OwnConnection, crate::error::CommandError> {
        Ok(match self {
            Self::Single(pool) => {
                let mut connection = deadpool_redis::Connection::take(pool.get().await?);
                connection.set_response_timeout(response_timeout);
                OwnConnection::Single(connection)
            }
            Self::Cluster(pool) => {
                let client = pool.manager().client_with(response_timeout)?;
                OwnConnection::Cluster(client.get_async_connection().await?)
            }
        })
    }
}

/// One multiplexed connection shared by every caller, re-established
/// after a failure. Unlike a pooled connection it is not PINGed before
/// each use, so a command costs exactly one round trip: the token check
/// on every authenticated request uses it.
#[derive(Clone)]
pub enum SharedConnection {
    Single(ConnectionManager),
    Cluster(LazyCluster),
}

either_connection!(SharedConnection, Single, Cluster);

/// A cluster connection opened by the first command (and by the next one
/// if that failed), so the service starts while the cluster is down. Once
/// open, the redis crate reconnects to each node as needed.
#[derive(Clone)]
pub struct LazyCluster {
    client: Arc<ClusterClient>,
    connection: Arc<OnceCell<ClusterConnection>>,
}

impl LazyCluster {
    pub(crate) fn new(client: ClusterClient) -> Self {
        Self {
            client: Arc::new(client),
            connection: Arc::new(OnceCell::new()),
        }
    }

    async fn connection(&self) -> Result<ClusterConnection, RedisError> {
        self.connection
            .get_or_try_init(|| self.client.get_async_connection())
            .await
            .cloned()
    }
}

impl ConnectionLike for LazyCluster {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move { self.connection().await?.req_packed_command(cmd).await })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            self.connection()
                .await?
                .req_packed_commands(pipeline, offset, count)
                .await
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}
