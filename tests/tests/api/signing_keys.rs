//! Asymmetric signing keys (`JWT_ALGORITHM=ES256`): the first key of an
//! install, the JWKS a verifier needs and nothing else, rotation and
//! revocation seen by every instance within 5 s without a restart, and the
//! move from HS256 without logging anyone out.

use std::time::Duration;

use api_server::config::{KeysConfig, Settings};
use api_server::{DatabaseConfig, KeysCommand, run_keys_command};
use base64::Engine;
use domain::{KeyId, SigningAlgorithm};
use integration_tests::token_errors::INVALID;
use integration_tests::{TestApp, assert_token_rejected, json_body, spawn_app_with, spawn_peer};
use reqwest::StatusCode;
use serde_json::Value;

/// 32 bytes, base64: the same for every instance of one test.
fn encryption_key(seed: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([seed; 32])
}

async fn es256_app() -> TestApp {
    spawn_app_with(|settings| {
        settings
            .set("JWT_ALGORITHM", "ES256")
            .set("SIGNING_KEYS_ENCRYPTION_KEY", encryption_key(7));
    })
    .await
}

async fn es256_peer(app: &TestApp) -> TestApp {
    spawn_peer(app, |settings| {
        settings
            .set("JWT_ALGORITHM", "ES256")
            .set("SIGNING_KEYS_ENCRYPTION_KEY", encryption_key(7));
    })
    .await
}

async fn jwks(app: &TestApp) -> Vec<Value> {
    let response = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await["keys"]
        .as_array()
        .expect("a key list")
        .clone()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("a JWT header")
        .kid
        .expect("a kid")
}

/// What a service of another team does: fetch the JWKS, pick the key by
/// the token's kid, verify. It knows nothing but the URL.
async fn verify_from_jwks_url(jwks_url: &str, token: &str) -> Result<Value, String> {
    let keys: jsonwebtoken::jwk::JwkSet = reqwest::get(jwks_url)
        .await
        .map_err(|error| error.to_string())?
        .json()
        .await
        .map_err(|error| error.to_string())?;
    // As the README's example does: the algorithm is the JWK's.
    let kid = kid_of(token);
    let jwk = keys.find(&kid).ok_or("no such kid")?;
    let alg: jsonwebtoken::Algorithm = jwk
        .common
        .key_algorithm
        .ok_or("no alg")?
        .to_string()
        .parse()
        .map_err(|error: jsonwebtoken::errors::Error| error.to_string())?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|error| error.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_audience(&["auth-service-clients"]);
    validation.set_issuer(&["auth-service"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|error| error.to_string())
}

async fn keys_command(app: &TestApp, command: KeysCommand) -> String {
    let url = app.database_url.clone();
    let key = encryption_key(7);
    let settings = Settings::from_lookup(move |name| match name {
        "DATABASE_URL" => Some(url.clone()),
        "SIGNING_KEYS_ENCRYPTION_KEY" => Some(key.clone()),
        _ => None,
    })
    .expect("settings");
    let database = DatabaseConfig::load(&settings).expect("a database config");
    let keys: KeysConfig = settings.keys_config().expect("a keys config");
    run_keys_command(&database, &keys, command)
        .await
        .expect("the command runs")
}

/// Polls `check` every 100 ms for up to 5 s.
async fn within_5s<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within 5 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_first_start_makes_one_key_whose_jwks_verifies_our_tokens() {
    let app = es256_app().await;
    let keys = jwks(&app).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let key = &keys[0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    assert!(key.get("d").is_none(), "no private part: {key}");

    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    assert_eq!(kid_of(&tokens.access), key["kid"].as_str().unwrap());
    assert_eq!(
        app.get("/protected", Some(&tokens.access)).await.status(),
        StatusCode::OK
    );
    let claims = verify_from_jwks_url(&app.url("/.well-known/jwks.json"), &tokens.access)
        .await
        .expect("verified from the JWKS URL alone");
    assert_eq!(claims["sub"], user.id.to_string());

    let discovery = json_body(app.get("/.well-known/openid-configuration", None).await).await;
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
}

/// PyJWT's `PyJWKClient`, given only the JWKS URL, verifies our access
/// tokens of every algorithm (`scripts/verify_with_pyjwt.sh`).
#[tokio::test(flavor = "multi_thread")]
async fn an_outside_jwks_client_verifies_our_tokens() {
    let app = es256_app().await;
    let user = app.register_user().await;
    for algorithm in [
        None,
        Some(SigningAlgorithm::EdDsa),
        Some(SigningAlgorithm::Rs256),
    ] {
        if let Some(algorithm) = algorithm {
            let kid = keys_command(&app, KeysCommand::Generate { algorithm }).await;
            let kid = KeyId::parse(kid.trim()).unwrap();
            keys_command(
                &app,
                KeysCommand::Activate {
                    kid: kid.clone(),
                    force: true,
                },
            )
            .await;
            within_5s("the new key signs", || async {
                kid_of(&app.login_tokens(&user).await.access) == kid.as_str()
            })
            .await;
        }
        let token = app.login_tokens(&user).await.access;
        let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../scripts/verify_with_pyjwt.sh");
        let url = app.url("/.well-known/jwks.json");
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new("bash")
                .arg(script)
                .arg(url)
                .arg(token)
                .output()
        })
        .await
        .unwrap()
        .expect("run scripts/verify_with_pyjwt.sh");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "PyJWT refused the token ({algorithm:?}): {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let claims: Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(claims["sub"], user.id.to_string());
        assert_eq!(claims["type"], "access");
    }
}

