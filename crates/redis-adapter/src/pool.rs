use std::time::Duration;

use deadpool_redis::redis::aio::{ConnectionLike, ConnectionManagerConfig};
use deadpool_redis::redis::{Client, Cmd, FromRedisValue, Pipeline, ScriptInvocation};
use deadpool_redis::{Manager, Pool, Runtime};

use crate::connection::{ClusterManager, ClusterPool, LazyCluster};
pub use crate::connection::{PooledConnection, RedisPool, SharedConnection};
use crate::endpoint::RedisEndpoint;
use crate::error::{CommandError, RedisError};
use crate::redis_url::RedisUrl;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisSettings {
    pub max_connections: usize,
    /// Bounds opening one connection.
    pub connect_timeout: Duration,
    /// Bounds each command, including waiting for a pooled connection.
    pub command_timeout: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            max_connections: 32,
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(2),
        }
    }
}

/// The client of one server, with the endpoint's private CA if it has one.
fn single_client(endpoint: &RedisEndpoint, url: &RedisUrl) -> Result<Client, RedisError> {
    // The client's parse errors are fixed texts that never echo the URL.
    match endpoint.certificates() {
        Some(certificates) => {
            crate::tls::install_provider();
            Client::build_with_tls(url.expose(), certificates).map_err(RedisError::InvalidUrl)
        }
        None => {
            if url.expose().starts_with("rediss:") {
                crate::tls::install_provider();
            }
            Client::open(url.expose()).map_err(RedisError::InvalidUrl)
        }
    }
}

/// Builds the pool without connecting: the first command connects, so the
/// service starts (and reports not-ready) while Redis is down.
pub fn connect(redis_url: &str, settings: &RedisSettings) -> Result<RedisPool, RedisError> {
    let url = redis_url
        .parse::<RedisUrl>()
        .map_err(|_| RedisError::InvalidSettings("not a redis:// URL"))?;
    connect_endpoint(&RedisEndpoint::single(url), settings)
}

