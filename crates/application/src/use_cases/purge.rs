//! The purge: what ended long ago leaves the database, so that no table
//! grows without bound. The binary runs it at start and then every
//! interval; this crate holds the rule (what is old enough, batch after
//! batch, giving way to a purge already running elsewhere).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::error_chain::ErrorChain;
use crate::ports::{AuditLog, Clock, DataPurge, PurgeStoreError, Purgeable, PurgedBatch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeSettings {
    /// `PURGE_INTERVAL`: how often each instance purges.
    pub interval: Duration,
    /// `SESSION_RETENTION`: how long a session is kept after it ended
    /// (expired or revoked).
    pub session_retention: TimeDelta,
    /// How long a one-time secret is kept after it was used or expired.
    pub secret_retention: TimeDelta,
    /// Rows deleted per statement, each batch its own short transaction.
    pub batch_size: usize,
    /// `AUDIT_RETENTION`: how long audit events are kept (whole months
    /// go once every event in them is older).
    pub audit_retention: TimeDelta,
}

impl PurgeSettings {
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3_600);
    pub const DEFAULT_SESSION_RETENTION: TimeDelta = TimeDelta::days(30);
}

impl Default for PurgeSettings {
    fn default() -> Self {
        Self {
            interval: Self::DEFAULT_INTERVAL,
            session_retention: Self::DEFAULT_SESSION_RETENTION,
            secret_retention: TimeDelta::days(7),
            batch_size: 1_000,
            audit_retention: domain::DEFAULT_AUDIT_RETENTION,
        }
    }
}

/// What one purge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PurgeReport {
    pub sessions: usize,
    pub secrets: usize,
    /// Another instance was purging: this one stopped and left the rest
    /// to it.
    pub gave_way: bool,
    /// Monthly partitions of the audit log dropped past its retention.
    pub audit_months: usize,
}

pub struct Purge {
    store: Arc<dyn DataPurge>,
    clock: Arc<dyn Clock>,
    settings: PurgeSettings,
    /// The audit log, whose months are made ahead and dropped here.
    audit: Option<Arc<dyn AuditLog>>,
}

impl Purge {
    pub fn new(store: Arc<dyn DataPurge>, clock: Arc<dyn Clock>, settings: PurgeSettings) -> Self {
        Self {
            store,
            clock,
            settings,
            audit: None,
        }
    }

    /// Also keeps the audit log's monthly partitions: the next months
    /// made ahead, the months past `audit_retention` dropped whole.
    pub fn with_audit_log(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    pub fn settings(&self) -> &PurgeSettings {
        &self.settings
    }

    /// Deletes every session and one-time secret past its retention, a
    /// batch at a time, until a batch comes back short. Gives way as soon
    /// as another purge holds the lock: that one deletes the rest. What
    /// was deleted before an error stays deleted; the next run goes on.
    #[tracing::instrument(level = "debug", name = "purge", skip_all)]
    pub async fn purge_once(&self) -> Result<PurgeReport, PurgeStoreError> {
        let now = self.clock.now();
        let mut report = PurgeReport::default();
        let targets = [
            (Purgeable::Sessions, self.settings.session_retention),
            (Purgeable::OneTimeSecrets, self.settings.secret_retention),
        ];
        for (what, retention) in targets {
            let before = now
                .checked_sub_signed(retention)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            let (deleted, gave_way) = self.purge_all(what, before).await?;
            match what {
                Purgeable::Sessions => report.sessions = deleted,
                Purgeable::OneTimeSecrets => report.secrets = deleted,
            }
            if gave_way {
                report.gave_way = true;
                break;
            }
        }
        report.audit_months = self.keep_audit_months(now).await;
        tracing::info!(
            sessions = report.sessions,
            one_time_secrets = report.secrets,
            audit_months_dropped = report.audit_months,
            gave_way = report.gave_way,
            "purge done"
        );
        Ok(report)
    }

    /// Makes the coming months of the audit log and drops the months
    /// past its retention; the number dropped. A failure is logged and
    /// left to the next run: an insert makes its own month if it must, and
    /// an old month dropped an hour late harms nobody.
    async fn keep_audit_months(&self, now: DateTime<Utc>) -> usize {
        let Some(audit) = &self.audit else {
            return 0;
        };
        if let Err(error) = audit.prepare_partitions(now).await {
            tracing::warn!(error.chain = %ErrorChain(&error), "audit log months not made ahead");
        }
        let cutoff = domain::audit_purge_cutoff(now, self.settings.audit_retention);
        match audit.drop_partitions_before(cutoff).await {
            Ok(dropped) => {
                for month in &dropped {
                    tracing::info!(partition = %month, "audit log month past its retention dropped");
                }
                dropped.len()
            }
            Err(error) => {
                tracing::warn!(error.chain = %ErrorChain(&error), "audit log months not dropped");
                0
            }
        }
    }

    /// Rows of `what` deleted, and whether it stopped because another
    /// purge holds the lock.
    async fn purge_all(
        &self,
        what: Purgeable,
        before: DateTime<Utc>,
    ) -> Result<(usize, bool), PurgeStoreError> {
        let limit = self.settings.batch_size.max(1);
        let mut total = 0;
        loop {
            match self.store.purge_batch(what, before, limit).await? {
                PurgedBatch::Busy => return Ok((total, true)),
                PurgedBatch::Deleted(deleted) => {
                    total += deleted;
                    if deleted < limit {
                        return Ok((total, false));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
