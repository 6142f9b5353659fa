use std::time::Duration;

use application::ports::{DependencyProbe, ProbeError};
use async_trait::async_trait;
use deadpool_redis::redis;

use crate::pool::{RedisPool, query_cmd};

/// Readiness check: Redis answers a PING within the timeout; a Redis
/// Cluster answers `CLUSTER INFO` with `cluster_state:ok` (every slot
/// served: a master that failed without a replica to take over makes the
/// cluster refuse commands, as its nodes agree within their node timeout).
pub struct RedisProbe {
    pool: RedisPool,
    timeout: Duration,
}

impl RedisProbe {
    pub fn new(pool: RedisPool, timeout: Duration) -> Self {
        Self { pool, timeout }
    }
}

#[async_trait]
impl DependencyProbe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn ping(&self) -> Result<(), ProbeError> {
        if matches!(self.pool, RedisPool::Cluster(_)) {
            let mut info = redis::cmd("CLUSTER");
            info.arg("INFO");
            let reply: String = query_cmd(&self.pool, self.timeout, &info).await?;
            return if reply.lines().any(|line| line.trim() == "cluster_state:ok") {
                Ok(())
            } else {
                Err(ProbeError(
                    "the Redis Cluster is not ok (cluster_state)".into(),
                ))
            };
        }
        let reply: String = query_cmd(&self.pool, self.timeout, &redis::cmd("PING")).await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(ProbeError(format!("unexpected PING reply: {reply}").into()))
        }
    }
}