/// [`connect`] for a server or a cluster.
pub fn connect_endpoint(
    endpoint: &RedisEndpoint,
    settings: &RedisSettings,
) -> Result<RedisPool, RedisError> {
    if settings.max_connections == 0 {
        return Err(RedisError::InvalidSettings(
            "max_connections must be at least 1",
        ));
    }
    if endpoint.is_cluster() {
        let manager =
            ClusterManager::new(endpoint, settings.connect_timeout, settings.command_timeout)
                .map_err(RedisError::InvalidUrl)?;
        let pool = ClusterPool::builder(manager)
            .max_size(settings.max_connections)
            .wait_timeout(Some(settings.command_timeout))
            .create_timeout(Some(settings.connect_timeout))
            .recycle_timeout(Some(settings.command_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(RedisError::Pool)?;
        return Ok(RedisPool::Cluster(pool));
    }
    let client = single_client(endpoint, &endpoint.urls()[0])?;
    let manager =
        Manager::new(client.get_connection_info().clone()).map_err(RedisError::InvalidUrl)?;
    Pool::builder(manager)
        .max_size(settings.max_connections)
        .wait_timeout(Some(settings.command_timeout))
        .create_timeout(Some(settings.connect_timeout))
        // Recycling PINGs the connection before handing it out.
        .recycle_timeout(Some(settings.command_timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map(RedisPool::Single)
        .map_err(RedisError::Pool)
}

/// Prepares the shared connection without connecting (the first command
/// does), so the service starts while Redis is down.
pub fn connect_shared(
    redis_url: &str,
    settings: &RedisSettings,
) -> Result<SharedConnection, RedisError> {
    let url = redis_url
        .parse::<RedisUrl>()
        .map_err(|_| RedisError::InvalidSettings("not a redis:// URL"))?;
    connect_shared_endpoint(&RedisEndpoint::single(url), settings)
}

/// [`connect_shared`] for a server or a cluster.
pub fn connect_shared_endpoint(
    endpoint: &RedisEndpoint,
    settings: &RedisSettings,
) -> Result<SharedConnection, RedisError> {
    if endpoint.is_cluster() {
        let manager =
            ClusterManager::new(endpoint, settings.connect_timeout, settings.command_timeout)
                .map_err(RedisError::InvalidUrl)?;
        let client = manager
            .client_with(settings.command_timeout)
            .map_err(RedisError::InvalidUrl)?;
        return Ok(SharedConnection::Cluster(LazyCluster::new(client)));
    }
    let client = single_client(endpoint, &endpoint.urls()[0])?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.connect_timeout))
        .set_response_timeout(Some(settings.command_timeout))
        // Reconnect once per failed command; callers are bounded anyway.
        .set_number_of_retries(1);
    deadpool_redis::redis::aio::ConnectionManager::new_lazy_with_config(client, config)
        .map(SharedConnection::Single)
        .map_err(RedisError::InvalidUrl)
}

/// Runs one command on the shared connection, bounded by `timeout`.
pub(crate) async fn query_shared<T: FromRedisValue>(
    connection: &SharedConnection,
    timeout: Duration,
    cmd: &Cmd,
) -> Result<T, CommandError> {
    let mut connection = connection.clone();
    bounded(timeout, async move {
        Ok(cmd.query_async(&mut connection).await?)
    })
    .await
}

/// Runs a pipeline on the shared connection, bounded by `timeout`.
pub(crate) async fn pipeline_shared<T: FromRedisValue>(
    connection: &SharedConnection,
    timeout: Duration,
    pipeline: &Pipeline,
) -> Result<T, CommandError> {
    let mut connection = connection.clone();
    bounded(timeout, async move {
        Ok(following_moves(&mut connection, pipeline).await?)
    })
    .await
}

/// Runs `pipeline`; on a cluster, follows a slot that moved. A transaction
/// sent to a master that no longer owns its slot fails whole, with MOVED
/// inside, and the redis crate follows redirects of single commands only:
/// one keyed command (`EXISTS` of the pipeline's first key) makes it
/// follow the move and read the slot map again, then the pipeline runs
/// once more. (During a migration, ASK fails it: callers retry later.)
async fn following_moves<T: FromRedisValue>(
    connection: &mut impl ConnectionLike,
    pipeline: &Pipeline,
) -> Result<T, deadpool_redis::redis::RedisError> {
    match pipeline.query_async(connection).await {
        Err(error) if moved(&error) => {
            if let Some(key) = first_key(pipeline) {
                let _: i64 = deadpool_redis::redis::cmd("EXISTS")
                    .arg(key)
                    .query_async(connection)
                    .await?;
            }
            pipeline.query_async(connection).await
        }
        answer => answer,
    }
}

fn moved(error: &deadpool_redis::redis::RedisError) -> bool {
    use deadpool_redis::redis::ServerErrorKind;

    error.clone().into_server_errors().is_some_and(|errors| {
        errors
            .iter()
            .any(|(_, error)| error.kind() == Some(ServerErrorKind::Moved))
    })
}

/// The key the first keyed command of `pipeline` names.
fn first_key(pipeline: &Pipeline) -> Option<Vec<u8>> {
    use deadpool_redis::redis::Arg;

    pipeline.cmd_iter().find_map(|cmd| {
        let args: Vec<&[u8]> = cmd
            .args_iter()
            .filter_map(|arg| match arg {
                Arg::Simple(bytes) => Some(bytes),
                _ => None,
            })
            .collect();
        let key = match args.first()?.to_ascii_uppercase().as_slice() {
            b"MULTI" | b"EXEC" | b"SCRIPT" => return None,
            // EVALSHA sha numkeys key...
            b"EVALSHA" | b"EVAL" => args.get(3),
            _ => args.get(1),
        };
        key.map(|key| key.to_vec())
    })
}

/// Runs one command on a pooled connection; `timeout` covers the wait for
/// the connection as well as the reply.
pub(crate) async fn query_cmd<T: FromRedisValue>(
    pool: &RedisPool,
    timeout: Duration,
    cmd: &Cmd,
) -> Result<T, CommandError> {
    bounded(timeout, async {
        let mut connection = pool.get().await?;
        Ok(cmd.query_async(&mut connection).await?)
    })
    .await
}

/// Runs a pipeline (one round trip) on a pooled connection; `timeout`
/// covers the wait for the connection as well as the replies.
pub(crate) async fn query_pipeline<T: FromRedisValue>(
    pool: &RedisPool,
    timeout: Duration,
    pipeline: &Pipeline,
) -> Result<T, CommandError> {
    bounded(timeout, async {
        let mut connection = pool.get().await?;
        Ok(following_moves(&mut connection, pipeline).await?)
    })
    .await
}

async fn bounded<T>(
    timeout: Duration,
    work: impl Future<Output = Result<T, CommandError>>,
) -> Result<T, CommandError> {
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(CommandError::Timeout(timeout)))
}

/// Runs a Lua script on the shared connection (`EVALSHA`, the source sent
/// again on NOSCRIPT); `timeout` covers every round trip that takes.
pub(crate) async fn script_shared<T: FromRedisValue>(
    connection: &SharedConnection,
    timeout: Duration,
    invocation: &ScriptInvocation<'_>,
) -> Result<T, CommandError> {
    let mut connection = connection.clone();
    bounded(timeout, async move {
        Ok(invocation.invoke_async(&mut connection).await?)
    })
    .await
}

/// Runs a Lua script on a pooled connection, as [`script_shared`] does;
/// `timeout` covers the wait for the connection as well.
pub(crate) async fn script_pooled<T: FromRedisValue>(
    pool: &RedisPool,
    timeout: Duration,
    invocation: &ScriptInvocation<'_>,
) -> Result<T, CommandError> {
    bounded(timeout, async {
        let mut connection = pool.get().await?;
        Ok(invocation.invoke_async(&mut connection).await?)
    })
    .await
}
