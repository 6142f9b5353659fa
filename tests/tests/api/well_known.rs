//! `/.well-known/jwks.json` and `/.well-known/openid-configuration` on an
//! install that signs with the shared secret: no key to publish, and a
//! discovery document that points at the JWKS.

use integration_tests::{json_body, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn an_hmac_install_publishes_no_key_and_lets_clients_cache_that() {
    let app = spawn_app().await;
    let response = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "public, max-age=600");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(json_body(response).await, json!({"keys": []}));
}

#[tokio::test]
async fn the_discovery_document_names_the_issuer_and_an_absolute_jwks_uri() {
    let app = spawn_app().await;
    let response = app.get("/.well-known/openid-configuration", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    assert_eq!(body["issuer"], "auth-service");
    assert_eq!(
        body["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.address)
    );
    assert_eq!(
        body["id_token_signing_alg_values_supported"],
        json!(["HS256"])
    );
    // The URI it gives answers.
    let keys = reqwest::get(body["jwks_uri"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(keys.status(), StatusCode::OK);
}
