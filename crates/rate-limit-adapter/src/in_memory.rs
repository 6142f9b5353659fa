//! This instance's own counters: what limits fall back to while the
//! shared store is down, so login stays protected (per instance).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use application::ports::{AttemptDecision, Clock, RateDecision, RateLimitError, RateLimiter};
use application::rate_limits::{
    FailureRecord, LogEntry, RateLimit, Rule, SlidingLog, ThrottlePolicy,
};

/// Keys kept per table unless they expired: bounds memory whatever an
/// attacker sends while Redis is down (a few tens of MB at worst).
pub const DEFAULT_CAPACITY: usize = 100_000;

/// How often a full table may be swept for expired keys.
const SWEEP_INTERVAL_MS: i64 = 1000;

/// What a full table answers for a key it cannot hold: wait a second.
/// Refusing (rather than forgetting someone's failures to make room) keeps
/// the protection; only a flood of distinct keys during an outage gets it.
const NO_ROOM_WAIT: Duration = Duration::from_secs(1);

/// One table: values with the time (ms) they can be forgotten.
struct Table<K, V> {
    entries: HashMap<K, (V, i64)>,
    next_sweep_ms: i64,
}

impl<K: Eq + Hash, V> Default for Table<K, V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            next_sweep_ms: i64::MIN,
        }
    }
}

impl<K: Eq + Hash, V> Table<K, V> {
    /// The live value of `key`, if any.
    fn live(&self, key: &K, now: i64) -> Option<&V> {
        self.entries
            .get(key)
            .filter(|(_, expires)| *expires > now)
            .map(|(value, _)| value)
    }

    /// Whether `key` can be stored: it is there already, or there is room
    /// (after sweeping out expired keys, at most once a second).
    fn has_room_for(&mut self, key: &K, now: i64, capacity: usize) -> bool {
        if self.entries.contains_key(key) || self.entries.len() < capacity {
            return true;
        }
        if now >= self.next_sweep_ms {
            self.next_sweep_ms = now.saturating_add(SWEEP_INTERVAL_MS);
            self.entries.retain(|_, (_, expires)| *expires > now);
        }
        let room = self.entries.len() < capacity;
        if !room {
            tracing::warn!(
                capacity,
                "in-memory rate limit table full; refusing new keys"
            );
        }
        room
    }
}

#[derive(Default)]
struct Tables {
    logs: Table<(Rule, String), VecDeque<LogEntry>>,
    failures: Table<String, FailureRecord>,
}

pub struct InMemoryRateLimiter {
    clock: Arc<dyn Clock>,
    capacity: usize,
    tables: Mutex<Tables>,
}

impl InMemoryRateLimiter {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_capacity(clock, DEFAULT_CAPACITY)
    }

    pub fn with_capacity(clock: Arc<dyn Clock>, capacity: usize) -> Self {
        Self {
            clock,
            capacity,
            tables: Mutex::new(Tables::default()),
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// The tables; a panic elsewhere while holding the lock leaves them
    /// consistent (every update is a single assignment), so go on.
    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(
        &self,
        rule: Rule,
        subject: &str,
        item: Option<&str>,
        limit: RateLimit,
    ) -> RateDecision {
        let now = self.now();
        let log_rule = SlidingLog::new(limit);
        let key = (rule, subject.to_owned());
        let mut tables = self.tables();
        let logs = &mut tables.logs;
        if !logs.has_room_for(&key, now, self.capacity) {
            return RateDecision::Limited {
                retry_after: NO_ROOM_WAIT,
            };
        }
        let (log, expires) = logs
            .entries
            .entry(key)
            .or_insert_with(|| (VecDeque::new(), now));
        let decision = log_rule.record(log, item, now);
        *expires = now.saturating_add(log_rule.window_ms);
        decision
    }
}

#[async_trait]
impl RateLimiter for InMemoryRateLimiter {
    async fn hit(
        &self,
        rule: Rule,
        subject: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, RateLimitError> {
        Ok(self.record(rule, subject, None, limit))
    }

    async fn admit(
        &self,
        rule: Rule,
        subject: &str,
        item: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, RateLimitError> {
        Ok(self.record(rule, subject, Some(item), limit))
    }

    async fn begin_attempt(
        &self,
        account: &str,
        policy: ThrottlePolicy,
    ) -> Result<AttemptDecision, RateLimitError> {
        let now = self.now();
        let key = account.to_owned();
        let mut tables = self.tables();
        let failures = &mut tables.failures;
        if !failures.has_room_for(&key, now, self.capacity) {
            return Ok(AttemptDecision::Throttled {
                retry_after: NO_ROOM_WAIT,
            });
        }
        let stored = failures.live(&key, now).copied();
        let (decision, update) = policy.begin(stored, now);
        if let Some((record, keep_ms)) = update {
            failures
                .entries
                .insert(key, (record, now.saturating_add(keep_ms)));
        }
        Ok(decision)
    }

    async fn forgive_attempt(&self, account: &str) -> Result<(), RateLimitError> {
        let mut tables = self.tables();
        if let Some((record, _)) = tables.failures.entries.get_mut(account) {
            record.failures = record.failures.saturating_sub(1);
        }
        Ok(())
    }

    async fn clear_failures(&self, account: &str) -> Result<(), RateLimitError> {
        self.tables().failures.entries.remove(account);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
