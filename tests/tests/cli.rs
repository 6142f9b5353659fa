#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! The `api-server` binary's commands, run as an operator would
//! (`scripts/test.sh` builds the binary first).

use std::path::PathBuf;
use std::time::Duration;

use integration_tests::processes::{Finished, Vars, binary, run_to_completion};
use integration_tests::{json_body, spawn_app};
use reqwest::StatusCode;
use uuid::Uuid;

const LIMIT: Duration = Duration::from_secs(30);

/// A working directory of its own, so no `.env` is read by accident.
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cli-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The lines of the error report (logs go to stderr too).
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.starts_with("error"))
        .collect()
}

async fn api_server(args: &[&str], vars: Vars) -> Finished {
    let dir = scratch_dir();
    let finished = run_to_completion(
        "api-server",
        &binary("api-server"),
        args,
        &vars,
        &dir,
        LIMIT,
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    finished
}

#[tokio::test]
async fn make_admin_refuses_an_unverified_account_without_force() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let vars = Vars::from([("DATABASE_URL", app.database_url.clone())]);

    let finished = api_server(&["make-admin", &user.email], vars.clone()).await;
    assert!(!finished.status.success());
    let errors = error_lines(&finished.stderr);
    assert_eq!(errors.len(), 1, "{}", finished.stderr);
    assert!(errors[0].contains("--force"), "{}", finished.stderr);
    let tokens = app.login_tokens(&user).await;
    let me = json_body(app.get("/users/me", Some(&tokens.access)).await).await;
    assert_eq!(me["role"], "user");

    // A verified account needs no --force.
    app.query_scalar(
        "WITH done AS (UPDATE users SET email_verified = true RETURNING 1)          SELECT count(*) AS value FROM done",
    )
    .await;
    let finished = api_server(&["make-admin", &user.email], vars).await;
    assert!(finished.status.success(), "{}", finished.stderr);
}

#[tokio::test]
async fn make_admin_promotes_the_user_and_says_which() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let vars = Vars::from([("DATABASE_URL", app.database_url.clone())]);

    let finished = api_server(&["make-admin", "--force", &user.email.to_uppercase()], vars).await;
    assert!(finished.status.success(), "{}", finished.stderr);
    for shown in [&user.username, &user.email, &format!("id {}", user.id)] {
        assert!(
            finished.stdout.contains(shown.as_str()),
            "{}",
            finished.stdout
        );
    }

    let tokens = app.login_tokens(&user).await;
    let me = app.get("/users/me", Some(&tokens.access)).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(json_body(me).await["role"], "admin");
}

#[tokio::test]
async fn make_admin_of_an_unknown_email_fails_with_one_line() {
    let app = spawn_app().await;
    let vars = Vars::from([("DATABASE_URL", app.database_url.clone())]);
    let finished = api_server(&["make-admin", "nobody@example.com"], vars).await;
    assert!(!finished.status.success());
    let errors = error_lines(&finished.stderr);
    assert_eq!(errors.len(), 1, "{}", finished.stderr);
    assert!(
        errors[0].contains("nobody@example.com"),
        "{}",
        finished.stderr
    );
}

#[tokio::test]
async fn serve_refuses_a_key_of_few_distinct_characters_naming_the_variable() {
    let key = "abcd".repeat(16);
    let vars = Vars::from([
        (
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/unused".to_owned(),
        ),
        ("REDIS_URL", "redis://127.0.0.1:6379".to_owned()),
        ("JWT_SECRET_KEY", key.clone()),
        ("PORT", "0".to_owned()),
    ]);
    let finished = api_server(&["serve"], vars).await;
    assert!(!finished.status.success());
    let stderr = finished.stderr.trim();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("JWT_SECRET_KEY"), "{stderr}");
    assert!(stderr.contains("distinct characters"), "{stderr}");
    assert!(!stderr.contains(&key), "{stderr}");
}

#[tokio::test]
async fn serve_refuses_the_sample_key_naming_the_variable() {
    let vars = Vars::from([
        (
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/unused".to_owned(),
        ),
        ("REDIS_URL", "redis://127.0.0.1:6379".to_owned()),
        (
            "JWT_SECRET_KEY",
            api_server::config::SAMPLE_JWT_SECRET_KEY.to_owned(),
        ),
        ("PORT", "0".to_owned()),
    ]);
    let finished = api_server(&["serve"], vars).await;
    assert!(!finished.status.success());
    let stderr = finished.stderr.trim();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("JWT_SECRET_KEY"), "{stderr}");
    assert!(
        !stderr.contains(api_server::config::SAMPLE_JWT_SECRET_KEY),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_value_out_of_range_is_one_line_naming_the_variable() {
    let vars = Vars::from([(
        "JWT_ACCESS_TOKEN_EXPIRES",
        "18446744073709551615".to_owned(),
    )]);
    let finished = api_server(&["serve"], vars).await;
    assert_eq!(finished.status.code(), Some(2));
    let stderr = finished.stderr.trim();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("JWT_ACCESS_TOKEN_EXPIRES"), "{stderr}");
}
