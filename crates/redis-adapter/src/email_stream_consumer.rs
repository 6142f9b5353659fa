//! The consumer side of the email job stream, for the email worker.
//!
//! Layout (every key under the configured prefix):
//! - `{prefix}email:jobs`: the stream ([`keys::email_stream`]) read through
//!   one consumer group. Producer entries have one field, `job` (the job
//!   JSON); entries put back after a failure have one field, `envelope`
//!   (JSON: the job and its failed attempts).
//! - `{prefix}email:retry`: sorted set of envelopes scored by the unix
//!   milliseconds they are due at.
//! - `{prefix}email:dead`: hash of dead letters (JSON) by job id.
//! - `{prefix}email:delivered:{job id}`: `1` for a while after a job was sent.
//!
//! A delivery leaves the stream only in the same MULTI that records its
//! outcome (delivered marker, retry or dead letter), so a crash at any
//! point leaves it either pending (taken over after the visibility
//! timeout) or fully handled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use application::delivery::{
    DeadLetter, Delivery, DeliveryQueue, DeliveryQueueError, FailedAttempt, Retry,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use deadpool_redis::{Connection, redis};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::error::CommandError;
use crate::keys;
use crate::pool::{RedisPool, query_cmd, query_pipeline};

/// Field of re-queued stream entries holding the job with its failed attempts.
pub const EMAIL_ENVELOPE_FIELD: &str = "envelope";

/// The consumer group every email worker joins.
pub const DEFAULT_GROUP: &str = "email-workers";

/// Sorted set of jobs waiting to be retried, scored by due time (unix ms).
pub fn email_retry(prefix: &str) -> String {
    format!("{prefix}email:retry")
}

/// Hash of dead letters by id.
pub fn email_dead(prefix: &str) -> String {
    format!("{prefix}email:dead")
}

/// Set for a while after the job was delivered.
pub fn email_delivered(prefix: &str, job_id: Uuid) -> String {
    format!("{prefix}email:delivered:{job_id}")
}

/// How many jobs each part of the queue holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepths {
    pub stream: usize,
    pub retrying: usize,
    pub dead: usize,
}

/// A job on its way back to the stream after failed attempts, as JSON:
/// `{"id": <job id>, "job": <job JSON as text>, "history": [FailedAttempt]}`.
fn envelope_json(retry: &Retry) -> Result<String, serde_json::Error> {
    serde_json::to_string(&serde_json::json!({
        "id": retry.job_id,
        "job": retry.payload,
        "history": retry.history,
    }))
}

