use std::time::Duration;

use deadpool_redis::redis::{Cmd, FromRedisValue, Pipeline};
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
    let manager =
        Manager::new(redis_url).map_err(|error| RedisError::InvalidUrl(error.to_string()))?;
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
