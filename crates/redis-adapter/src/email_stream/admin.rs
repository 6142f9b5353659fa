//! What operators need: queue depths, dead letters (listed, requeued,
//! kept within their retention and cap) and leaving the group cleanly.

use application::delivery::{DeadLetter, DeliveryQueueError, QueueAdmin, QueueDepths};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_redis::redis;

use super::RedisDeliveryQueue;
use super::consumer::unix_ms;
use super::scripts;
use crate::keys;
use crate::pool::{query_cmd, query_pipeline, script_pooled};

impl RedisDeliveryQueue {
    /// Adds to `pipeline` the dead-letter trim as of `now`: letters past
    /// the retention, then the oldest beyond the cap, are dropped.
    pub(super) fn trim_dead_letters(&self, pipeline: &mut redis::Pipeline, now: DateTime<Utc>) {
        let retention = chrono::Duration::from_std(self.settings.dead_letter_retention)
            .unwrap_or(chrono::Duration::MAX);
        let cutoff = now
            .checked_sub_signed(retention)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        scripts::TRIM_DEAD_LETTERS.queue(
            pipeline,
            scripts::TRIM_DEAD_LETTERS
                .key(&self.dead)
                .key(&self.dead_by_time)
                .arg(unix_ms(cutoff))
                .arg(self.settings.dead_letter_max)
                .arg(unix_ms(now)),
        );
    }

    /// How many jobs wait in the retry set.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn retries_waiting(&self) -> Result<usize, DeliveryQueueError> {
        let mut cmd = redis::cmd("ZCARD");
        cmd.arg(&self.retry);
        Ok(query_cmd(&self.pool, self.settings.command_timeout, &cmd).await?)
    }

    /// On a clean shutdown: removes this consumer from the group if it
    /// holds no pending deliveries (removing it otherwise would drop them),
    /// so restarts do not pile up dead consumer names.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn leave_group_if_idle(&self) -> Result<bool, DeliveryQueueError> {
        let left: i64 = script_pooled(
            &self.pool,
            self.settings.command_timeout,
            scripts::LEAVE
                .key(&self.stream)
                .arg(&self.settings.group)
                .arg(&self.settings.consumer),
        )
        .await?;
        Ok(left == 1)
    }
}

#[async_trait]
impl QueueAdmin for RedisDeliveryQueue {
    /// Depth of each part of the queue, in one round trip: jobs in the
    /// stream (waiting or in flight: entries leave it when handled), jobs
    /// waiting to be retried, and dead letters.
    #[tracing::instrument(level = "debug", skip(self))]
    async fn depths(&self) -> Result<QueueDepths, DeliveryQueueError> {
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

    /// Every dead letter within its retention, oldest first (expired ones
    /// are dropped first). Entries that cannot be read (not written by
    /// this code) are skipped with a warning.
    #[tracing::instrument(level = "debug", skip(self))]
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, DeliveryQueueError> {
        let mut pipeline = redis::pipe();
        self.trim_dead_letters(&mut pipeline, Utc::now());
        pipeline.cmd("HVALS").arg(&self.dead);
        let (raw,): (Vec<String>,) =
            query_pipeline(&self.pool, self.settings.command_timeout, &pipeline).await?;
        let mut letters = raw
            .iter()
            .filter_map(|raw| match serde_json::from_str::<DeadLetter>(raw) {
                Ok(letter) => Some(letter),
                Err(error) => {
                    tracing::warn!(
                        error.chain = %application::ErrorChain(&error),
                        "skipping an unreadable dead letter"
                    );
                    None
                }
            })
            .collect::<Vec<_>>();
        letters.sort_by(|a, b| a.dead_at.cmp(&b.dead_at).then_with(|| a.id.cmp(&b.id)));
        Ok(letters)
    }

    /// Puts the dead letter back on the stream as a fresh job (attempt
    /// count reset) and removes it, atomically.
    #[tracing::instrument(level = "debug", skip(self))]
    async fn requeue_dead_letter(&self, id: &str) -> Result<bool, DeliveryQueueError> {
        let moved: i64 = script_pooled(
            &self.pool,
            self.settings.command_timeout,
            scripts::REQUEUE
                .key(&self.dead)
                .key(&self.stream)
                .key(&self.dead_by_time)
                .arg(id)
                .arg(keys::EMAIL_JOB_FIELD),
        )
        .await?;
        Ok(moved == 1)
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn requeue_all_dead_letters(&self) -> Result<usize, DeliveryQueueError> {
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
}