fn parse_envelope(raw: &str) -> Option<(String, Vec<FailedAttempt>)> {
    let mut value: serde_json::Value = serde_json::from_str(raw).ok()?;
    let job = value.get("job")?.as_str()?.to_owned();
    let history = serde_json::from_value(value.get_mut("history")?.take()).ok()?;
    Some((job, history))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailStreamSettings {
    pub group: String,
    /// Unique per process, so a restarted worker never mistakes the
    /// deliveries of its previous life for its own.
    pub consumer: String,
    /// A delivery held this long without an outcome is taken over by
    /// whichever worker claims abandoned jobs next.
    pub visibility_timeout: Duration,
    /// How long `receive` waits for new jobs when there are none.
    pub block: Duration,
    /// Bound on every other command.
    pub command_timeout: Duration,
    /// How long a delivery is remembered to suppress duplicates.
    pub delivered_ttl: Duration,
}

impl EmailStreamSettings {
    pub fn new(consumer: impl Into<String>) -> Self {
        Self {
            group: DEFAULT_GROUP.to_owned(),
            consumer: consumer.into(),
            visibility_timeout: Duration::from_secs(30),
            block: Duration::from_secs(1),
            command_timeout: Duration::from_secs(2),
            delivered_ttl: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

pub struct RedisDeliveryQueue {
    pool: RedisPool,
    prefix: String,
    stream: String,
    retry: String,
    dead: String,
    settings: EmailStreamSettings,
    /// A connection of its own for the blocking read: the pooled ones give
    /// up on any reply after 500 ms (the client's default), and a blocked
    /// connection must not hold up other commands. `None` after an error,
    /// so the next read reconnects.
    reader: Mutex<Option<MultiplexedConnection>>,
    /// Whether the consumer group is known to exist.
    group_ready: AtomicBool,
}

impl RedisDeliveryQueue {
    pub fn new(pool: RedisPool, prefix: impl Into<String>, settings: EmailStreamSettings) -> Self {
        let prefix = prefix.into();
        Self {
            pool,
            stream: keys::email_stream(&prefix),
            retry: email_retry(&prefix),
            dead: email_dead(&prefix),
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
        connection: &mut MultiplexedConnection,
        cmd: &redis::Cmd,
    ) -> Result<Option<StreamReadReply>, CommandError> {
        let bound = self.settings.block + self.settings.command_timeout;
        tokio::time::timeout(bound, cmd.query_async(connection))
            .await
            .map_err(|_| CommandError::Timeout(bound))?
            .map_err(CommandError::Redis)
    }

    async fn reader(&self) -> Result<MultiplexedConnection, CommandError> {
        let pooled: Connection =
            tokio::time::timeout(self.settings.command_timeout, self.pool.get())
                .await
                .map_err(|_| CommandError::Timeout(self.settings.command_timeout))??;
        let mut connection = Connection::take(pooled);
        connection.set_response_timeout(self.settings.block + self.settings.command_timeout);
        Ok(connection)
    }

    /// Every dead letter, oldest first. Entries that cannot be read (not
    /// written by this code) are skipped with a warning.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, DeliveryQueueError> {
        let mut cmd = redis::cmd("HVALS");
        cmd.arg(&self.dead);
        let raw: Vec<String> = query_cmd(&self.pool, self.settings.command_timeout, &cmd).await?;
        let mut letters = raw
            .iter()
            .filter_map(|raw| match serde_json::from_str::<DeadLetter>(raw) {
                Ok(letter) => Some(letter),
                Err(error) => {
                    tracing::warn!(%error, "skipping an unreadable dead letter");
                    None
                }
            })
            .collect::<Vec<_>>();
        letters.sort_by(|a, b| a.dead_at.cmp(&b.dead_at).then_with(|| a.id.cmp(&b.id)));
        Ok(letters)
    }

    /// Puts the dead letter back on the stream as a fresh job (attempt
    /// count reset) and removes it, atomically. `false` if there is no
    /// dead letter with this id.
    pub async fn requeue_dead_letter(&self, id: &str) -> Result<bool, DeliveryQueueError> {
        const REQUEUE: &str = r"
            local letter = redis.call('HGET', KEYS[1], ARGV[1])
            if not letter then return 0 end
            local payload = cjson.decode(letter)['payload']
            if type(payload) ~= 'string' then return redis.error_reply('dead letter without payload') end
            redis.call('XADD', KEYS[2], '*', ARGV[2], payload)
            redis.call('HDEL', KEYS[1], ARGV[1])
            return 1
        ";
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(REQUEUE)
            .arg(2)
            .arg(&self.dead)
            .arg(&self.stream)
            .arg(id)
            .arg(keys::EMAIL_JOB_FIELD);
        let moved: i64 = query_cmd(&self.pool, self.settings.command_timeout, &cmd).await?;
        Ok(moved == 1)
    }

    /// Requeues every dead letter; returns how many.
    pub async fn requeue_all_dead_letters(&self) -> Result<usize, DeliveryQueueError> {
        let mut cmd = redis::cmd("HKEYS");
        cmd.arg(&self.dead);
        let ids: Vec<String> = query_cmd(&self.pool, self.settings.command_timeout, &cmd).await?;
        let mut moved = 0;
        for id in ids {
            if self.requeue_dead_letter(&id).await? {
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// Depth of each part of the queue, in one round trip: jobs in the
    /// stream (waiting or in flight: entries leave it when handled), jobs
    /// waiting to be retried, and dead letters.
    pub async fn depths(&self) -> Result<QueueDepths, DeliveryQueueError> {
        let mut pipe = redis::pipe();
        pipe.cmd("XLEN").arg(&self.stream);
        pipe.cmd("ZCARD").arg(&self.retry);
        pipe.cmd("HLEN").arg(&self.dead);
        let (stream, retrying, dead): (usize, usize, usize) =
            query_pipeline(&self.pool, self.settings.command_timeout, &pipe).await?;
        Ok(QueueDepths {
            stream,
            retrying,
            dead,
        })
    }

    /// How many jobs wait in the retry set.
    pub async fn retries_waiting(&self) -> Result<usize, DeliveryQueueError> {
        let mut cmd = redis::cmd("ZCARD");
        cmd.arg(&self.retry);
        Ok(query_cmd(&self.pool, self.settings.command_timeout, &cmd).await?)
    }

    /// On a clean shutdown: removes this consumer from the group if it
    /// holds no pending deliveries (removing it otherwise would drop them),
    /// so restarts do not pile up dead consumer names.
    pub async fn leave_group_if_idle(&self) -> Result<bool, DeliveryQueueError> {
        const LEAVE: &str = r"
            local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
            if #pending > 0 then return 0 end
            redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
            return 1
        ";
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(LEAVE)
            .arg(1)
            .arg(&self.stream)
            .arg(&self.settings.group)
            .arg(&self.settings.consumer);
        let left: i64 = query_cmd(&self.pool, self.settings.command_timeout, &cmd).await?;
        Ok(left == 1)
    }

    /// Acks and deletes the entry: with a single consumer group an acked
    /// entry is of no further use, and this keeps the stream short.
    fn finish(&self, pipeline: &mut redis::Pipeline, receipt: &str) {
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
    }

    async fn run_atomic(&self, pipeline: &mut redis::Pipeline) -> Result<(), DeliveryQueueError> {
        pipeline.atomic();
        query_pipeline::<()>(&self.pool, self.settings.command_timeout, pipeline).await?;
        Ok(())
    }
}

/// Reads a stream entry. Anything unreadable still becomes a delivery
/// (with the raw text as payload) so the use case dead-letters it rather
/// than it being stuck pending forever.
fn delivery_from(entry: &StreamId) -> Delivery {
    if let Some(raw) = entry.get::<String>(EMAIL_ENVELOPE_FIELD) {
        return match parse_envelope(&raw) {
            Some((payload, history)) => Delivery {
                receipt: entry.id.clone(),
                payload,
                history,
            },
            None => Delivery::new(entry.id.clone(), raw),
        };
    }
    let payload = entry
        .get::<String>(keys::EMAIL_JOB_FIELD)
        .unwrap_or_default();
    Delivery::new(entry.id.clone(), payload)
}

fn unix_ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

impl From<CommandError> for DeliveryQueueError {
    fn from(error: CommandError) -> Self {
        if error.is_unavailable() {
            DeliveryQueueError::Unavailable(error.to_string())
        } else {
            DeliveryQueueError::Unexpected(error.to_string())
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[async_trait]
impl DeliveryQueue for RedisDeliveryQueue {
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
        Ok(reply
            .map(|reply| {
                reply
                    .keys
                    .iter()
                    .flat_map(|key| key.ids.iter().map(delivery_from))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn claim_abandoned(&self, max: usize) -> Result<Vec<Delivery>, DeliveryQueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.ensure_group().await?;
        let mut claimed = Vec::new();
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
                .arg(max - claimed.len());
            let reply: StreamAutoClaimReply =
                query_cmd(&self.pool, self.settings.command_timeout, &cmd)
                    .await
                    .map_err(|error| self.note_error(error))?;
            claimed.extend(reply.claimed.iter().map(delivery_from));
            cursor = reply.next_stream_id;
            if cursor == "0-0" || claimed.len() >= max {
                break;
            }
        }
        Ok(claimed)
    }

    async fn was_delivered(&self, job_id: Uuid) -> Result<bool, DeliveryQueueError> {
        let mut cmd = redis::cmd("EXISTS");
        cmd.arg(email_delivered(&self.prefix, job_id));
        let exists: i64 = query_cmd(&self.pool, self.settings.command_timeout, &cmd).await?;
        Ok(exists > 0)
    }

    async fn complete(&self, receipt: &str, job_id: Uuid) -> Result<(), DeliveryQueueError> {
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("SET")
            .arg(email_delivered(&self.prefix, job_id))
            .arg(1)
            .arg("EX")
            .arg(self.settings.delivered_ttl.as_secs().max(1))
            .ignore();
        self.finish(&mut pipeline, receipt);
        self.run_atomic(&mut pipeline).await
    }

    async fn ack(&self, receipt: &str) -> Result<(), DeliveryQueueError> {
        let mut pipeline = redis::pipe();
        self.finish(&mut pipeline, receipt);
        self.run_atomic(&mut pipeline).await
    }

    async fn schedule_retry(&self, receipt: &str, retry: Retry) -> Result<(), DeliveryQueueError> {
        let member = envelope_json(&retry)
            .map_err(|error| DeliveryQueueError::Unexpected(error.to_string()))?;
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("ZADD")
            .arg(&self.retry)
            .arg(unix_ms(retry.due_at))
            .arg(member)
            .ignore();
        self.finish(&mut pipeline, receipt);
        self.run_atomic(&mut pipeline).await
    }

    async fn dead_letter(
        &self,
        receipt: &str,
        letter: DeadLetter,
    ) -> Result<(), DeliveryQueueError> {
        let json = serde_json::to_string(&letter)
            .map_err(|error| DeliveryQueueError::Unexpected(error.to_string()))?;
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("HSET")
            .arg(&self.dead)
            .arg(&letter.id)
            .arg(json)
            .ignore();
        self.finish(&mut pipeline, receipt);
        self.run_atomic(&mut pipeline).await
    }

    async fn promote_due_retries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, DeliveryQueueError> {
        // One script, so an envelope is never in both places or in neither.
        const PROMOTE: &str = r"
            local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
            for _, envelope in ipairs(due) do
                redis.call('XADD', KEYS[2], '*', ARGV[3], envelope)
                redis.call('ZREM', KEYS[1], envelope)
            end
            return #due
        ";
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(PROMOTE)
            .arg(2)
            .arg(&self.retry)
            .arg(&self.stream)
            .arg(unix_ms(now))
            .arg(limit)
            .arg(EMAIL_ENVELOPE_FIELD);
        let moved: i64 = query_cmd(&self.pool, self.settings.command_timeout, &cmd).await?;
        Ok(usize::try_from(moved).unwrap_or(0))
    }
}
