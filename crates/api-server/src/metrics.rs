//! The Prometheus listener (`METRICS_ADDR`): pool gauges and the
//! revocation cache's counters, read at each scrape.

use std::net::SocketAddr;
use std::sync::Arc;

use http_api::metrics::{PoolGauge, PoolStatus, RevocationCacheGauge, RevocationCacheStatus};

use crate::adapters::Adapters;
use crate::listener::bind;
use crate::startup_error::StartupError;

/// A gauge that reads a deadpool pool's status at each scrape. A macro,
/// not a function: the Postgres and Redis pools come from two deadpool
/// versions whose `Status` types differ only in name.
macro_rules! pool_gauge {
    ($name:literal, $pool:expr) => {{
        let pool = $pool.clone();
        PoolGauge {
            name: $name,
            status: Arc::new(move || {
                let status = pool.status();
                PoolStatus {
                    max_size: status.max_size,
                    size: status.size,
                    available: status.available,
                    waiting: status.waiting,
                }
            }),
        }
    }};
}

/// The bound listener and its port, or `None` when `address` is unset.
pub(crate) fn listener(
    address: Option<SocketAddr>,
    adapters: &Adapters,
) -> Result<Option<(u16, http_api::Server)>, StartupError> {
    let Some(address) = address else {
        return Ok(None);
    };
    let (listener, port) = bind(address, address.to_string())?;
    let pools = vec![
        pool_gauge!("postgres", adapters.pg),
        pool_gauge!("redis", adapters.redis),
    ];
    let server = http_api::metrics::serve_metrics_with(listener, pools, revocation_cache(adapters))
        .map_err(|source| StartupError::Bind {
            address: address.to_string(),
            source,
        })?;
    Ok(Some((port, server)))
}

/// The revocation cache's counters, when there is a cache.
fn revocation_cache(adapters: &Adapters) -> Option<RevocationCacheGauge> {
    let revocations = adapters.token_revocations.clone();
    revocations.cache_stats()?;
    Some(RevocationCacheGauge {
        status: Arc::new(move || {
            let stats = revocations.cache_stats().unwrap_or_default();
            RevocationCacheStatus {
                hits: stats.hits,
                misses: stats.misses,
                invalidations: stats.invalidations,
                resets: stats.resets,
                entries: stats.entries,
                capacity: stats.capacity,
            }
        }),
    })
}
