//! `DATABASE_URL` with `sslmode=require|verify-ca|verify-full`: the API
//! works against a PostgreSQL that accepts TCP clients only over TLS, and a
//! certificate that does not verify stops the binary at start with one
//! line naming the variable. The server is the test's own (see
//! `integration_tests::servers`); the binary test needs `cargo build --bins`.

use std::time::Duration;

use integration_tests::deployment::{Deployment, free_port};
use integration_tests::processes::{Vars, binary, run_to_completion};
use integration_tests::servers::{TlsPostgres, temp_dir};
use integration_tests::{TestApp, json_body, spawn_app_with, spawn_peer};
use reqwest::StatusCode;
use test_support::tls::TestCertificates;

/// A new migrated database on `server`, made over TLS too.
async fn migrated_database(server: &TlsPostgres) -> String {
    let name = format!("tls_{}", uuid::Uuid::new_v4().simple());
    let url = server.url(&name, &server.verify_full());
    let created = postgres_adapter::ensure_database(&url).await;
    assert!(created.expect("create the database over TLS"));
    let applied = postgres_adapter::run_migrations(&url)
        .await
        .expect("migrate over TLS");
    assert!(!applied.is_empty());
    name
}

async fn app_on(url: String) -> TestApp {
    spawn_app_with(move |settings| {
        settings.create_database = false;
        settings.set("DATABASE_URL", url);
    })
    .await
}

/// Register, login, refresh, `/users/me`: every store call of a session.
async fn session_flow(app: &TestApp) {
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let refreshed = app.refresh(&tokens.refresh).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let access = json_body(refreshed).await["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned();
    let me = app.get("/users/me", Some(&access)).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(json_body(me).await["email"], user.email.as_str());
}

#[tokio::test]
async fn the_api_works_over_tls_with_each_sslmode() {
    let Some(server) = TlsPostgres::start().await else {
        return;
    };
    let database = migrated_database(&server).await;

    let full = app_on(server.url(&database, &server.verify_full())).await;
    session_flow(&full).await;
    let ca = format!(
        "sslmode=verify-ca&sslrootcert={}",
        server.certificates.ca_cert.display()
    );
    let chain_only = spawn_peer(&full, |settings| {
        settings.set("DATABASE_URL", server.url(&database, &ca));
    })
    .await;
    session_flow(&chain_only).await;
    // libpq's `require` without a root certificate: encrypted, unverified.
    let encrypted = spawn_peer(&full, |settings| {
        settings.set("DATABASE_URL", server.url(&database, "sslmode=require"));
    })
    .await;
    session_flow(&encrypted).await;
}

#[tokio::test]
async fn without_tls_the_same_server_refuses_us() {
    let Some(server) = TlsPostgres::start().await else {
        return;
    };
    // pg_hba accepts TCP only over TLS: this proves the flows above used it.
    let plain = server.url("never_created", "sslmode=disable");
    let error = postgres_adapter::ensure_database(&plain)
        .await
        .expect_err("a plain connection is refused");
    let chain = format!("{:?}", error_chain(&error));
    assert!(chain.contains("pg_hba.conf"), "{chain}");
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut chain = vec![error.to_string()];
    let mut current = error.source();
    while let Some(source) = current {
        chain.push(source.to_string());
        current = source.source();
    }
    chain
}

#[tokio::test]
async fn a_certificate_from_another_ca_stops_the_binary_at_start() {
    let Some(server) = TlsPostgres::start().await else {
        return;
    };
    let other = TestCertificates::generate();
    let wrong = format!(
        "sslmode=verify-full&sslrootcert={}",
        other.ca_cert.display()
    );
    let dir = temp_dir("tls-start");
    let vars = Vars::from([
        ("DATABASE_URL", server.url("postgres", &wrong)),
        ("REDIS_URL", test_support::REDIS_URL.to_owned()),
        (
            "JWT_SECRET_KEY",
            "tls-start-test-0123456789abcdef0123456789".to_owned(),
        ),
        (
            "MFA_ENCRYPTION_KEY",
            test_support::MFA_ENCRYPTION_KEY.to_owned(),
        ),
        ("PORT", "0".to_owned()),
    ]);
    let finished = run_to_completion(
        "api-server",
        &binary("api-server"),
        &[],
        &vars,
        &dir,
        Duration::from_secs(30),
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!finished.status.success(), "{}", finished.stderr);
    let errors: Vec<&str> = finished
        .stderr
        .lines()
        .filter(|line| line.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", finished.stderr);
    assert!(
        errors[0].starts_with("error: DATABASE_URL: the server's certificate does not verify"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains(&other.ca_cert.display().to_string()),
        "{}",
        errors[0]
    );
    eprintln!("the binary said: {}", errors[0]);
}

#[tokio::test]
async fn with_tls_asked_for_the_binary_still_starts_while_postgresql_is_down() {
    let certificates = TestCertificates::generate();
    let down = format!(
        "postgres://postgres@127.0.0.1:{}/auth?sslmode=verify-full&sslrootcert={}",
        free_port(),
        certificates.ca_cert.display()
    );
    let deployment = Deployment::new().await;
    // start_api waits for /health/live and fails if the process exits.
    let api = deployment
        .start_api("api-tls-down", |vars| {
            vars.insert("DATABASE_URL", down);
        })
        .await;
    let ready = api
        .client
        .get(format!("{}/health/ready", api.address))
        .send()
        .await
        .expect("an answer");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
}
