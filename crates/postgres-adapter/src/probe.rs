use application::ports::{DependencyProbe, ProbeError};
use async_trait::async_trait;
use diesel_async::RunQueryDsl;
use tokio::time::timeout;

use crate::pool::{Db, PgPool, PgSettings};

/// Readiness check: PostgreSQL answers `SELECT 1` within the query timeout
/// (getting the connection included).
#[derive(Clone)]
pub struct PgProbe {
    db: Db,
}

impl PgProbe {
    pub fn new(pool: PgPool, settings: PgSettings) -> Self {
        Self {
            db: Db::new(pool, settings),
        }
    }
}

#[async_trait]
impl DependencyProbe for PgProbe {
    fn name(&self) -> &'static str {
        "postgres"
    }

    #[tracing::instrument(level = "debug", name = "postgres.ping", skip_all)]
    async fn ping(&self) -> Result<(), ProbeError> {
        let limit = self.db.settings().query_timeout;
        let ping = async {
            let mut conn = self.db.connection().await?;
            self.db
                .bounded(diesel::sql_query("SELECT 1").execute(&mut conn))
                .await
        };
        match timeout(limit, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(failure)) => Err(ProbeError(failure.into())),
            Err(_) => Err(ProbeError(format!("no answer within {limit:?}").into())),
        }
    }
}
