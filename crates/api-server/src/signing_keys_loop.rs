//! Keeps every instance's signing keys as PostgreSQL holds them: a look at
//! the store's version every second, and the keys put in use again when it
//! moved. A key generated, activated, retired or revoked by `api-server
//! keys` anywhere is applied here within 5 s, without a restart.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use application::{ErrorChain, SigningKeys};

/// Between two looks at the store's version: the contract's 5 s, with room
/// for a slow look.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Refreshes until `shutdown` completes. A failed look is logged (once per
/// outage) and retried at the next tick; the keys in use stay as they were.
pub async fn run(keys: Arc<SigningKeys>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut failing = false;
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(INTERVAL) => {}
        }
        match keys.refresh().await {
            Ok(_) => {
                if failing {
                    tracing::info!("signing keys: the store answers again");
                }
                failing = false;
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(
                        error.chain = %ErrorChain(&error),
                        "signing keys: cannot read the store; keeping the keys in use"
                    );
                }
                failing = true;
            }
        }
    }
}
