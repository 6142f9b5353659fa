//! The marks the cache holds: a bounded LRU of present-or-absent marks,
//! each trusted for at most `max_age`, and the cache's counters. No I/O
//! and no clock of its own (callers pass `now`), so it is tested alone.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use lru::LruCache;

/// Counters since the cache started, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RevocationCacheStats {
    /// Checks answered from the cache.
    pub hits: u64,
    /// Checks that read Redis (through the cache or around it).
    pub misses: u64,
    /// Keys invalidated by Redis pushes.
    pub invalidations: u64,
    /// Times the whole cache was emptied: the connection was lost, or
    /// Redis announced a flush.
    pub resets: u64,
    /// Entries held now.
    pub entries: u64,
    pub capacity: u64,
}

/// One present-or-absent mark as last read.
#[derive(Debug, Clone, Copy)]
struct Mark {
    present: bool,
    read_at: Instant,
}

/// The marks, bounded, and the counters.
pub(super) struct Tracker {
    entries: LruCache<Box<str>, Mark>,
    max_age: Duration,
    stats: RevocationCacheStats,
}

impl Tracker {
    pub(super) fn new(capacity: NonZeroUsize, max_age: Duration) -> Self {
        Self {
            // Sparse: memory grows with use, not up front.
            entries: LruCache::sparse(capacity),
            max_age,
            stats: RevocationCacheStats::default(),
        }
    }

    /// `Some(revoked)` when every key has a fresh entry (or one fresh
    /// entry is present, which alone decides); `None` otherwise. Entries
    /// found too old are dropped.
    pub(super) fn lookup(&mut self, keys: &[&str], now: Instant) -> Option<bool> {
        let mut all_known = true;
        for &key in keys {
            match self.entries.get(key) {
                Some(mark) if now.saturating_duration_since(mark.read_at) < self.max_age => {
                    if mark.present {
                        return Some(true);
                    }
                }
                Some(_) => {
                    self.entries.pop(key);
                    all_known = false;
                }
                None => all_known = false,
            }
        }
        all_known.then_some(false)
    }

    /// Stores what one read found: `present[i]` for `keys[i]`.
    pub(super) fn store(&mut self, keys: Vec<Box<str>>, present: &[bool], read_at: Instant) {
        for (key, &present) in keys.into_iter().zip(present) {
            self.entries.put(key, Mark { present, read_at });
        }
    }

    /// Redis announced a change of `key`.
    pub(super) fn invalidate(&mut self, key: &[u8]) {
        self.stats.invalidations += 1;
        // Keys the cache holds are UTF-8; any other cannot be one of them.
        if let Ok(key) = std::str::from_utf8(key) {
            self.entries.pop(key);
        }
    }

    /// Redis announced a flush: every key changed.
    pub(super) fn invalidate_all(&mut self) {
        self.stats.invalidations += 1;
        self.reset();
    }

    /// Empties the cache, counted as a reset (connection lost, flush).
    pub(super) fn reset(&mut self) {
        self.entries.clear();
        self.stats.resets += 1;
    }

    /// Empties the cache without counting: it holds nothing that could
    /// be served any more anyway (no connection).
    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }

    pub(super) fn count_hit(&mut self) {
        self.stats.hits += 1;
    }

    pub(super) fn count_miss(&mut self) {
        self.stats.misses += 1;
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn stats(&self) -> RevocationCacheStats {
        RevocationCacheStats {
            entries: self.entries.len() as u64,
            capacity: self.entries.cap().get() as u64,
            ..self.stats
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

    use super::*;

    const SID: &str = "p:revoked:{u:7}:sid:s1";
    const USER: &str = "p:revoked:{u:7}:user";

    fn tracker(capacity: usize) -> Tracker {
        Tracker::new(
            NonZeroUsize::new(capacity).unwrap(),
            Duration::from_secs(30),
        )
    }

    fn keys() -> Vec<Box<str>> {
        vec![SID.into(), USER.into()]
    }

    #[test]
    fn nothing_is_known_until_stored() {
        let mut tracker = tracker(4);
        assert_eq!(tracker.lookup(&[SID, USER], Instant::now()), None);
    }

    #[test]
    fn two_absent_marks_answer_not_revoked() {
        let mut tracker = tracker(4);
        let now = Instant::now();
        tracker.store(keys(), &[false, false], now);
        assert_eq!(tracker.lookup(&[SID, USER], now), Some(false));
    }

    #[test]
    fn one_present_mark_decides_alone() {
        let mut tracker = tracker(4);
        let now = Instant::now();
        tracker.store(vec![USER.into()], &[true], now);
        assert_eq!(tracker.lookup(&[SID, USER], now), Some(true));
        // An absent mark alone does not: the other key is unknown.
        let mut tracker = self::tracker(4);
        tracker.store(vec![USER.into()], &[false], now);
        assert_eq!(tracker.lookup(&[SID, USER], now), None);
    }

    #[test]
    fn an_old_entry_is_dropped_and_read_again() {
        let mut tracker = tracker(4);
        let then = Instant::now();
        tracker.store(keys(), &[true, false], then);
        let later = then + Duration::from_secs(30);
        assert_eq!(tracker.lookup(&[SID, USER], later), None);
        assert_eq!(tracker.len(), 0, "both stale marks are gone");
    }

    #[test]
    fn an_invalidation_drops_its_key_and_is_counted() {
        let mut tracker = tracker(4);
        let now = Instant::now();
        tracker.store(keys(), &[false, false], now);
        tracker.invalidate(SID.as_bytes());
        tracker.invalidate(&[0xff, 0xfe]);
        assert_eq!(tracker.lookup(&[SID, USER], now), None);
        assert_eq!(tracker.stats().invalidations, 2);
        assert_eq!(tracker.len(), 1);
    }

    #[test]
    fn a_flush_empties_everything_and_counts_a_reset() {
        let mut tracker = tracker(4);
        tracker.store(keys(), &[false, false], Instant::now());
        tracker.invalidate_all();
        let stats = tracker.stats();
        assert_eq!(
            (stats.entries, stats.resets, stats.invalidations),
            (0, 1, 1)
        );
        tracker.store(keys(), &[false, false], Instant::now());
        tracker.clear();
        assert_eq!((tracker.len(), tracker.stats().resets), (0, 1));
    }

    #[test]
    fn the_least_recently_used_go_past_capacity() {
        let mut tracker = tracker(2);
        let now = Instant::now();
        tracker.store(keys(), &[false, false], now);
        tracker.lookup(&[SID], now);
        tracker.store(vec!["p:revoked:{u:7}:sid:s2".into()], &[false], now);
        assert_eq!(tracker.len(), 2);
        assert_eq!(tracker.lookup(&[SID], now), Some(false));
        assert_eq!(tracker.lookup(&[USER], now), None);
        let stats = tracker.stats();
        assert_eq!((stats.entries, stats.capacity), (2, 2));
    }
}
