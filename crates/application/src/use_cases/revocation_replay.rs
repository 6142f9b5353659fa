//! The replay of the revocation mark queue: marks that a request could not
//! write (the revocation store failed right after the change committed)
//! are written by whichever instance takes them next. The binary runs the
//! rounds in a loop, so timers stay out of this crate.

use std::sync::Arc;
use std::time::Duration;

use super::TokenLifetimes;
use super::revocation_marks::revocation_of;
use crate::error::ReplayError;
use crate::error_chain::ErrorChain;
use crate::ports::{Clock, DependencyProbe, RevocationMarkQueue, TokenRevocations};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplaySettings {
    /// Marks written per round trip.
    pub batch_size: usize,
    /// How long a taken batch stays hidden from other instances, should
    /// this one stop before it gives the batch back or removes it.
    pub lease: Duration,
    /// How often the queue is looked at (`REVOCATION_REPLAY_INTERVAL`): a
    /// mark reaches the revocation store at most about this long after the
    /// store answers again.
    pub interval: Duration,
}

impl Default for ReplaySettings {
    fn default() -> Self {
        Self {
            batch_size: 200,
            lease: Duration::from_secs(30),
            interval: Duration::from_secs(5),
        }
    }
}

/// One replay round at a time.
pub struct RevocationReplay {
    queue: Arc<dyn RevocationMarkQueue>,
    revocations: Arc<dyn TokenRevocations>,
    clock: Arc<dyn Clock>,
    lifetimes: TokenLifetimes,
    settings: ReplaySettings,
    /// Asked before a batch is taken: an instance whose revocation store
    /// is down takes nothing, so it never hides marks from an instance
    /// that could write them.
    store_probe: Option<Arc<dyn DependencyProbe>>,
}

impl RevocationReplay {
    pub fn new(
        queue: Arc<dyn RevocationMarkQueue>,
        revocations: Arc<dyn TokenRevocations>,
        clock: Arc<dyn Clock>,
        lifetimes: TokenLifetimes,
        settings: ReplaySettings,
    ) -> Self {
        Self {
            queue,
            revocations,
            clock,
            lifetimes,
            settings,
            store_probe: None,
        }
    }

    /// Takes no batch while `probe` (of the revocation store) fails.
    pub fn with_store_probe(mut self, probe: Arc<dyn DependencyProbe>) -> Self {
        self.store_probe = Some(probe);
        self
    }

    pub fn settings(&self) -> &ReplaySettings {
        &self.settings
    }

    /// Takes one batch of queued marks, writes those still useful with the
    /// life they have left, and removes the batch from the queue. Marks
    /// whose tokens have all expired are removed unwritten. When the write
    /// fails, the batch goes back to the queue at once and nothing is
    /// removed. Returns how many marks left the queue.
    #[tracing::instrument(level = "debug", name = "replay_revocation_marks", skip_all, fields(taken = tracing::field::Empty))]
    pub async fn replay_once(&self) -> Result<usize, ReplayError> {
        if let Some(probe) = &self.store_probe {
            probe.ping().await.map_err(ReplayError::StoreDown)?;
        }
        let marks = self
            .queue
            .lease(self.settings.batch_size, self.settings.lease)
            .await?;
        tracing::Span::current().record("taken", marks.len());
        if marks.is_empty() {
            return Ok(0);
        }
        let now = self.clock.now();
        let revocations: Vec<_> = marks
            .iter()
            .filter_map(|mark| revocation_of(mark, &self.lifetimes, now))
            .collect();
        let written = revocations.len();
        if !revocations.is_empty()
            && let Err(error) = self.revocations.revoke(revocations).await
        {
            if let Err(release) = self.queue.release(marks).await {
                // The lease runs out on its own; only the retry is later.
                tracing::warn!(
                    error.chain = %ErrorChain(&release),
                    "could not hand back revocation marks after a failed write"
                );
            }
            return Err(error.into());
        }
        let count = marks.len();
        self.queue.forget(marks).await?;
        tracing::info!(
            written,
            dropped = count - written,
            "queued revocation marks replayed"
        );
        Ok(count)
    }
}

#[cfg(test)]
mod tests;
