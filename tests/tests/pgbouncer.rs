//! Behind PgBouncer 1.18 in transaction mode (`DATABASE_POOLER=transaction`):
//! two API instances share two server connections through a PgBouncer the
//! test starts, with many requests at once, so consecutive transactions of
//! one client connection land on different server sessions. A statement
//! that needs a session (a named prepared statement used across
//! transactions, a session setting) fails here. Needs the Debian package
//! `pgbouncer` (the test skips, saying so, without it).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::time::Duration;

use futures_util::future::join_all;
use integration_tests::processes::{Vars, binary, run_to_completion};
use integration_tests::servers::{PgBouncer, temp_dir};
use integration_tests::token_errors::{REUSED, REVOKED};
use integration_tests::{TestApp, TestUser, assert_token_rejected, spawn_app_with, spawn_peer};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Server connections PgBouncer opens to PostgreSQL: far fewer than the
/// instances' client connections.
const SERVER_CONNECTIONS: u16 = 2;
/// Concurrent users in each round.
const USERS: usize = 24;

fn bounced(settings: &mut integration_tests::TestSettings, bouncer_url: String) {
    settings
        .set("DATABASE_URL", bouncer_url)
        .set("DATABASE_POOLER", "transaction")
        .set("DATABASE_POOL_SIZE", "8")
        .set("HTTP_WORKERS", "2")
        .set("REFRESH_REUSE_INTERVAL", "0");
}

/// Two instances behind one PgBouncer; the database is created and
/// migrated directly (what `DATABASE_MIGRATION_URL` is for).
async fn two_instances(limits: bool) -> Option<(PgBouncer, TestApp, TestApp)> {
    let bouncer = PgBouncer::start(5432, SERVER_CONNECTIONS).await?;
    let port = bouncer.port;
    let first = spawn_app_with(|settings| {
        let direct = settings.get("DATABASE_URL").unwrap().to_owned();
        let database = direct.rsplit('/').next().unwrap().to_owned();
        settings.set("DATABASE_MIGRATION_URL", direct);
        bounced(
            settings,
            format!("postgres://postgres@127.0.0.1:{port}/{database}"),
        );
        if limits {
            with_limits(settings);
        }
    })
    .await;
    let database = first.database_url.rsplit('/').next().unwrap().to_owned();
    let url = bouncer.url(&database);
    let second = spawn_peer(&first, |settings| {
        bounced(settings, url);
        if limits {
            with_limits(settings);
        }
    })
    .await;
    Some((bouncer, first, second))
}

/// Limits on, with a small account-wide budget of failed logins.
fn with_limits(settings: &mut integration_tests::TestSettings) {
    settings
        .set("RATE_LIMITS", "on")
        .set("RATE_LIMIT_LOGIN_PER_IP", "1000/60s")
        .set("RATE_LIMIT_FAILED_LOGINS_ACCOUNT_WIDE", "5/3600s");
}

