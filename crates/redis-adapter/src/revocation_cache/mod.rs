//! A client-side cache of revocation marks, kept exact by Redis's own
//! invalidation pushes (`CLIENT TRACKING`, RESP3).
//!
//! # How it stays correct
//!
//! One dedicated connection (see [`link`]) carries both the reads (`MGET`
//! of a token's two marks, its session's and its user's) and the
//! invalidation pushes for every key it read. Its bytes are parsed in
//! stream order, under one lock, by whoever reads them, and a reply's marks
//! are stored the moment the reply is parsed. Redis writes a reply before
//! any push about a later change of those keys, and a push about an
//! earlier change before the reply, so an entry can never outlive the write
//! that made it stale: no generation counter is needed (the redis crate's
//! `cache-aio` hands the reply to the caller first, and an invalidation
//! parsed in between is lost). fred's `TrackingInterface` has the same
//! gap: it hands each invalidation to another task through a broadcast
//! channel, out of step with the replies the application stores.
//!
//! # Drain before hit
//!
//! Parsed pushes are not enough: one may sit unread in the socket while a
//! hit is served. So before a hit, the checking thread reads whatever the
//! kernel already holds for the connection (a non-blocking `recv`, about a
//! microsecond, never waiting) and applies it; a hit is served only when
//! that leaves no partial frame behind. Redis queues the push for every
//! tracking connection while it executes the write, and flushes it in the
//! same pass of its event loop as the writer's reply (usually first, as the
//! newest pending client is written first). So once instance A has its
//! answer to a logout, the push is already in instance B's receive buffer:
//! on one host, where loopback delivers within the `write` call, exactly;
//! across hosts, as long as the push is not overtaken on the network by
//! A's reply, its HTTP answer and the client's next request to B, which
//! follow it. The read is a syscall on the raw socket, not tokio's
//! `try_read`: that one answers from the reactor's last readiness event,
//! which may predate the push.
//!
//! # Over TLS
//!
//! For `rediss://` the same socket carries TLS records ([`transport`]):
//! the drain feeds what it read to rustls's synchronous `ClientConnection`
//! and parses the plaintext that comes out. A record only partly received
//! may hold a push, and rustls keeps it until the rest arrives, so a hit
//! also needs the received bytes to end at a record boundary (each
//! record's header is in the clear): the rule above, one layer down.
//!
//! # When the connection is in doubt
//!
//! The connection is checked by a `PING` every [`RevocationCacheSettings::heartbeat`].
//! If it closes, errs, or stays silent longer than
//! [`RevocationCacheSettings::silence_limit`], the cache is emptied before
//! any further hit, and reads go straight to Redis (the shared connection,
//! without caching) until a new tracking connection is set up. A silent
//! network (no FIN, no RST) is the one case detected late: for at most the
//! silence limit, a write that B never hears of can be missed. Every entry
//! also ages out after [`RevocationCacheSettings::max_age`], a safety net
//! for anything Redis does not announce (`SWAPDB`, say).
//!
//! # Files
//!
//! [`tracker`] holds the marks (an LRU with an age limit) and the
//! counters, with no I/O. [`state`] is the state machine under the lock:
//! the connection's buffers, the requests in flight, and how each frame
//! is applied. [`link`] drives the connection (connect, read, write,
//! PING, reconnect); [`protocol`] is its wire format, decoded by
//! `redis-protocol` and packed by the redis crate; [`transport`] is TLS.
//! [`single`] is the handle of one server's cache; [`cluster`] runs one
//! per master of a Redis Cluster.

mod cluster;
mod link;
mod protocol;
mod settings;
mod single;
mod state;
mod tracker;
mod transport;

pub(crate) use cluster::ClusterCache;
pub use settings::RevocationCacheSettings;
pub(crate) use single::RevocationCache;
pub(crate) use state::CacheError;
pub use tracker::RevocationCacheStats;

/// The cache of one server, or of every master of a cluster.
pub(crate) enum AnyCache {
    Single(RevocationCache),
    Cluster(ClusterCache),
}

impl AnyCache {
    pub(crate) async fn is_revoked(&self, keys: [&str; 2]) -> Result<bool, CacheError> {
        match self {
            Self::Single(cache) => cache.is_revoked(keys).await,
            Self::Cluster(cache) => cache.is_revoked(keys).await,
        }
    }

    pub(crate) fn stats(&self) -> RevocationCacheStats {
        match self {
            Self::Single(cache) => cache.stats(),
            Self::Cluster(cache) => cache.stats(),
        }
    }
}

#[cfg(test)]
mod tests;
