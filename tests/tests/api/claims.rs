//! Every token carries `iss` and `aud`, and a token
//! without them, or with others, is `401 invalid_token`.

use integration_tests::token_errors::INVALID;
use integration_tests::{assert_token_rejected, jwt, spawn_app};
use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn issued_tokens_carry_the_issuer_and_the_audience() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    for token in [&tokens.access, &tokens.refresh] {
        let claims = jwt::claims(token);
        assert_eq!(claims["iss"], jwt::ISSUER);
        assert_eq!(claims["aud"], jwt::AUDIENCE);
    }
}

#[tokio::test]
async fn a_token_signed_with_the_key_but_without_iss_or_aud_is_invalid() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let claims = jwt::valid_claims(user.id, "access", 300);
    // The control: these claims, signed with the key, are accepted.
    let genuine = jwt::sign(&claims, &app.jwt_secret, Algorithm::HS256);
    assert_eq!(
        app.get("/protected", Some(&genuine)).await.status(),
        StatusCode::OK
    );

    for claim in ["iss", "aud"] {
        let mut partial = claims.clone();
        partial.as_object_mut().unwrap().remove(claim);
        let token = jwt::sign(&partial, &app.jwt_secret, Algorithm::HS256);
        assert_token_rejected(app.get("/protected", Some(&token)).await, INVALID).await;
    }
}

#[tokio::test]
async fn a_token_for_another_issuer_or_audience_is_invalid() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let claims = jwt::valid_claims(user.id, "access", 300);
    for (claim, value) in [("iss", "someone-else"), ("aud", "another-app")] {
        let mut foreign = claims.clone();
        foreign[claim] = json!(value);
        let token = jwt::sign(&foreign, &app.jwt_secret, Algorithm::HS256);
        assert_token_rejected(app.get("/protected", Some(&token)).await, INVALID).await;
    }
}
