//! How the consumer side of the stream behaves.

use std::time::Duration;

/// The consumer group every email worker joins.
pub const DEFAULT_GROUP: &str = "email-workers";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailStreamSettings {
    pub group: String,
    /// Unique per process, so a restarted worker never mistakes the
    /// deliveries of its previous life for its own.
    pub consumer: String,
    /// A delivery held this long without an outcome is taken over by
    /// whichever worker claims abandoned jobs next; a job's claim lasts
    /// as long.
    pub visibility_timeout: Duration,
    /// How long `receive` waits for new jobs when there are none.
    pub block: Duration,
    /// Bound on every other command.
    pub command_timeout: Duration,
    /// How long a delivery is remembered to suppress duplicates.
    pub delivered_ttl: Duration,
    /// Dead letters older than this are dropped.
    pub dead_letter_retention: Duration,
    /// At most this many dead letters are kept; the oldest go first.
    pub dead_letter_max: usize,
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
            dead_letter_retention: Duration::from_secs(30 * 24 * 60 * 60),
            dead_letter_max: 10_000,
        }
    }
}
