//! Redis adapters: token revocations, the producer side of the email job
//! stream and the readiness probe, all sharing one lazily connected pool.
//!
//! Every key this crate touches starts with a configurable prefix (see
//! [`keys`]), so several deployments or tests can share one Redis.
//! Requires Redis 7.0 or later (`EXPIRE ... GT`).

mod email_queue;
pub mod email_stream_consumer;
mod error;
pub mod keys;
mod pool;
mod probe;
mod revocations;

pub use email_queue::RedisEmailQueue;
pub use email_stream_consumer::{EmailStreamSettings, QueueDepths, RedisDeliveryQueue};
pub use error::RedisError;
pub use keys::DEFAULT_PREFIX;
pub use pool::{RedisPool, RedisSettings, SharedConnection, connect, connect_shared};
pub use probe::RedisProbe;
pub use revocations::RedisTokenRevocations;

/// The redis client crate, re-exported so users need no direct dependency.
pub use deadpool_redis::redis;
