//! The consumer side of the email job stream, for the email worker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use application::delivery::{
    Claim, DeadLetter, Delivery, DeliveryQueue, DeliveryQueueError, Retry,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_redis::redis;
use deadpool_redis::redis::streams::{
    StreamAutoClaimReply, StreamPendingCountReply, StreamReadReply,
};
use tokio::sync::Mutex;
use uuid::Uuid;

use super::envelope::{delivery_from, envelope_json};
use super::scripts;
use super::settings::EmailStreamSettings;
use crate::connection::OwnConnection;
use crate::error::CommandError;
use crate::keys;
use crate::pool::{RedisPool, query_cmd, query_pipeline, script_pooled};

pub struct RedisDeliveryQueue {
    pub(super) pool: RedisPool,
    pub(super) prefix: String,
    pub(super) stream: String,
    pub(super) retry: String,
    pub(super) dead: String,
    pub(super) dead_by_time: String,
    pub(super) settings: EmailStreamSettings,
    /// A connection of its own for the blocking read: the pooled ones give
    /// up on any reply after 500 ms (the client's default), and a blocked
    /// connection must not hold up other commands. `None` after an error,
    /// so the next read reconnects.
    reader: Mutex<Option<OwnConnection>>,
    /// Whether the consumer group is known to exist.
    group_ready: AtomicBool,
}

impl RedisDeliveryQueue {
    pub fn new(pool: RedisPool, prefix: impl Into<String>, settings: EmailStreamSettings) -> Self {
        let prefix = prefix.into();
        Self {
            pool,
            stream: keys::email_stream(&prefix),
            retry: keys::email_retry(&prefix),
            dead: keys::email_dead(&prefix),
            dead_by_time: keys::email_dead_by_time(&prefix),
            prefix,
            settings,
            reader: Mutex::new(None),
            group_ready: AtomicBool::new(false),
        }
    }

    pub fn settings(&self) -> &EmailStreamSettings {
        &self.settings
    }

    /// Creates the consumer group (and the stream) unless it exists. It
    /// starts at the beginning of the stream so jobs queued before any
    /// worker ever ran are not skipped.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn ensure_group(&self) -> Result<(), DeliveryQueueError> {
        if self.group_ready.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg("CREATE")
            .arg(&self.stream)
            .arg(&self.settings.group)
            .arg("0")
            .arg("MKSTREAM");
        match query_cmd::<()>(&self.pool, self.settings.command_timeout, &cmd).await {
            Ok(()) => {}
            Err(CommandError::Redis(error)) if error.code() == Some("BUSYGROUP") => {}
            Err(error) => return Err(error.into()),
        }
        self.group_ready.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// A NOGROUP reply means the stream was lost (e.g. Redis restarted
    /// without persistence): create the group again on the next call.
    fn note_error(&self, error: CommandError) -> DeliveryQueueError {
        if let CommandError::Redis(redis_error) = &error
            && redis_error.code() == Some("NOGROUP")
        {
            self.group_ready.store(false, Ordering::Relaxed);
        }
        error.into()
    }

    async fn read(
        &self,
        connection: &mut OwnConnection,
        cmd: &redis::Cmd,
    ) -> Result<Option<StreamReadReply>, CommandError> {
        let bound = self
            .settings
            .block
            .saturating_add(self.settings.command_timeout);
        tokio::time::timeout(bound, cmd.query_async(connection))
            .await
            .map_err(|_| CommandError::Timeout(bound))?
            .map_err(CommandError::Redis)
    }

    async fn reader(&self) -> Result<OwnConnection, CommandError> {
        let response_timeout = self
            .settings
            .block
            .saturating_add(self.settings.command_timeout);
        tokio::time::timeout(
            self.settings.command_timeout,
            self.pool.own_connection(response_timeout),
        )
        .await
        .map_err(|_| CommandError::Timeout(self.settings.command_timeout))?
    }

    /// How many times each claimed entry has been handed out (XAUTOCLAIM
    /// counts itself), one round trip for all of them.
    async fn handed_out(&self, ids: &[String]) -> Result<Vec<u32>, CommandError> {
        let mut pipeline = redis::pipe();
        for id in ids {
            pipeline.xpending_count(&self.stream, &self.settings.group, id, id, 1);
        }
        let replies: Vec<StreamPendingCountReply> =
            query_pipeline(&self.pool, self.settings.command_timeout, &pipeline).await?;
        Ok(replies
            .iter()
            .map(|reply| {
                reply.ids.first().map_or(1, |pending| {
                    u32::try_from(pending.times_delivered).unwrap_or(u32::MAX)
                })
            })
            .collect())
    }

    /// Adds to `pipeline` the end of the delivery `receipt`: the job's
    /// claim released (if this entry holds it), the entry acked and
    /// deleted (with one consumer group an acked entry is of no further use).
    fn finish(&self, pipeline: &mut redis::Pipeline, receipt: &str, job_id: Option<Uuid>) {
        let Some(job_id) = job_id else {
            // Not a job, or a duplicate that never claimed: nothing to release.
            pipeline
                .cmd("XACK")
                .arg(&self.stream)
                .arg(&self.settings.group)
                .arg(receipt)
                .ignore()
                .cmd("XDEL")
                .arg(&self.stream)
                .arg(receipt)
                .ignore();
            return;
        };
        scripts::FINISH.queue(
            pipeline,
            scripts::FINISH
                .key(&self.stream)
                .key(keys::email_claim(&self.prefix, job_id))
                .arg(&self.settings.group)
                .arg(receipt),
        );
    }

    async fn run_atomic(&self, pipeline: &mut redis::Pipeline) -> Result<(), DeliveryQueueError> {
        pipeline.atomic();
        query_pipeline::<()>(&self.pool, self.settings.command_timeout, pipeline).await?;
        Ok(())
    }
}

