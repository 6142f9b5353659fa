use std::time::Duration;

use application::ports::{DependencyProbe, ProbeError};
use async_trait::async_trait;
use deadpool_redis::redis;

use crate::pool::{RedisPool, query_cmd};

/// Readiness check: Redis answers a PING within the timeout.
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
        let reply: String = query_cmd(&self.pool, self.timeout, &redis::cmd("PING")).await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(ProbeError(format!("unexpected PING reply: {reply}").into()))
        }
    }
}
