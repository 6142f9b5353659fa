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

/// An ES256 install (its first key made at start) and what `keys`
/// commands need to reach it.
async fn es256_install() -> (integration_tests::TestApp, Vars) {
    let sealing_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let app = integration_tests::spawn_app_with(|settings| {
        settings
            .set("JWT_ALGORITHM", "ES256")
            .set("SIGNING_KEYS_ENCRYPTION_KEY", sealing_key);
    })
    .await;
    let vars = Vars::from([
        ("DATABASE_URL", app.database_url.clone()),
        ("SIGNING_KEYS_ENCRYPTION_KEY", sealing_key.to_owned()),
    ]);
    (app, vars)
}

/// A P-256 private key written as `openssl genpkey` writes it (PKCS#8
/// PEM), and a verifying key made from its public half alone.
fn p256_key_file(dir: &std::path::Path) -> (PathBuf, String, jsonwebtoken::DecodingKey) {
    use base64::Engine as _;
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    use p256::pkcs8::{EncodePrivateKey as _, LineEnding};
    let secret = p256::SecretKey::from_slice(&[0x42; 32]).unwrap();
    let private_pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let point = secret.public_key().to_encoded_point(false);
    let coordinate = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let public = jsonwebtoken::DecodingKey::from_ec_components(
        &coordinate(point.x().unwrap()),
        &coordinate(point.y().unwrap()),
    )
    .unwrap();
    let path = dir.join("signing-key.pem");
    std::fs::write(&path, &private_pem).unwrap();
    (path, private_pem, public)
}