pub(super) fn unix_ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn unexpected(error: serde_json::Error) -> DeliveryQueueError {
    DeliveryQueueError::Unexpected(Box::new(error))
}

#[async_trait]
impl DeliveryQueue for RedisDeliveryQueue {
    #[tracing::instrument(level = "debug", skip(self))]
    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, DeliveryQueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.ensure_group().await?;
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.settings.group)
            .arg(&self.settings.consumer)
            .arg("COUNT")
            .arg(max)
            .arg("BLOCK")
            .arg(millis(self.settings.block).max(1))
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(">");
        // Only the runner loop reads, so this lock is never contended.
        let mut reader = self.reader.lock().await;
        let mut connection = match reader.take() {
            Some(connection) => connection,
            None => self.reader().await?,
        };
        let reply = self
            .read(&mut connection, &cmd)
            .await
            .map_err(|error| self.note_error(error))?;
        *reader = Some(connection);
        // A new entry (">") is handed out for the first time.
        Ok(reply
            .map(|reply| {
                reply
                    .keys
                    .iter()
                    .flat_map(|key| key.ids.iter().map(|entry| delivery_from(entry, 1)))
                    .collect()
            })
            .unwrap_or_default())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn claim_abandoned(&self, max: usize) -> Result<Vec<Delivery>, DeliveryQueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.ensure_group().await?;
        let mut entries = Vec::new();
        let mut cursor = "0-0".to_owned();
        // XAUTOCLAIM scans the pending list a bounded slice at a time; a
        // few rounds cover any realistic backlog, the rest waits a round.
        for _ in 0..10 {
            let mut cmd = redis::cmd("XAUTOCLAIM");
            cmd.arg(&self.stream)
                .arg(&self.settings.group)
                .arg(&self.settings.consumer)
                .arg(millis(self.settings.visibility_timeout))
                .arg(&cursor)
                .arg("COUNT")
                .arg(max - entries.len());
            let reply: StreamAutoClaimReply =
                query_cmd(&self.pool, self.settings.command_timeout, &cmd)
                    .await
                    .map_err(|error| self.note_error(error))?;
            entries.extend(reply.claimed);
            cursor = reply.next_stream_id;
            if cursor == "0-0" || entries.len() >= max {
                break;
            }
        }
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = entries.iter().map(|entry| entry.id.clone()).collect();
        let counts = self.handed_out(&ids).await?;
        Ok(entries
            .iter()
            .zip(counts)
            .map(|(entry, handed_out)| delivery_from(entry, handed_out))
            .collect())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn claim(&self, job_id: Uuid, receipt: &str) -> Result<Claim, DeliveryQueueError> {
        let answer: String = script_pooled(
            &self.pool,
            self.settings.command_timeout,
            scripts::CLAIM
                .key(keys::email_delivered(&self.prefix, job_id))
                .key(keys::email_claim(&self.prefix, job_id))
                .arg(receipt)
                .arg(millis(self.settings.visibility_timeout).max(1)),
        )
        .await?;
        Ok(match answer.as_str() {
            "acquired" => Claim::Acquired,
            "delivered" => Claim::AlreadyDelivered,
            _ => Claim::HeldElsewhere,
        })
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn complete(&self, receipt: &str, job_id: Uuid) -> Result<(), DeliveryQueueError> {
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("SET")
            .arg(keys::email_delivered(&self.prefix, job_id))
            .arg(1)
            .arg("EX")
            .arg(self.settings.delivered_ttl.as_secs().max(1))
            .ignore();
        self.finish(&mut pipeline, receipt, Some(job_id));
        self.run_atomic(&mut pipeline).await
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn ack(&self, receipt: &str) -> Result<(), DeliveryQueueError> {
        let mut pipeline = redis::pipe();
        self.finish(&mut pipeline, receipt, None);
        self.run_atomic(&mut pipeline).await
    }

    #[tracing::instrument(level = "debug", skip(self, retry), fields(job_id = %retry.job_id))]
    async fn schedule_retry(&self, receipt: &str, retry: Retry) -> Result<(), DeliveryQueueError> {
        let member = envelope_json(&retry).map_err(unexpected)?;
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("ZADD")
            .arg(&self.retry)
            .arg(unix_ms(retry.due_at))
            .arg(member)
            .ignore();
        self.finish(&mut pipeline, receipt, Some(retry.job_id));
        self.run_atomic(&mut pipeline).await
    }

    #[tracing::instrument(level = "debug", skip(self, letter), fields(id = %letter.id))]
    async fn dead_letter(
        &self,
        receipt: &str,
        letter: DeadLetter,
    ) -> Result<(), DeliveryQueueError> {
        let json = serde_json::to_string(&letter).map_err(unexpected)?;
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("HSET")
            .arg(&self.dead)
            .arg(&letter.id)
            .arg(json)
            .ignore()
            .cmd("ZADD")
            .arg(&self.dead_by_time)
            .arg(unix_ms(letter.dead_at))
            .arg(&letter.id)
            .ignore();
        self.trim_dead_letters(&mut pipeline, letter.dead_at);
        self.finish(&mut pipeline, receipt, Uuid::parse_str(&letter.id).ok());
        self.run_atomic(&mut pipeline).await
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn promote_due_retries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, DeliveryQueueError> {
        let moved: i64 = script_pooled(
            &self.pool,
            self.settings.command_timeout,
            scripts::PROMOTE
                .key(&self.retry)
                .key(&self.stream)
                .arg(unix_ms(now))
                .arg(limit)
                .arg(keys::EMAIL_ENVELOPE_FIELD),
        )
        .await?;
        Ok(usize::try_from(moved).unwrap_or(0))
    }
}
