use std::time::Duration;

use application::delivery::DeliveryQueueError;
use application::ports::{ProbeError, QueueError, RateLimitError, RevocationError};
use deadpool_redis::redis::{ErrorKind, ServerErrorKind};
use deadpool_redis::{BuildError, PoolError};

/// Why a pool could not be set up. Messages never contain the URL, which
/// may carry a password.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The redis client's own error; it does not echo the URL.
    #[error("invalid Redis URL")]
    InvalidUrl(#[source] deadpool_redis::redis::RedisError),
    #[error("invalid Redis settings: {0}")]
    InvalidSettings(&'static str),
    #[error("could not build the Redis pool")]
    Pool(#[source] BuildError),
    #[error("invalid TLS settings for Redis")]
    Tls(#[source] crate::tls::TlsError),
    #[error("could not start the revocation cache's connection thread")]
    CacheThread(#[source] std::io::Error),
}

/// Why one bounded command (or pipeline) failed. Crate-internal: each
/// adapter maps it into its port's error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CommandError {
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("no Redis connection")]
    Pool(#[from] PoolError),
    #[error("Redis command failed")]
    Redis(#[from] deadpool_redis::redis::RedisError),
}

impl CommandError {
    /// Whether Redis is unreachable or temporarily unable to serve, as
    /// opposed to a bug such as a wrong type or a malformed reply.
    pub(crate) fn is_unavailable(&self) -> bool {
        match self {
            CommandError::Timeout(_) | CommandError::Pool(_) => true,
            CommandError::Redis(error) => matches!(
                error.kind(),
                ErrorKind::Io
                    | ErrorKind::AuthenticationFailed
                    | ErrorKind::ClusterConnectionNotFound
                    | ErrorKind::Server(
                        ServerErrorKind::BusyLoading
                            | ServerErrorKind::MasterDown
                            | ServerErrorKind::TryAgain
                            | ServerErrorKind::ClusterDown
                            | ServerErrorKind::ReadOnly
                    )
            ),
        }
    }
}

impl From<CommandError> for DeliveryQueueError {
    fn from(error: CommandError) -> Self {
        if error.is_unavailable() {
            DeliveryQueueError::Unavailable(Box::new(error))
        } else {
            DeliveryQueueError::Unexpected(Box::new(error))
        }
    }
}

// The ports below still take text: it is the whole chain, cause included.

impl From<CommandError> for RevocationError {
    fn from(error: CommandError) -> Self {
        if error.is_unavailable() {
            RevocationError::Unavailable(error.into())
        } else {
            RevocationError::Unexpected(error.into())
        }
    }
}

impl From<CommandError> for QueueError {
    fn from(error: CommandError) -> Self {
        if error.is_unavailable() {
            QueueError::Unavailable(error.into())
        } else {
            QueueError::Unexpected(error.into())
        }
    }
}

impl From<CommandError> for ProbeError {
    fn from(error: CommandError) -> Self {
        ProbeError(error.into())
    }
}

impl From<CommandError> for RateLimitError {
    fn from(error: CommandError) -> Self {
        if error.is_unavailable() {
            RateLimitError::Unavailable(error.into())
        } else {
            RateLimitError::Unexpected(error.into())
        }
    }
}
