//! The arithmetic of the three counters, on integer milliseconds. Pure
//! functions of the stored state and the time: the in-memory limiter
//! applies them under a lock, and the Redis adapter's Lua scripts repeat
//! them step for step (its tests check both agree).

use std::collections::VecDeque;
use std::time::Duration;

use super::{AttemptDecision, RateDecision, RateLimit, ThrottlePolicy};

/// A duration as whole milliseconds (saturating; negative is zero).
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn duration(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A log of counted events with their times: at most `limit` in any
/// `window` (exactly: unlike a token bucket, no burst on top of a refill).
/// Events may carry an item id (an email job): an item already in the log
/// is allowed again without being counted twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingLog {
    pub window_ms: i64,
    pub limit: usize,
}

/// One counted event: when, and the item it was for (if any).
pub type LogEntry = (i64, Option<String>);

impl SlidingLog {
    pub fn new(rate: RateLimit) -> Self {
        Self {
            window_ms: millis(rate.period).max(1),
            limit: usize::try_from(rate.limit).unwrap_or(usize::MAX),
        }
    }

    /// Counts one event at `now` if there is room (or `item` is in the log
    /// already); entries older than the window leave `log` first. The wait
    /// reported either way is until the oldest entry leaves: the next time
    /// a slot frees up.
    pub fn record(
        &self,
        log: &mut VecDeque<LogEntry>,
        item: Option<&str>,
        now: i64,
    ) -> RateDecision {
        let cutoff = now - self.window_ms;
        log.retain(|(at, _)| *at > cutoff);
        let counted = item.is_some_and(|item| {
            log.iter()
                .any(|(_, logged)| logged.as_deref() == Some(item))
        });
        if !counted {
            if log.len() >= self.limit {
                return RateDecision::Limited {
                    retry_after: self.until_a_slot_frees(log, now),
                };
            }
            log.push_back((now, item.map(str::to_owned)));
        }
        RateDecision::Allowed {
            remaining: u32::try_from(self.limit.saturating_sub(log.len())).unwrap_or(u32::MAX),
            reset: self.until_a_slot_frees(log, now),
        }
    }

    fn until_a_slot_frees(&self, log: &VecDeque<LogEntry>, now: i64) -> Duration {
        let oldest = log.iter().map(|(at, _)| *at).min().unwrap_or(now);
        duration(oldest.saturating_add(self.window_ms) - now)
    }
}

/// What is kept per account: failures so far and when the last began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureRecord {
    pub failures: u32,
    pub last_ms: i64,
}

/// Past this many doublings the wait is the maximum anyway (and `2^n`
/// stays far from overflowing).
const MAX_DOUBLINGS: u32 = 40;

impl ThrottlePolicy {
    /// How long an account with `failures` failures waits after the last.
    pub fn delay_ms(&self, failures: u32) -> i64 {
        if failures < self.threshold.max(1) {
            return 0;
        }
        let max = millis(self.max);
        let doublings = failures - self.threshold.max(1);
        if doublings >= MAX_DOUBLINGS {
            return max;
        }
        millis(self.base)
            .saturating_mul(1_i64 << doublings)
            .min(max)
    }

    /// A password check about to start at `now`. Allowed: the record to
    /// store (this attempt counted as a failure) and how long to keep it:
    /// the wait it causes plus the window.
    pub fn begin(
        &self,
        stored: Option<FailureRecord>,
        now: i64,
    ) -> (AttemptDecision, Option<(FailureRecord, i64)>) {
        let record = stored.unwrap_or_default();
        let free_at = record
            .last_ms
            .saturating_add(self.delay_ms(record.failures));
        if now < free_at {
            let retry_after = duration(free_at - now);
            return (AttemptDecision::Throttled { retry_after }, None);
        }
        let record = FailureRecord {
            failures: record.failures.saturating_add(1),
            last_ms: now,
        };
        let keep_ms = self
            .delay_ms(record.failures)
            .saturating_add(millis(self.window).max(1));
        (AttemptDecision::Allowed, Some((record, keep_ms)))
    }
}

#[cfg(test)]
mod tests;
