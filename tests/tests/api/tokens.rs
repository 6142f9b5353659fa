//! The token errors of `docs/http-api.md#error-codes`, on the routes that take tokens.

use std::time::Duration;

use integration_tests::token_errors::{
    ACCESS_REQUIRED, EXPIRED, INVALID, MISSING, REFRESH_REQUIRED,
};
use integration_tests::{assert_token_rejected, json_body, jwt, spawn_app, spawn_app_with};
use jsonwebtoken::Algorithm;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Every route that wants an access token, and how to call it.
const ACCESS_ROUTES: &[(Method, &str)] = &[
    (Method::GET, "/protected"),
    (Method::GET, "/fresh-protected"),
    (Method::GET, "/users/me"),
];
const REFRESH_ROUTES: &[(Method, &str)] = &[(Method::POST, "/refresh"), (Method::POST, "/logout")];

#[tokio::test]
async fn a_missing_or_malformed_authorization_header_is_authorization_required() {
    let app = spawn_app().await;
    let routes = ACCESS_ROUTES
        .iter()
        .chain(REFRESH_ROUTES)
        .chain(&[(Method::GET, "/users/1"), (Method::DELETE, "/users/1")]);
    for (method, path) in routes {
        let response = app
            .request(method.clone(), path, None)
            .send()
            .await
            .unwrap();
        assert_token_rejected(response, MISSING).await;
    }

    for header in [
        "Basic YWRhOnB3",
        "Bearer",
        "Bearer ",
        "Token abc.def.ghi",
        "Bearer a b",
        "abc.def.ghi",
    ] {
        let response = app
            .client
            .get(app.url("/protected"))
            .header("Authorization", header)
            .send()
            .await
            .unwrap();
        assert_token_rejected(response, MISSING).await;
    }
}

#[tokio::test]
async fn tokens_the_server_did_not_sign_are_invalid() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let claims = jwt::valid_claims(user.id, "access", 300);

    // The control: the same claims signed as the server signs are accepted,
    // so each rejection below is for the reason it names.
    let genuine = jwt::sign(&claims, &app.jwt_secret, Algorithm::HS256);
    let response = app.get("/protected", Some(&genuine)).await;
    assert_eq!(response.status(), StatusCode::OK);

    let other_key = "another-secret-of-at-least-32-bytes-long";
    let mut other_user = claims.clone();
    other_user["sub"] = json!((user.id + 1).to_string());
    let forged = [
        ("garbage", "garbage".to_owned()),
        ("three dots", "a.b.c".to_owned()),
        (
            "another key",
            jwt::sign(&claims, other_key, Algorithm::HS256),
        ),
        ("alg none", jwt::unsigned(&claims)),
        ("alg none, signature kept", {
            let signature = genuine.rsplit('.').next().unwrap();
            format!("{}{signature}", jwt::unsigned(&claims))
        }),
        (
            "right key, HS512",
            jwt::sign(&claims, &app.jwt_secret, Algorithm::HS512),
        ),
        (
            "right key, HS384",
            jwt::sign(&claims, &app.jwt_secret, Algorithm::HS384),
        ),
        ("claims changed", jwt::with_claims(&genuine, &other_user)),
        (
            "signature cut",
            genuine.rsplit_once('.').unwrap().0.to_owned(),
        ),
    ];
    for (case, token) in forged {
        let response = app.get("/protected", Some(&token)).await;
        let status = response.status();
        let body = json_body(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        assert_eq!(
            body,
            json!({"message": INVALID.1, "error": INVALID.0}),
            "{case}"
        );
    }

    // Refresh routes check signatures the same way.
    let refresh_claims = jwt::valid_claims(user.id, "refresh", 300);
    for (method, path) in REFRESH_ROUTES {
        let token = jwt::sign(&refresh_claims, other_key, Algorithm::HS256);
        let response = app
            .request(method.clone(), path, Some(&token))
            .send()
            .await
            .unwrap();
        assert_token_rejected(response, INVALID).await;
        let response = app
            .request(method.clone(), path, Some(&jwt::unsigned(&refresh_claims)))
            .send()
            .await
            .unwrap();
        assert_token_rejected(response, INVALID).await;
    }
}

#[tokio::test]
async fn an_expired_access_token_is_token_expired() {
    let app = spawn_app_with(|settings| {
        settings.set("JWT_ACCESS_TOKEN_EXPIRES", "1");
    })
    .await;
    let user = app.register_user().await;
    let response = app.login(&user.email, &user.password).await;
    let body = json_body(response).await;
    assert_eq!(body["expires_in"], 1);
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    // exp is whole seconds after iat; past 2 s it has certainly passed.
    tokio::time::sleep(Duration::from_millis(2100)).await;

    for (method, path) in ACCESS_ROUTES {
        let response = app
            .request(method.clone(), path, Some(&access))
            .send()
            .await
            .unwrap();
        assert_token_rejected(response, EXPIRED).await;
    }
    // The refresh token outlives it and still works.
    let response = app.refresh(&refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_refresh_token_is_token_expired() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let expired = jwt::sign(
        &jwt::valid_claims(user.id, "refresh", -10),
        &app.jwt_secret,
        Algorithm::HS256,
    );
    for (method, path) in REFRESH_ROUTES {
        let response = app
            .request(method.clone(), path, Some(&expired))
            .send()
            .await
            .unwrap();
        assert_token_rejected(response, EXPIRED).await;
    }
}

#[tokio::test]
async fn each_route_takes_only_its_kind_of_token() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;

    for (method, path) in ACCESS_ROUTES {
        let response = app
            .request(method.clone(), path, Some(&tokens.refresh))
            .send()
            .await
            .unwrap();
        assert_token_rejected(response, ACCESS_REQUIRED).await;
    }
    let own = format!("/users/{}", user.id);
    for method in [Method::GET, Method::DELETE] {
        let response = app
            .request(method, &own, Some(&tokens.refresh))
            .send()
            .await
            .unwrap();
        assert_token_rejected(response, ACCESS_REQUIRED).await;
    }
    for (method, path) in REFRESH_ROUTES {
        let response = app
            .request(method.clone(), path, Some(&tokens.access))
            .send()
            .await
            .unwrap();
        assert_token_rejected(response, REFRESH_REQUIRED).await;
    }

    // Neither mistake used anything up.
    assert_eq!(
        app.get("/protected", Some(&tokens.access)).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.refresh(&tokens.refresh).await.status(), StatusCode::OK);
}
