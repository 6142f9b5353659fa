//! `POST /login` and the tokens it issues.

use integration_tests::{assert_error, json_body, jwt, spawn_app};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn login_returns_a_fresh_access_token_and_a_refresh_token() {
    let app = spawn_app().await;
    let user = app.register_user().await;

    // The email is matched trimmed and case-insensitively.
    let typed = format!("  {}  ", user.email.to_uppercase());
    let response = app.login(&typed, &user.password).await;

    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_token",
            "device_token",
            "expires_in",
            "refresh_token",
            "token_type"
        ]
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();

    // Both verify with the configured key and HS256.
    let key = DecodingKey::from_secret(app.jwt_secret.as_bytes());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[jwt::AUDIENCE]);
    validation.set_issuer(&[jwt::ISSUER]);
    for token in [access, refresh] {
        assert_eq!(jwt::header(token)["alg"], "HS256");
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .expect("signed with JWT_SECRET_KEY");
    }

    let access_claims = jwt::claims(access);
    let refresh_claims = jwt::claims(refresh);
    for claims in [&access_claims, &refresh_claims] {
        assert_eq!(claims["sub"], user.id.to_string(), "{claims}");
        for claim in ["iat", "nbf", "exp"] {
            assert!(claims[claim].is_i64(), "{claim} in {claims}");
        }
        assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    }
    assert_eq!(access_claims["type"], "access");
    assert_eq!(access_claims["fresh"], true);
    assert_eq!(refresh_claims["type"], "refresh");
    assert_ne!(access_claims["jti"], refresh_claims["jti"]);
    assert_eq!(access_claims["sid"], refresh_claims["sid"], "one session");
    let life = |claims: &Value| claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(life(&access_claims), 300);
    assert_eq!(life(&refresh_claims), 2_592_000);

    // The access token is fresh.
    let response = app.get("/fresh-protected", Some(access)).await;
    assert_eq!(response.status(), StatusCode::OK);

    // Each login is a new session.
    let again = app.login_tokens(&user).await;
    assert_ne!(jwt::claims(&again.access)["sid"], access_claims["sid"]);
}

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_get_the_same_401() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let expected = json!({"message": "Invalid credentials.", "error": "invalid_credentials"});

    let unknown = app.login("nobody@example.com", &user.password).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(unknown).await, expected);

    let wrong = app.login(&user.email, "wrong password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(wrong).await, expected);

    // Passwords are not trimmed.
    let padded = app
        .login(&user.email, &format!(" {} ", user.password))
        .await;
    assert_eq!(padded.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_applies_no_policy_to_its_fields() {
    let app = spawn_app().await;
    let user = app.register_user().await;

    for (email, password) in [
        (user.email.as_str(), "x"),
        (user.email.as_str(), ""),
        ("not an email", "whatever password"),
        ("", ""),
    ] {
        let response = app.login(email, password).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
}

#[tokio::test]
async fn a_missing_or_non_string_field_is_422() {
    let app = spawn_app().await;

    let cases = [
        (json!({}), vec!["email", "password"]),
        (json!({"email": "a@b.io"}), vec!["password"]),
        (json!({"password": "secret password"}), vec!["email"]),
        (
            json!({"email": 5, "password": "secret password"}),
            vec!["email"],
        ),
        (
            json!({"email": "a@b.io", "password": ["x"]}),
            vec!["password"],
        ),
    ];
    for (body, fields) in cases {
        let response = app.post_json("/login", &body).await;
        let answer = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        )
        .await;
        for field in fields {
            assert!(
                answer["errors"][field]
                    .as_array()
                    .is_some_and(|m| !m.is_empty()),
                "{body} -> {answer}"
            );
        }
    }
}
