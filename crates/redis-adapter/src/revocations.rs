use std::time::Duration;

use application::ports::{Revocation, RevocationError, TokenRevocations};
use async_trait::async_trait;
use deadpool_redis::redis::{self, Pipeline};
use domain::{TokenClaims, UserId};

use crate::endpoint::RedisEndpoint;
use crate::error::RedisError;
use crate::keys;
use crate::pool::{SharedConnection, pipeline_shared, query_shared};
use crate::revocation_cache::{
    AnyCache, CacheError, ClusterCache, RevocationCache, RevocationCacheSettings,
    RevocationCacheStats,
};

/// Revocations kept as expiring presence flags: one per revoked session
/// (`sid`) and user. A token check reads both in one `MGET`, or none with
/// the cache on ([`Self::with_cache`]).
pub struct RedisTokenRevocations {
    connection: SharedConnection,
    prefix: String,
    command_timeout: Duration,
    cache: Option<AnyCache>,
}

impl RedisTokenRevocations {
    pub fn new(
        connection: SharedConnection,
        prefix: impl Into<String>,
        command_timeout: Duration,
    ) -> Self {
        Self {
            connection,
            prefix: prefix.into(),
            command_timeout,
            cache: None,
        }
    }

    /// Checks read the marks through a client-side cache that Redis keeps
    /// exact (see `revocation_cache`). It connects on a thread of its own;
    /// until it has, and whenever its connection is lost, checks read
    /// Redis directly, as without it. Writes are unchanged.
    pub fn with_cache(
        mut self,
        redis_url: &str,
        settings: RevocationCacheSettings,
    ) -> Result<Self, RedisError> {
        self.cache = Some(AnyCache::Single(RevocationCache::start(
            redis_url, None, settings,
        )?));
        Ok(self)
    }

    /// [`Self::with_cache`] on any endpoint: one server, over TCP or TLS
    /// (`rediss://`, with the endpoint's CA), or a Redis Cluster (one
    /// tracking connection per master, each of `settings.capacity`).
    pub fn with_cache_on(
        mut self,
        endpoint: &RedisEndpoint,
        settings: RevocationCacheSettings,
    ) -> Result<Self, RedisError> {
        self.cache = Some(if endpoint.is_cluster() {
            AnyCache::Cluster(ClusterCache::start(endpoint, settings)?)
        } else {
            let url = endpoint.urls()[0].expose();
            AnyCache::Single(RevocationCache::start(url, endpoint.ca_cert(), settings)?)
        });
        Ok(self)
    }

    /// The cache's counters, when it is on.
    pub fn cache_stats(&self) -> Option<RevocationCacheStats> {
        self.cache.as_ref().map(AnyCache::stats)
    }

    fn mark_keys(&self, claims: &TokenClaims) -> keys::MarkKeys {
        keys::MarkKeys::new(&self.prefix, &claims.session_id, claims.user_id)
    }

    /// One MULTI/EXEC per user: a user's marks are recorded all or none;
    /// marks of different users live in different slots of a cluster,
    /// where one transaction cannot span them.
    fn revocation_pipelines(&self, revocations: &[Revocation]) -> Vec<Pipeline> {
        let mut pipelines: Vec<(UserId, Pipeline)> = Vec::new();
        for revocation in revocations {
            let (user, key, ttl_secs) = match revocation {
                Revocation::Session { id, user, ttl_secs } => (
                    *user,
                    keys::revoked_session(&self.prefix, *user, id),
                    *ttl_secs,
                ),
                Revocation::User { id, ttl_secs } => {
                    (*id, keys::revoked_user(&self.prefix, *id), *ttl_secs)
                }
            };
            let index = match pipelines.iter().position(|(owner, _)| *owner == user) {
                Some(index) => index,
                None => {
                    let mut pipeline = redis::pipe();
                    pipeline.atomic();
                    pipelines.push((user, pipeline));
                    pipelines.len() - 1
                }
            };
            add_flag(&mut pipelines[index].1, key, ttl_secs);
        }
        pipelines
            .into_iter()
            .map(|(_, pipeline)| pipeline)
            .collect()
    }
}

/// Sets a presence flag that lives at least `ttl_secs`; an existing flag
/// keeps its value and only ever gets a longer life.
fn add_flag(pipeline: &mut Pipeline, key: String, ttl_secs: u64) {
    let ttl = expiry_secs(ttl_secs);
    pipeline
        .cmd("SET")
        .arg(&key)
        .arg(1)
        .arg("NX")
        .arg("EX")
        .arg(ttl)
        .ignore()
        .cmd("EXPIRE")
        .arg(&key)
        .arg(ttl)
        .arg("GT")
        .ignore();
}

/// Redis rejects an expiry of 0; a revocation always lives at least 1 s.
fn expiry_secs(ttl_secs: u64) -> u64 {
    ttl_secs.max(1)
}

#[async_trait]
impl TokenRevocations for RedisTokenRevocations {
    #[tracing::instrument(
        level = "debug",
        name = "redis.revoke",
        skip_all,
        fields(revocations = revocations.len())
    )]
    async fn revoke(&self, revocations: Vec<Revocation>) -> Result<(), RevocationError> {
        if revocations.is_empty() {
            return Ok(());
        }
        // A failure leaves the marks queued for the replay, which writes
        // every one again (setting a mark twice is harmless).
        for pipeline in self.revocation_pipelines(&revocations) {
            pipeline_shared::<()>(&self.connection, self.command_timeout, &pipeline).await?;
        }
        Ok(())
    }

    /// Either flag revokes the token. A user flag has no time in it: every
    /// token of a deleted user is dead, including one signed by a login
    /// that was in flight when the user was deleted.
    #[tracing::instrument(
        level = "debug",
        name = "redis.is_revoked",
        skip_all,
        fields(user_id = claims.user_id.get())
    )]
    async fn is_revoked(&self, claims: &TokenClaims) -> Result<bool, RevocationError> {
        if let Some(cache) = &self.cache {
            match cache.is_revoked(self.mark_keys(claims).get()).await {
                Ok(revoked) => return Ok(revoked),
                // Fail closed: no answer in time is no answer.
                Err(error @ CacheError::Timeout(_)) => {
                    return Err(RevocationError::Unavailable(error.into()));
                }
                // Without a tracking connection: the direct read below.
                Err(CacheError::NoLink | CacheError::Refused(_)) => {}
            }
        }
        let mut mget = redis::cmd("MGET");
        for key in self.mark_keys(claims).get() {
            mget.arg(key);
        }
        let flags: Vec<Option<String>> =
            query_shared(&self.connection, self.command_timeout, &mget).await?;
        Ok(flags.iter().any(Option::is_some))
    }
}
