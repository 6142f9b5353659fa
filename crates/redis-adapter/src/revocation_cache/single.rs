//! The cache of one server: its handle, which starts the connection
//! thread and answers checks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::link;
use super::settings::RevocationCacheSettings;
use super::state::{CacheError, Check, Shared};
use super::tracker::RevocationCacheStats;
use crate::error::RedisError;

/// The cache's handle. Dropping it stops its connection thread.
pub(crate) struct RevocationCache {
    shared: Arc<Shared>,
    command_timeout: Duration,
    /// Dropped with the handle, which tells the connection thread to end.
    _stop: oneshot::Sender<()>,
}

impl RevocationCache {
    /// Starts the connection thread; connecting happens there, so the
    /// service starts while Redis is down. A `rediss://` URL connects over
    /// TLS, checked against `ca_pem` (else the system's roots).
    pub(crate) fn start(
        redis_url: &str,
        ca_pem: Option<&[u8]>,
        settings: RevocationCacheSettings,
    ) -> Result<Self, RedisError> {
        let endpoint = link::Endpoint::parse(redis_url, ca_pem)?;
        let shared = Arc::new(Shared::new(settings));
        let (stop, stopped) = oneshot::channel();
        link::spawn(shared.clone(), endpoint, stopped).map_err(RedisError::CacheThread)?;
        Ok(Self {
            shared,
            command_timeout: settings.command_timeout,
            _stop: stop,
        })
    }

    /// Empties the cache (counted as a reset): its server stopped owning
    /// some of the keys it holds.
    pub(crate) fn reset(&self) {
        self.shared.lock().tracker.reset();
    }

    pub(crate) fn stats(&self) -> RevocationCacheStats {
        self.shared.lock().tracker.stats()
    }

    /// Whether any of `keys` is present: from the cache when all of them
    /// are fresh there, else from one `MGET` on the tracking connection,
    /// whose reply fills the cache.
    pub(crate) async fn is_revoked(&self, keys: [&str; 2]) -> Result<bool, CacheError> {
        let reply = match self.shared.lock().check(keys, Instant::now()) {
            Check::Hit(revoked) => return Ok(revoked),
            Check::Sent(reply) => reply,
            Check::NoLink => return Err(CacheError::NoLink),
        };
        self.shared.wake_writer.notify_one();
        match tokio::time::timeout(self.command_timeout, reply).await {
            Ok(Ok(answer)) => answer,
            // The connection was reset and the request dropped with it.
            Ok(Err(_)) => Err(CacheError::NoLink),
            Err(_) => Err(CacheError::Timeout(self.command_timeout)),
        }
    }
}
