use std::time::Duration;

use application::ports::{Revocation, RevocationError, TokenRevocations};
use async_trait::async_trait;
use deadpool_redis::redis::{self, Pipeline};
use domain::TokenClaims;

use crate::keys;
use crate::pool::{SharedConnection, pipeline_shared, query_shared};

/// Raises a user's `issued_until` mark, never lowers it, and only ever
/// lengthens its life: a later, smaller revocation must not un-revoke
/// tokens an earlier one covered. A value that is not a number is replaced.
const RAISE_USER_MARK: &str = r"
local current = tonumber(redis.call('GET', KEYS[1]))
if current == nil or current < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2], 'GT')
end
return 1
";

/// Revocations kept as expiring keys: one per revoked token (`jti`) and
/// session (`sid`), and one `issued_until` mark per user.
pub struct RedisTokenRevocations {
    connection: SharedConnection,
    prefix: String,
    command_timeout: Duration,
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
        }
    }

    fn revocation_pipeline(&self, revocations: &[Revocation]) -> Pipeline {
        let mut pipeline = redis::pipe();
        // MULTI/EXEC: all revocations are recorded or none is.
        pipeline.atomic();
        for revocation in revocations {
            match revocation {
                Revocation::Token { id, ttl_secs } => {
                    add_flag(
                        &mut pipeline,
                        keys::revoked_token(&self.prefix, id),
                        *ttl_secs,
                    );
                }
                Revocation::Session { id, ttl_secs } => {
                    add_flag(
                        &mut pipeline,
                        keys::revoked_session(&self.prefix, id),
                        *ttl_secs,
                    );
                }
                Revocation::User {
                    id,
                    issued_until,
                    ttl_secs,
                } => {
                    pipeline
                        .cmd("EVAL")
                        .arg(RAISE_USER_MARK)
                        .arg(1)
                        .arg(keys::revoked_user(&self.prefix, *id))
                        .arg(issued_until.timestamp())
                        .arg(expiry_secs(*ttl_secs))
                        .ignore();
                }
            }
        }
        pipeline
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
    async fn revoke(&self, revocations: Vec<Revocation>) -> Result<(), RevocationError> {
        if revocations.is_empty() {
            return Ok(());
        }
        let pipeline = self.revocation_pipeline(&revocations);
        pipeline_shared::<()>(&self.connection, self.command_timeout, &pipeline).await?;
        Ok(())
    }

    async fn is_revoked(&self, claims: &TokenClaims) -> Result<bool, RevocationError> {
        let user_key = keys::revoked_user(&self.prefix, claims.user_id);
        let mut mget = redis::cmd("MGET");
        mget.arg(keys::revoked_token(&self.prefix, &claims.token_id))
            .arg(keys::revoked_session(&self.prefix, &claims.session_id))
            .arg(&user_key);
        let (token, session, user): (Option<String>, Option<String>, Option<String>) =
            query_shared(&self.connection, self.command_timeout, &mget).await?;
        if token.is_some() || session.is_some() {
            return Ok(true);
        }
        let Some(raw) = user else {
            return Ok(false);
        };
        match raw.trim().parse::<i64>() {
            Ok(issued_until) => Ok(claims.issued_at.timestamp() <= issued_until),
            Err(_) => {
                // Fail closed: a mark we cannot read may be a revocation.
                tracing::error!(
                    key = %user_key,
                    "user revocation mark is not unix seconds; treating the token as revoked"
                );
                Ok(true)
            }
        }
    }
}
