//! Lua on Redis, one way for the whole crate: every script is a
//! [`redis::Script`], run by its SHA-1 (`EVALSHA`). Run on its own, the
//! redis crate sends the source again when the server answers NOSCRIPT
//! (first use, a restart, `SCRIPT FLUSH`).
//!
//! Inside a pipeline there is no such retry, and inside MULTI a NOSCRIPT
//! would surface only at EXEC, after the transaction's other commands
//! were applied: the atomicity the caller relies on would be lost. So
//! [`Lua::queue`] puts a `SCRIPT LOAD` (a no-op for a known script) right
//! before the `EVALSHA`, in the same pipeline or transaction.

use std::ops::Deref;
use std::sync::OnceLock;

use deadpool_redis::redis::{Pipeline, Script, ScriptInvocation};

pub(crate) struct Lua {
    source: &'static str,
    script: OnceLock<Script>,
}

impl Lua {
    pub(crate) const fn new(source: &'static str) -> Self {
        Self {
            source,
            script: OnceLock::new(),
        }
    }

    /// Adds `invocation` (of this script) to `pipeline`, its reply
    /// ignored, preceded by the script's load.
    pub(crate) fn queue(&self, pipeline: &mut Pipeline, invocation: &ScriptInvocation<'_>) {
        pipeline
            .cmd("SCRIPT")
            .arg("LOAD")
            .arg(self.source)
            .ignore()
            .invoke_script(invocation)
            .ignore();
    }
}

impl Deref for Lua {
    type Target = Script;

    fn deref(&self) -> &Script {
        self.script.get_or_init(|| Script::new(self.source))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

    use std::time::Duration;

    use deadpool_redis::redis;
    use uuid::Uuid;

    use super::*;
    use crate::pool::{
        RedisSettings, SharedConnection, connect_shared, pipeline_shared, script_shared,
    };

    const TIMEOUT: Duration = Duration::from_secs(2);

    fn connection() -> SharedConnection {
        connect_shared("redis://127.0.0.1:6379", &RedisSettings::default()).unwrap()
    }

    /// A script no server has seen: its source names a fresh id.
    fn fresh(body: &str) -> Lua {
        let source = format!("-- {}\n{body}", Uuid::new_v4());
        Lua::new(Box::leak(source.into_boxed_str()))
    }

    fn key() -> String {
        format!("test:lua:{}", Uuid::new_v4().simple())
    }

    /// Against the real Redis at 127.0.0.1:6379.
    #[tokio::test]
    async fn a_script_the_server_does_not_know_is_loaded_and_run() {
        let connection = connection();
        let script = fresh("return ARGV[1]");
        let echoed: String = script_shared(&connection, TIMEOUT, &script.arg("first"))
            .await
            .unwrap();
        assert_eq!(echoed, "first");
        let mut exists = redis::cmd("SCRIPT");
        exists.arg("EXISTS").arg(script.get_hash());
        let known: Vec<i64> = crate::pool::query_shared(&connection, TIMEOUT, &exists)
            .await
            .unwrap();
        assert_eq!(known, [1]);
        let again: String = script_shared(&connection, TIMEOUT, &script.arg("again"))
            .await
            .unwrap();
        assert_eq!(again, "again");
    }

    /// Why `queue` loads first: an unknown script inside MULTI fails only
    /// at EXEC, and the rest of the transaction is applied regardless.
    #[tokio::test]
    async fn a_queued_script_runs_in_its_transaction_even_when_unknown() {
        let connection = connection();
        let key = key();
        let script = fresh("return redis.call('INCR', KEYS[1])");

        let mut bare = redis::pipe();
        bare.atomic()
            .cmd("SET")
            .arg(&key)
            .arg(41)
            .ignore()
            .invoke_script(&script.key(&key));
        let failed = pipeline_shared::<(i64,)>(&connection, TIMEOUT, &bare).await;
        assert!(failed.is_err(), "{failed:?}");
        let mut get = redis::cmd("GET");
        get.arg(&key);
        let applied: i64 = crate::pool::query_shared(&connection, TIMEOUT, &get)
            .await
            .unwrap();
        assert_eq!(applied, 41, "the SET beside the failed script was applied");

        let script = fresh("return redis.call('INCR', KEYS[1])");
        let mut loaded = redis::pipe();
        loaded.atomic().cmd("SET").arg(&key).arg(41).ignore();
        script.queue(&mut loaded, &script.key(&key));
        loaded.cmd("GET").arg(&key);
        let (after,): (i64,) = pipeline_shared(&connection, TIMEOUT, &loaded)
            .await
            .unwrap();
        assert_eq!(after, 42);

        let mut del = redis::cmd("DEL");
        del.arg(&key);
        let _: i64 = crate::pool::query_shared(&connection, TIMEOUT, &del)
            .await
            .unwrap();
    }
}
