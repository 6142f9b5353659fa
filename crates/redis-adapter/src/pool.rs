use std::time::Duration;

use deadpool_redis::redis::{Cmd, FromRedisValue, Pipeline, ScriptInvocation};
use deadpool_redis::{Manager, Pool, Runtime};

use crate::error::{CommandError, RedisError};

/// The shared connection pool. Connections are multiplexed, so a few serve
/// many concurrent requests.
pub type RedisPool = Pool;

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

/// Builds the pool without connecting: the first command connects, so the
/// service starts (and reports not-ready) while Redis is down.
pub fn connect(redis_url: &str, settings: &RedisSettings) -> Result<RedisPool, RedisError> {
    if settings.max_connections == 0 {
        return Err(RedisError::InvalidSettings(
            "max_connections must be at least 1",
        ));
    }
    // The client's parse errors are fixed texts that never echo the URL.
    let manager = Manager::new(redis_url).map_err(RedisError::InvalidUrl)?;
    Pool::builder(manager)
        .max_size(settings.max_connections)
        .wait_timeout(Some(settings.command_timeout))
        .create_timeout(Some(settings.connect_timeout))
        // Recycling PINGs the connection before handing it out.
        .recycle_timeout(Some(settings.command_timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(RedisError::Pool)
}

/// One multiplexed connection shared by every caller, re-established by
/// the redis crate after a failure. Unlike a pooled connection it is not
/// PINGed before each use, so a command costs exactly one round trip: the
/// token check on every authenticated request uses it.
pub type SharedConnection = deadpool_redis::redis::aio::ConnectionManager;

/// Prepares the shared connection without connecting (the first command
/// does), so the service starts while Redis is down.
pub fn connect_shared(
    redis_url: &str,
    settings: &RedisSettings,
) -> Result<SharedConnection, RedisError> {
    use deadpool_redis::redis::aio::ConnectionManagerConfig;

    let client = deadpool_redis::redis::Client::open(redis_url).map_err(RedisError::InvalidUrl)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.connect_timeout))
        .set_response_timeout(Some(settings.command_timeout))
        // Reconnect once per failed command; callers are bounded anyway.
        .set_number_of_retries(1);
    SharedConnection::new_lazy_with_config(client, config).map_err(RedisError::InvalidUrl)
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
        Ok(pipeline.query_async(&mut connection).await?)
    })
    .await
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
        Ok(pipeline.query_async(&mut connection).await?)
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