fn either<'a>(apps: &'a [&'a TestApp; 2], index: usize) -> &'a TestApp {
    apps[index % 2]
}

#[tokio::test]
async fn sessions_work_across_two_instances_behind_pgbouncer_in_transaction_mode() {
    let Some((bouncer, first, second)) = two_instances(false).await else {
        return;
    };
    let apps = [&first, &second];

    let users: Vec<TestUser> = join_all((0..USERS).map(|i| either(&apps, i).register_user())).await;
    let logins = join_all(
        users
            .iter()
            .enumerate()
            .map(|(i, user)| either(&apps, i).login_tokens(user)),
    )
    .await;
    // Rotation on the other instance than the login's.
    let rotated = join_all(
        logins
            .iter()
            .enumerate()
            .map(|(i, tokens)| either(&apps, i + 1).rotated(&tokens.refresh)),
    )
    .await;
    for (i, tokens) in rotated.iter().enumerate() {
        let me = either(&apps, i)
            .get("/users/me", Some(&tokens.access))
            .await;
        assert_eq!(me.status(), StatusCode::OK, "{}", bouncer.logs());
    }

    // Reuse of a superseded refresh token kills the session everywhere.
    for i in 0..4 {
        assert_token_rejected(either(&apps, i).refresh(&logins[i].refresh).await, REUSED).await;
        assert_token_rejected(
            either(&apps, i + 1)
                .get("/users/me", Some(&rotated[i].access))
                .await,
            REVOKED,
        )
        .await;
    }
    // A logout on one instance is seen by the other.
    for (i, tokens) in rotated.iter().enumerate().take(8).skip(4) {
        let logout = either(&apps, i).logout(&tokens.refresh).await;
        assert_eq!(logout.status(), StatusCode::OK);
        assert_token_rejected(
            either(&apps, i + 1)
                .get("/users/me", Some(&tokens.access))
                .await,
            REVOKED,
        )
        .await;
    }
    // Password changes, in parallel, end the other sessions.
    let changes = join_all((8..USERS).map(|i| {
        let app = either(&apps, i);
        let access = rotated[i].access.clone();
        async move {
            app.request(Method::POST, "/users/me/password", Some(&access))
                .json(&json!({
                    "current_password": integration_tests::PASSWORD,
                    "new_password": "a brand new passphrase",
                }))
                .send()
                .await
                .unwrap()
                .status()
        }
    }))
    .await;
    for status in changes {
        assert_eq!(status, StatusCode::OK, "{}", bouncer.logs());
    }
    for (i, user) in users.iter().enumerate().skip(8) {
        let old = either(&apps, i + 1)
            .login(&user.email, &user.password)
            .await;
        assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
        let new = either(&apps, i)
            .login(&user.email, "a brand new passphrase")
            .await;
        assert_eq!(new.status(), StatusCode::OK);
    }
    assert!(
        !bouncer.logs().contains("prepared statement"),
        "{}",
        bouncer.logs()
    );
}

#[tokio::test]
async fn login_limits_hold_across_instances_behind_pgbouncer() {
    let Some((bouncer, first, second)) = two_instances(true).await else {
        return;
    };
    let apps = [&first, &second];
    let user = first.register_user().await;
    // Wrong passwords, in parallel, on both instances: every answer is a
    // refusal, never a 500 from a statement PgBouncer lost, and the
    // account-wide budget (5) is shared by both.
    let attempts =
        join_all((0..12).map(|i| either(&apps, i).login(&user.email, "wrong password"))).await;
    let statuses: Vec<StatusCode> = attempts.iter().map(|response| response.status()).collect();
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    for response in attempts {
        assert!(
            matches!(
                response.status(),
                StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
            ),
            "{} {}",
            response.status(),
            bouncer.logs()
        );
    }
}

#[tokio::test]
async fn migrate_runs_on_the_direct_url_and_serve_on_the_pooled_one() {
    let Some(bouncer) = PgBouncer::start(5432, SERVER_CONNECTIONS).await else {
        return;
    };
    // Named, not created: `migrate` creates it (and the handle drops it).
    let database = test_support::TestDatabase::named("it_migrate_", "");
    let pooled = bouncer.url(database.name());
    let dir = temp_dir("pgbouncer-migrate");
    let vars = Vars::from([
        ("DATABASE_URL", pooled.clone()),
        ("DATABASE_MIGRATION_URL", database.url.clone()),
        ("DATABASE_POOLER", "transaction".to_owned()),
    ]);
    let finished = run_to_completion(
        "api-server-migrate",
        &binary("api-server"),
        &["migrate"],
        &vars,
        &dir,
        Duration::from_secs(60),
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(finished.status.success(), "{}", finished.stderr);

    let app = spawn_app_with(|settings| {
        settings.create_database = false;
        bounced(settings, pooled);
    })
    .await;
    let user = app.register_user().await;
    app.login_tokens(&user).await;
}