#[tokio::test]
async fn instances_starting_together_on_an_empty_install_share_one_key() {
    // An HS256 instance makes the database and no key.
    let install = spawn_app_with(|_| {}).await;
    assert!(jwks(&install).await.is_empty());
    let peers = futures_util::future::join_all((0..4).map(|_| es256_peer(&install))).await;
    let kid = jwks(&peers[0]).await[0]["kid"].clone();
    for peer in &peers {
        let keys = jwks(peer).await;
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["kid"], kid);
    }
    let listed = keys_command(&install, KeysCommand::List).await;
    assert_eq!(listed.lines().count(), 2, "a header and one key: {listed}");
}

#[tokio::test]
async fn a_rotation_reaches_every_instance_and_old_tokens_verify_until_revoked() {
    let a = es256_app().await;
    let b = es256_peer(&a).await;
    let user = a.register_user().await;
    let old = a.login_tokens(&user).await;
    let old_kid = kid_of(&old.access);

    let new_kid = keys_command(
        &a,
        KeysCommand::Generate {
            algorithm: SigningAlgorithm::EdDsa,
        },
    )
    .await
    .trim()
    .to_owned();
    // Published at once (within 5 s) by both, before it signs anything.
    for app in [&a, &b] {
        within_5s("the standby key in the JWKS", || async {
            jwks(app)
                .await
                .iter()
                .any(|key| key["kid"] == new_kid.as_str())
        })
        .await;
    }
    let listed = keys_command(&a, KeysCommand::List).await;
    assert!(
        listed.contains(&format!("{new_kid}\tEdDSA\tstandby")),
        "{listed}"
    );

    keys_command(
        &a,
        KeysCommand::Activate {
            kid: KeyId::parse(&new_kid).unwrap(),
            force: true,
        },
    )
    .await;
    for app in [&a, &b] {
        within_5s("logins signed with the new key", || async {
            kid_of(&app.login_tokens(&user).await.access) == new_kid
        })
        .await;
        // A verifier with only the JWKS URL takes the new EdDSA key too.
        let fresh = app.login_tokens(&user).await.access;
        verify_from_jwks_url(&app.url("/.well-known/jwks.json"), &fresh)
            .await
            .expect("an EdDSA token verified from the JWKS URL");
        // The old key is retired: its tokens still work.
        assert_eq!(
            app.get("/protected", Some(&old.access)).await.status(),
            StatusCode::OK
        );
    }

    keys_command(
        &a,
        KeysCommand::Revoke {
            kid: KeyId::parse(&old_kid).unwrap(),
            force: true,
        },
    )
    .await;
    for app in [&a, &b] {
        within_5s("the revoked key's tokens refused", || async {
            app.get("/protected", Some(&old.access)).await.status() == StatusCode::UNAUTHORIZED
        })
        .await;
        assert_token_rejected(app.get("/protected", Some(&old.access)).await, INVALID).await;
        assert!(
            !jwks(app)
                .await
                .iter()
                .any(|key| key["kid"] == old_kid.as_str())
        );
    }
}

