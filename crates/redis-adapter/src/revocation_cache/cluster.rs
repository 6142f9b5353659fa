//! The cache on a Redis Cluster: one tracking connection per master, each
//! a [`RevocationCache`] of its own. `CLIENT TRACKING` works per node, and
//! a token's two marks share their user's hash tag, so the `MGET` of a
//! check goes to the master owning that slot, whose connection then
//! hears of every change of those keys: the argument of `mod.rs` holds
//! shard by shard.
//!
//! The slot map comes from `CLUSTER SLOTS`, read on a thread of its own at
//! start, every [`REFRESH_INTERVAL`], and at once when a shard answers a
//! read with `MOVED` or `ASK` (a failover or a resharding; that check reads
//! Redis directly, through the cluster client that follows the redirect).
//! While a shard's connection is down, checks of its users read Redis
//! directly, as on one server; masters that left the map are dropped
//! with their connections.
//!
//! The one gap: when a resharding moves a slot away from a master, that
//! master announces the keys it deletes, but not the marks that were
//! absent, which the new master may then get. Such an absent mark can be
//! served from the old master's cache until the next map read notices the
//! move and empties that cache: for at most [`REFRESH_INTERVAL`] after the
//! move (a failover drops the old master's connection, which empties its
//! cache at once).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use deadpool_redis::redis::cluster::ClusterClient;
use deadpool_redis::redis::{self, Value};
use tokio::sync::{Notify, oneshot};

use super::settings::RevocationCacheSettings;
use super::single::RevocationCache;
use super::state::CacheError;
use super::tracker::RevocationCacheStats;
use crate::endpoint::RedisEndpoint;
use crate::error::RedisError;

/// How often the slot map is read when nothing asks for it sooner.
pub(super) const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// The Redis Cluster hash slot of `key` (CRC16/XMODEM of its hash tag,
/// or of the whole key without one, modulo 16384).
pub(super) fn slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&byte| byte == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&byte| byte == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16::State::<crc16::XMODEM>::calculate(tagged) % 16_384
}

/// Which master serves which slots, and each master's cache.
#[derive(Default)]
struct SlotMap {
    /// (first slot, last slot, master address).
    ranges: Vec<(u16, u16, String)>,
    shards: HashMap<String, Arc<RevocationCache>>,
}

impl SlotMap {
    fn cache_for(&self, slot: u16) -> Option<Arc<RevocationCache>> {
        let (_, _, address) = self
            .ranges
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&slot))?;
        self.shards.get(address).cloned()
    }
}

struct Inner {
    map: RwLock<SlotMap>,
    refresh: Notify,
}

/// The cache's handle on a cluster. Dropping it stops every thread.
pub(crate) struct ClusterCache {
    inner: Arc<Inner>,
    _stop: oneshot::Sender<()>,
}

impl ClusterCache {
    pub(crate) fn start(
        endpoint: &RedisEndpoint,
        settings: RevocationCacheSettings,
    ) -> Result<Self, RedisError> {
        let client = crate::connection::cluster_client(
            endpoint,
            settings.connect_timeout,
            settings.command_timeout,
        )
        .map_err(RedisError::InvalidUrl)?;
        let inner = Arc::new(Inner {
            map: RwLock::new(SlotMap::default()),
            refresh: Notify::new(),
        });
        let (stop, stopped) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(RedisError::CacheThread)?;
        let (thread_inner, endpoint) = (inner.clone(), endpoint.clone());
        std::thread::Builder::new()
            .name("revocation-cache-slots".to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    tokio::select! {
                        _ = stopped => {}
                        () = follow_slots(&thread_inner, &client, &endpoint, settings) => {}
                    }
                });
                // The shards' threads end with their handles.
                let mut map = thread_inner
                    .map
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                *map = SlotMap::default();
            })
            .map_err(RedisError::CacheThread)?;
        Ok(Self { inner, _stop: stop })
    }

    pub(crate) async fn is_revoked(&self, keys: [&str; 2]) -> Result<bool, CacheError> {
        // Both keys carry the user's tag: one slot, one shard.
        let cache = self
            .inner
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .cache_for(slot(keys[1].as_bytes()));
        let Some(cache) = cache else {
            self.inner.refresh.notify_one();
            return Err(CacheError::NoLink);
        };
        match cache.is_revoked(keys).await {
            Err(CacheError::Refused(error)) if matches!(error.code(), Some("MOVED" | "ASK")) => {
                self.inner.refresh.notify_one();
                Err(CacheError::Refused(error))
            }
            answer => answer,
        }
    }

    /// The shards' counters, added up.
    pub(crate) fn stats(&self) -> RevocationCacheStats {
        let map = self
            .inner
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.shards.values().map(|cache| cache.stats()).fold(
            RevocationCacheStats::default(),
            |sum, shard| RevocationCacheStats {
                hits: sum.hits + shard.hits,
                misses: sum.misses + shard.misses,
                invalidations: sum.invalidations + shard.invalidations,
                resets: sum.resets + shard.resets,
                entries: sum.entries + shard.entries,
                capacity: sum.capacity + shard.capacity,
            },
        )
    }
}

