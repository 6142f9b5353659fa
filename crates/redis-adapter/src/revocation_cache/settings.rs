//! How the cache is sized and how it watches its connection.

use std::num::NonZeroUsize;
use std::time::Duration;

use crate::pool::RedisSettings;

/// How the cache is sized and how it watches its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationCacheSettings {
    /// Marks kept: two per session in use, its own and its user's (every
    /// token of a session shares them, every session of a user the user's).
    /// About 150 bytes each when full: the key (~36 bytes with the default
    /// prefix, half of them session keys, half user keys) and its
    /// allocation, a 56-byte LRU node, and a 34-byte share of the hash
    /// table; 146-154 measured (glibc, x86_64) over 65,536 of them. The
    /// default is ~9.4 MiB when full and covers ~32,000 sessions in use at
    /// once on one instance (each of its own user; more when users have
    /// several). Past that, the least recently used go, and a miss costs
    /// what every check cost without the cache: one round trip.
    pub capacity: NonZeroUsize,
    /// An entry older than this is read again from Redis even though no
    /// invalidation came: a safety net, never the mechanism.
    pub max_age: Duration,
    /// How often the connection is PINGed.
    pub heartbeat: Duration,
    /// How long the connection may stay silent before it is deemed lost.
    pub silence_limit: Duration,
    /// Bounds connecting, including the handshake.
    pub connect_timeout: Duration,
    /// Bounds waiting for the reply to a read.
    pub command_timeout: Duration,
}

impl RevocationCacheSettings {
    pub const DEFAULT_CAPACITY: usize = 65_536;

    pub fn new(capacity: NonZeroUsize, redis: &RedisSettings) -> Self {
        Self {
            capacity,
            max_age: Duration::from_secs(30),
            heartbeat: Duration::from_millis(500),
            silence_limit: Duration::from_millis(1_500),
            connect_timeout: redis.connect_timeout,
            command_timeout: redis.command_timeout,
        }
    }
}
