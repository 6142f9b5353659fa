use std::time::Duration;

use application::EmailJob;
use application::ports::{EmailQueue, QueueError};
use async_trait::async_trait;
use deadpool_redis::redis;

use crate::keys;
use crate::pool::{RedisPool, query_pipeline};

/// The producer side of the email job stream: one stream entry per job,
/// field [`keys::EMAIL_JOB_FIELD`] holding the job's JSON.
pub struct RedisEmailQueue {
    pool: RedisPool,
    stream: String,
    command_timeout: Duration,
}

impl RedisEmailQueue {
    pub fn new(pool: RedisPool, prefix: impl Into<String>, command_timeout: Duration) -> Self {
        let prefix = prefix.into();
        Self {
            pool,
            stream: keys::email_stream(&prefix),
            command_timeout,
        }
    }
}

#[async_trait]
impl EmailQueue for RedisEmailQueue {
    #[tracing::instrument(level = "debug", skip_all, fields(jobs = jobs.len()))]
    async fn push(&self, jobs: Vec<EmailJob>) -> Result<(), QueueError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut pipeline = redis::pipe();
        // MULTI/EXEC so a failure leaves no partial batch behind; the relay
        // then retries the whole batch. No MAXLEN: trimming could drop jobs
        // not yet consumed.
        pipeline.atomic();
        for job in &jobs {
            pipeline
                .xadd(&self.stream, "*", &[(keys::EMAIL_JOB_FIELD, job.to_json())])
                .ignore();
        }
        query_pipeline::<()>(&self.pool, self.command_timeout, &pipeline).await?;
        Ok(())
    }
}
