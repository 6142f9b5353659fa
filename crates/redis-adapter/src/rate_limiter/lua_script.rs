//! A Lua script run by its SHA-1 (`EVALSHA`): the source crosses the wire
//! once per server (`SCRIPT LOAD`, which also tells us the SHA, so no hash
//! crate is needed), then every call is one short command.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use deadpool_redis::redis::{self, ErrorKind, FromRedisValue, ServerErrorKind};

use crate::error::CommandError;
use crate::pool::{SharedConnection, query_shared};

pub(super) struct LuaScript {
    source: &'static str,
    /// The SHA-1 Redis reported for `source`; the same on every server.
    sha: Mutex<Option<String>>,
}

impl LuaScript {
    pub(super) const fn new(source: &'static str) -> Self {
        Self {
            source,
            sha: Mutex::new(None),
        }
    }

    fn cached_sha(&self) -> Option<String> {
        self.sha
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn load(
        &self,
        connection: &SharedConnection,
        timeout: Duration,
    ) -> Result<String, CommandError> {
        let mut load = redis::cmd("SCRIPT");
        load.arg("LOAD").arg(self.source);
        let sha: String = query_shared(connection, timeout, &load).await?;
        *self.sha.lock().unwrap_or_else(PoisonError::into_inner) = Some(sha.clone());
        Ok(sha)
    }

    /// Runs the script; a server that does not know it (first use, a
    /// restart, `SCRIPT FLUSH`) is given it first.
    pub(super) async fn run<T: FromRedisValue>(
        &self,
        connection: &SharedConnection,
        timeout: Duration,
        keys: &[&str],
        args: &[String],
    ) -> Result<T, CommandError> {
        let evalsha = |sha: &str| {
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(sha).arg(keys.len()).arg(keys).arg(args);
            cmd
        };
        let sha = match self.cached_sha() {
            Some(sha) => sha,
            None => self.load(connection, timeout).await?,
        };
        match query_shared(connection, timeout, &evalsha(&sha)).await {
            Err(CommandError::Redis(error))
                if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) =>
            {
                let sha = self.load(connection, timeout).await?;
                query_shared(connection, timeout, &evalsha(&sha)).await
            }
            answer => answer,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

    use super::*;
    use crate::pool::{RedisSettings, connect_shared};

    /// Against the real Redis at 127.0.0.1:6379.
    #[tokio::test]
    async fn a_script_the_server_does_not_know_is_loaded_and_run() {
        let connection =
            connect_shared("redis://127.0.0.1:6379", &RedisSettings::default()).unwrap();
        let timeout = Duration::from_secs(2);
        let script = LuaScript::new("return ARGV[1]");
        let echoed: String = script
            .run(&connection, timeout, &[], &["first".to_owned()])
            .await
            .unwrap();
        assert_eq!(echoed, "first");
        let sha = script.cached_sha().unwrap();
        assert_eq!(sha.len(), 40);

        // As after a Redis restart or SCRIPT FLUSH: the SHA is unknown.
        *script.sha.lock().unwrap() = Some("0".repeat(40));
        let echoed: String = script
            .run(&connection, timeout, &[], &["again".to_owned()])
            .await
            .unwrap();
        assert_eq!(echoed, "again");
        assert_eq!(script.cached_sha(), Some(sha));
    }
}
