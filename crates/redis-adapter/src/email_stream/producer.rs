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
    /// `REDIS_WAIT_REPLICAS`: replicas that must acknowledge a batch
    /// before it counts as queued (0: the primary's word is enough).
    wait_replicas: u32,
}

impl RedisEmailQueue {
    pub fn new(pool: RedisPool, prefix: impl Into<String>, command_timeout: Duration) -> Self {
        let prefix = prefix.into();
        Self {
            pool,
            stream: keys::email_stream(&prefix),
            command_timeout,
            wait_replicas: 0,
        }
    }

    /// A batch counts as queued only once `replicas` replicas have it
    /// (`WAIT` after the `XADD`s): a failover right after cannot lose a
    /// job whose outbox row is gone. Fewer acknowledgements within half
    /// the command timeout fail the push, so the rows stay in the outbox.
    pub fn with_wait_replicas(mut self, replicas: u32) -> Self {
        self.wait_replicas = replicas;
        self
    }

    /// MULTI, the XADDs, EXEC, then WAIT on the same connection (WAIT
    /// counts the writes of its own connection; inside MULTI it would not
    /// block). Returns how many replicas acknowledged.
    async fn push_and_wait(&self, jobs: &[EmailJob]) -> Result<i64, QueueError> {
        let wait_ms = u64::try_from((self.command_timeout / 2).as_millis())
            .unwrap_or(u64::MAX)
            // WAIT 0 would block forever.
            .max(1);
        let mut pipeline = redis::pipe();
        pipeline.cmd("MULTI").ignore();
        for job in jobs {
            pipeline
                .xadd(&self.stream, "*", &[(keys::EMAIL_JOB_FIELD, job.to_json())])
                .ignore();
        }
        // EXEC's entry ids are read (not ignored) so that an XADD the
        // server refused inside the transaction fails the push.
        pipeline
            .cmd("EXEC")
            .cmd("WAIT")
            .arg(self.wait_replicas)
            .arg(wait_ms);
        let (_ids, acknowledged) =
            query_pipeline::<(Vec<String>, i64)>(&self.pool, self.command_timeout, &pipeline)
                .await?;
        Ok(acknowledged)
    }
}

#[async_trait]
impl EmailQueue for RedisEmailQueue {
    #[tracing::instrument(level = "debug", skip_all, fields(jobs = jobs.len()))]
    async fn push(&self, jobs: Vec<EmailJob>) -> Result<(), QueueError> {
        if jobs.is_empty() {
            return Ok(());
        }
        if self.wait_replicas > 0 {
            let acknowledged = self.push_and_wait(&jobs).await?;
            if acknowledged < i64::from(self.wait_replicas) {
                return Err(QueueError::NotReplicated {
                    acknowledged: u32::try_from(acknowledged).unwrap_or(0),
                    wanted: self.wait_replicas,
                });
            }
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
