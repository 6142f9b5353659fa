//! Redis adapters: token revocations, the email job stream (producer and
//! consumer side), rate limit counters and the readiness probe, all
//! sharing one lazily connected pool.
//!
//! Every key this crate touches starts with a configurable prefix (see
//! [`keys`]), so several deployments or tests can share one Redis.
//! Requires Redis 7.0 or later (`EXPIRE ... GT`).

mod connection;
mod email_stream;
mod endpoint;
mod error;
pub mod keys;
mod lua;
mod pool;
mod probe;
mod rate_limiter;
mod redis_url;
mod revocation_cache;
mod revocations;
mod tls;

pub use email_stream::{DEFAULT_GROUP, EmailStreamSettings, RedisDeliveryQueue, RedisEmailQueue};
pub use endpoint::{ClusterNodesError, RedisEndpoint};
pub use error::RedisError;
pub use keys::DEFAULT_PREFIX;
pub use pool::{
    PooledConnection, RedisPool, RedisSettings, SharedConnection, connect, connect_endpoint,
    connect_shared, connect_shared_endpoint,
};
pub use probe::RedisProbe;
pub use rate_limiter::RedisRateLimiter;
pub use redis_url::{RedisUrl, RedisUrlError};
pub use revocation_cache::{RevocationCacheSettings, RevocationCacheStats};
pub use revocations::RedisTokenRevocations;
pub use tls::TlsError;

/// The redis client crate, re-exported so users need no direct dependency.
pub use deadpool_redis::redis;