#[tokio::test]
async fn moving_from_hs256_to_es256_logs_nobody_out() {
    let before = spawn_app_with(|_| {}).await;
    let user = before.register_user().await;
    let old = before.login_tokens(&user).await;
    assert_eq!(
        jsonwebtoken::decode_header(&old.access).unwrap().alg,
        jsonwebtoken::Algorithm::HS256
    );
    // The same install restarted on ES256, JWT_SECRET_KEY still set.
    let after = es256_peer(&before).await;
    assert_eq!(
        after.get("/protected", Some(&old.access)).await.status(),
        StatusCode::OK
    );
    let refreshed = after.refresh(&old.refresh).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let new = after.login_tokens(&user).await;
    assert_eq!(
        jsonwebtoken::decode_header(&new.access).unwrap().alg,
        jsonwebtoken::Algorithm::ES256
    );
    // Without the secret, the old tokens are refused.
    let without = spawn_peer(&before, |settings| {
        settings
            .set("JWT_ALGORITHM", "ES256")
            .set("SIGNING_KEYS_ENCRYPTION_KEY", encryption_key(7));
        settings.unset("JWT_SECRET_KEY");
    })
    .await;
    assert_token_rejected(without.get("/protected", Some(&old.access)).await, INVALID).await;
    assert_eq!(
        without.get("/protected", Some(&new.access)).await.status(),
        StatusCode::OK
    );
}

/// `token` with its header's `kid` replaced (the signature no longer
/// matters: the key is looked up first).
fn with_kid(token: &str, kid: &str) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (header, rest) = token.split_once('.').expect("a JWT");
    let mut header: Value =
        serde_json::from_slice(&engine.decode(header).expect("base64")).expect("a JSON header");
    header["kid"] = Value::String(kid.to_owned());
    format!("{}.{rest}", engine.encode(header.to_string()))
}

#[tokio::test]
async fn a_token_naming_an_unknown_or_no_kid_is_invalid() {
    let app = es256_app().await;
    let user = app.register_user().await;
    let token = app.login_tokens(&user).await.access;
    let response = app.get("/protected", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    for forged in [with_kid(&token, "no-such-key"), with_kid(&token, "")] {
        let response = app.get("/protected", Some(&forged)).await;
        assert_token_rejected(response, INVALID).await;
    }
}

/// Every `keys` command, and the install's first key, writes its
/// `keys.*` event with no actor or subject and the key's kid and
/// algorithm in its data, read back from `GET /admin/audit`.
#[tokio::test]
async fn every_key_step_is_in_the_audit_log() {
    use crate::admin_audit::{admin, audit, events};
    let app = es256_app().await;
    let first = jwks(&app).await[0]["kid"].as_str().unwrap().to_owned();
    let generate = async |algorithm| {
        keys_command(&app, KeysCommand::Generate { algorithm })
            .await
            .trim()
            .to_owned()
    };
    let next = generate(SigningAlgorithm::EdDsa).await;
    let spare = generate(SigningAlgorithm::Es256).await;
    let kid = |text: &str| KeyId::parse(text).unwrap();
    keys_command(
        &app,
        KeysCommand::Activate {
            kid: kid(&next),
            force: true,
        },
    )
    .await;
    keys_command(&app, KeysCommand::Retire { kid: kid(&spare) }).await;
    keys_command(
        &app,
        KeysCommand::Revoke {
            kid: kid(&first),
            force: true,
        },
    )
    .await;

    let token = admin(&app).await;
    let steps = |kind: &'static str| {
        let token = token.clone();
        let app = &app;
        async move {
            let page = audit(app, &token, &format!("type={kind}")).await;
            events(&page)
                .iter()
                .map(|event| {
                    assert_eq!(event["actor_id"], Value::Null, "{event}");
                    assert_eq!(event["subject_id"], Value::Null, "{event}");
                    (
                        event["data"]["kid"].as_str().unwrap().to_owned(),
                        event["data"]["algorithm"].as_str().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let pair = |kid: &str, alg: &str| (kid.to_owned(), alg.to_owned());
    assert_eq!(
        steps("keys.generated").await,
        [
            pair(&spare, "ES256"),
            pair(&next, "EdDSA"),
            pair(&first, "ES256")
        ]
    );
    // The first key was born active; the activation of the next retired it.
    assert_eq!(
        steps("keys.activated").await,
        [pair(&next, "EdDSA"), pair(&first, "ES256")]
    );
    assert_eq!(
        steps("keys.retired").await,
        [pair(&spare, "ES256"), pair(&first, "ES256")]
    );
    assert_eq!(steps("keys.revoked").await, [pair(&first, "ES256")]);
}