#[tokio::test]
async fn keys_import_takes_a_pem_key_that_signs_once_activated() {
    let (app, vars) = es256_install().await;
    let dir = scratch_dir();
    let (pem_file, _, public_key) = p256_key_file(&dir);
    let pem_file = pem_file.to_str().unwrap();

    let imported = api_server(
        &["keys", "import", "--alg", "ES256", pem_file],
        vars.clone(),
    )
    .await;
    assert!(imported.status.success(), "{}", imported.stderr);
    let kid = imported.stdout.trim().to_owned();
    assert!(
        !kid.is_empty() && !kid.contains(char::is_whitespace),
        "{kid}"
    );

    // Imported keys wait as standby: published, not yet signing.
    let listed = api_server(&["keys", "list"], vars.clone()).await;
    assert!(listed.status.success(), "{}", listed.stderr);
    let row: Vec<&str> = listed
        .stdout
        .lines()
        .find(|line| line.starts_with(&format!("{kid}\t")))
        .unwrap_or_else(|| panic!("{kid} not listed: {}", listed.stdout))
        .split('\t')
        .collect();
    assert_eq!(row[1..3], ["ES256", "standby"], "{}", listed.stdout);

    // Published at once it was made, so activating it now needs --force.
    let refused = api_server(&["keys", "activate", "--", &kid], vars.clone()).await;
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    let activated = api_server(&["keys", "activate", "--force", "--", &kid], vars).await;
    assert!(activated.status.success(), "{}", activated.stderr);
    assert!(
        activated
            .stdout
            .contains(&format!("{kid}: standby -> active")),
        "{}",
        activated.stdout
    );

    // Within 5 s the running server signs with it: its tokens verify with
    // the public half of the file, and with nothing of ours.
    let user = app.register_user().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let token = loop {
        let token = app.login_tokens(&user).await.access;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        if header.kid.as_deref() == Some(kid.as_str()) {
            break token;
        }
        assert!(tokio::time::Instant::now() < deadline, "{kid} never signed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["auth-service-clients"]);
    validation.set_issuer(&["auth-service"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&token, &public_key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], user.id.to_string());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn keys_import_refuses_what_is_not_a_key_of_the_algorithm_in_one_line() {
    let (_app, vars) = es256_install().await;
    let dir = scratch_dir();
    let (pem_file, private_pem, _) = p256_key_file(&dir);
    let pem_file = pem_file.to_str().unwrap();
    let not_pem = dir.join("notes.txt");
    std::fs::write(&not_pem, "not a key").unwrap();
    let missing = dir.join("missing.pem");
    let mut no_sealing_key = vars.clone();
    no_sealing_key.remove("SIGNING_KEYS_ENCRYPTION_KEY");

    for (args, vars, names) in [
        // A P-256 key is not an Ed25519 key.
        (vec!["--alg", "EdDSA", pem_file], vars.clone(), "EdDSA"),
        (
            vec!["--alg", "ES256", not_pem.to_str().unwrap()],
            vars.clone(),
            "PKCS#8",
        ),
        (
            vec!["--alg", "ES256", missing.to_str().unwrap()],
            vars.clone(),
            "missing.pem",
        ),
        (
            vec!["--alg", "ES256", pem_file],
            no_sealing_key,
            "SIGNING_KEYS_ENCRYPTION_KEY",
        ),
    ] {
        let finished = api_server(&[&["keys", "import"], args.as_slice()].concat(), vars).await;
        assert!(!finished.status.success(), "{args:?}: {}", finished.stdout);
        let errors = error_lines(&finished.stderr);
        assert_eq!(errors.len(), 1, "{args:?}: {}", finished.stderr);
        assert!(errors[0].contains(names), "{args:?}: {}", finished.stderr);
        // The key never reaches the output, whole or in part.
        let body_line = private_pem.lines().nth(1).unwrap();
        assert!(!finished.stderr.contains(body_line), "{}", finished.stderr);
    }
    let listed = api_server(&["keys", "list"], vars).await;
    assert_eq!(listed.stdout.lines().count(), 2, "{}", listed.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `keys list` row of `kid`, split at its tabs. (Kids are base64url and
/// may start with `-`: the commands take them after `--`.)
async fn key_row(vars: &Vars, kid: &str) -> Vec<String> {
    let listed = api_server(&["keys", "list"], vars.clone()).await;
    assert!(listed.status.success(), "{}", listed.stderr);
    listed
        .stdout
        .lines()
        .find(|line| line.starts_with(&format!("{kid}\t")))
        .unwrap_or_else(|| panic!("{kid} not listed: {}", listed.stdout))
        .split('\t')
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn keys_generate_retire_and_revoke_follow_the_lifecycle_through_the_binary() {
    let (_app, vars) = es256_install().await;
    let generated = api_server(&["keys", "generate", "--alg", "EdDSA"], vars.clone()).await;
    assert!(generated.status.success(), "{}", generated.stderr);
    let standby = generated.stdout.trim().to_owned();
    let row = key_row(&vars, &standby).await;
    assert_eq!(row[1..3], ["EdDSA", "standby"], "{row:?}");
    // Its dates: made and published now (RFC 3339).
    assert!(
        row[3..]
            .iter()
            .any(|date| date.starts_with("20") && date.ends_with('Z')),
        "{row:?}"
    );

    // The active key (made by the server's first start) cannot be retired
    // or revoked: another must be activated first.
    let listed = api_server(&["keys", "list"], vars.clone()).await;
    let active = listed
        .stdout
        .lines()
        .find(|line| line.split('\t').nth(2) == Some("active"))
        .and_then(|line| line.split('\t').next())
        .unwrap_or_else(|| panic!("no active key: {}", listed.stdout))
        .to_owned();
    for command in [
        &["keys", "retire", "--", active.as_str()][..],
        &["keys", "revoke", "--force", "--", active.as_str()][..],
    ] {
        let refused = api_server(command, vars.clone()).await;
        assert!(!refused.status.success(), "{command:?}: {}", refused.stdout);
        assert!(
            refused.stderr.contains("activate"),
            "{command:?}: {}",
            refused.stderr
        );
        assert_eq!(key_row(&vars, &active).await[2], "active");
    }

    // A standby key is retired, then revoked at once: it never signed.
    let retired = api_server(&["keys", "retire", "--", &standby], vars.clone()).await;
    assert!(retired.status.success(), "{}", retired.stderr);
    assert_eq!(key_row(&vars, &standby).await[2], "retired");
    let revoked = api_server(&["keys", "revoke", "--", &standby], vars.clone()).await;
    assert!(revoked.status.success(), "{}", revoked.stderr);
    assert_eq!(key_row(&vars, &standby).await[2], "revoked");

    // A key that signed and was just retired keeps verifying its tokens:
    // revoking it now is refused unless forced.
    let next = api_server(&["keys", "generate", "--alg", "ES256"], vars.clone()).await;
    let next = next.stdout.trim().to_owned();
    let activated = api_server(&["keys", "activate", "--force", "--", &next], vars.clone()).await;
    assert!(activated.status.success(), "{}", activated.stderr);
    assert_eq!(key_row(&vars, &active).await[2], "retired");
    let refused = api_server(&["keys", "revoke", "--", &active], vars.clone()).await;
    assert!(!refused.status.success(), "{}", refused.stdout);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(key_row(&vars, &active).await[2], "retired");
    let forced = api_server(&["keys", "revoke", "--force", "--", &active], vars).await;
    assert!(forced.status.success(), "{}", forced.stderr);
}