/// Reads the slot map now, then every interval or when asked, forever.
async fn follow_slots(
    inner: &Inner,
    client: &ClusterClient,
    endpoint: &RedisEndpoint,
    settings: RevocationCacheSettings,
) {
    let mut connection = None;
    let mut failures = 0_u32;
    loop {
        match read_slots(client, &mut connection, settings.command_timeout).await {
            Ok(ranges) => {
                failures = 0;
                install(inner, ranges, endpoint, settings);
            }
            Err(error) => {
                connection = None;
                if failures == 0 {
                    tracing::warn!(error.chain = %application::ErrorChain(&error), "revocation cache: cannot read the cluster's slots; reading Redis directly");
                }
                failures += 1;
            }
        }
        tokio::select! {
            () = inner.refresh.notified() => {}
            () = tokio::time::sleep(REFRESH_INTERVAL) => {}
        }
        // Many checks may ask at once: one read answers them all.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn read_slots(
    client: &ClusterClient,
    connection: &mut Option<redis::cluster_async::ClusterConnection>,
    timeout: Duration,
) -> Result<Vec<(u16, u16, String)>, redis::RedisError> {
    let work = async {
        if connection.is_none() {
            *connection = Some(client.get_async_connection().await?);
        }
        let Some(connection) = connection.as_mut() else {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "no cluster connection",
            )));
        };
        let reply: Value = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(connection)
            .await?;
        Ok(parse_slots(&reply))
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "CLUSTER SLOTS timed out",
            )))
        })
}

/// `CLUSTER SLOTS`: `[[first, last, [ip, port, id, ...], replicas...], ...]`.
fn parse_slots(reply: &Value) -> Vec<(u16, u16, String)> {
    let int = |value: &Value| match value {
        Value::Int(number) => u16::try_from(*number).ok(),
        _ => None,
    };
    let text = |value: &Value| match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    };
    let Value::Array(ranges) = reply else {
        return Vec::new();
    };
    ranges
        .iter()
        .filter_map(|range| {
            let Value::Array(fields) = range else {
                return None;
            };
            let Value::Array(master) = fields.get(2)? else {
                return None;
            };
            let host = text(master.first()?)?;
            let port = int(master.get(1)?)?;
            let address = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            Some((int(fields.first()?)?, int(fields.get(1)?)?, address))
        })
        .collect()
}

/// Installs a new map: masters new to it get a cache (its connection
/// thread starts), masters gone from it lose theirs, and masters that lost
/// slots are emptied (they hold marks of keys they no longer own).
fn install(
    inner: &Inner,
    ranges: Vec<(u16, u16, String)>,
    endpoint: &RedisEndpoint,
    settings: RevocationCacheSettings,
) {
    let mut map = inner.map.write().unwrap_or_else(PoisonError::into_inner);
    for old in &map.ranges {
        if !ranges.contains(old)
            && let Some(cache) = map.shards.get(&old.2)
        {
            cache.reset();
        }
    }
    let mut shards = HashMap::new();
    for (_, _, address) in &ranges {
        if shards.contains_key(address) {
            continue;
        }
        let cache = match map.shards.get(address) {
            Some(cache) => Some(cache.clone()),
            None => start_shard(endpoint, address, settings),
        };
        if let Some(cache) = cache {
            shards.insert(address.clone(), cache);
        }
    }
    *map = SlotMap { ranges, shards };
}

/// A cache on the master at `address`, reached as the seed URL says
/// (scheme, credentials).
fn start_shard(
    endpoint: &RedisEndpoint,
    address: &str,
    settings: RevocationCacheSettings,
) -> Option<Arc<RevocationCache>> {
    let seed = url::Url::parse(endpoint.urls().first()?.expose()).ok()?;
    let mut url = url::Url::parse(&format!("{}://{address}", seed.scheme())).ok()?;
    if !seed.username().is_empty() {
        url.set_username(seed.username()).ok()?;
    }
    if let Some(password) = seed.password() {
        url.set_password(Some(password)).ok()?;
    }
    match RevocationCache::start(url.as_str(), endpoint.ca_cert(), settings) {
        Ok(cache) => Some(Arc::new(cache)),
        Err(error) => {
            tracing::warn!(error.chain = %application::ErrorChain(&error), %address, "revocation cache: cannot start a shard's connection");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_cluster_spec() {
        // The examples of the Redis Cluster specification.
        assert_eq!(slot(b"123456789"), 12_739);
        assert_eq!(slot(b"{user1000}.following"), slot(b"{user1000}.followers"));
        assert_eq!(slot(b"foo{}{bar}"), slot(b"foo{}{bar}"));
        assert_ne!(slot(b"foo{}{bar}"), slot(b"bar"));
        assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
        assert_eq!(slot(b"foo{bar}{zap}"), slot(b"bar"));
        assert_eq!(
            slot(b"p:revoked:{u:7}:sid:s"),
            slot(b"p:revoked:{u:7}:user")
        );
    }

    #[test]
    fn a_slot_map_reply_is_read_by_master() {
        let node = |port: i64| {
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
            ])
        };
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(5460),
                node(7000),
                node(7003),
            ]),
            Value::Array(vec![Value::Int(5461), Value::Int(16383), node(7001)]),
        ]);
        assert_eq!(
            parse_slots(&reply),
            [
                (0, 5460, "127.0.0.1:7000".to_owned()),
                (5461, 16383, "127.0.0.1:7001".to_owned())
            ]
        );
    }
}
