//! A database of the test's own on the local PostgreSQL server.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// The PostgreSQL server the tests use, without a database name:
/// `TEST_POSTGRES_SERVER`, else the local server.
pub fn postgres_server() -> String {
    std::env::var("TEST_POSTGRES_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A test's own database on [`postgres_server`], dropped when this handle
/// is (a failing test may leave it behind; its name says where it came
/// from).
#[derive(Debug)]
pub struct TestDatabase {
    /// The database's URL (its name percent-encoded).
    pub url: String,
    name: String,
    owned: bool,
}

impl TestDatabase {
    /// Names a database no other test uses, without creating it:
    /// `<prefix><uuid><suffix>`, both appended literally (they are
    /// percent-encoded in the URL).
    pub fn named(prefix: &str, suffix: &str) -> Self {
        let name = format!("{prefix}{}{suffix}", Uuid::new_v4().simple());
        let encoded: String = name
            .bytes()
            .map(|byte| match byte {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => char::from(byte).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect();
        Self {
            url: format!("{}/{encoded}", postgres_server()),
            name,
            owned: true,
        }
    }

    /// Creates and migrates a database no other test uses.
    pub async fn fresh(prefix: &str) -> Self {
        let db = Self::named(prefix, "");
        db.create().await;
        db
    }

    /// Creates the database and runs the migrations; answers the
    /// migrations applied, in order.
    pub async fn create(&self) -> Vec<String> {
        let created = postgres_adapter::ensure_database(&self.url)
            .await
            .expect("create the test database");
        assert!(created, "the test database {} was new", self.name);
        postgres_adapter::run_migrations(&self.url)
            .await
            .expect("migrate the test database")
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Gives the name up without dropping the database: for a test that
    /// named one but never created it.
    pub fn disown(mut self) {
        self.owned = false;
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        let name = self.name.replace('"', "\"\"");
        let admin = format!("{}/postgres", postgres_server());
        // Drop runs inside the test's runtime, which cannot block on async
        // work: use a thread with a runtime of its own, and wait for it.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let drop = async {
                    if let Ok(mut conn) = AsyncPgConnection::establish(&admin).await {
                        // The server may still hold pooled connections:
                        // FORCE ends them.
                        let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        let _ = diesel::sql_query(drop).execute(&mut conn).await;
                    }
                };
                let _ = tokio::time::timeout(Duration::from_secs(10), drop).await;
            });
        });
        let _ = cleanup.join();
    }
}
