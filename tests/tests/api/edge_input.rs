//! Bad input at the edge: invalid UTF-8, several bad fields at once, values
//! that must not be echoed, and control characters.

use integration_tests::{assert_error, spawn_app};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn invalid_utf8_in_any_json_string_is_invalid_json() {
    let app = spawn_app().await;
    let bodies: [&[u8]; 4] = [
        // A field no route reads.
        b"{\"email\": \"a@b.io\", \"password\": \"long enough\", \"note\": \"\xff\xfe\"}",
        b"{\"email\": \"a@b.io\xc3\", \"password\": \"long enough\"}",
        b"{\"\xffkey\": 1, \"email\": \"a@b.io\", \"password\": \"x\"}",
        b"{\"username\": \"ada\", \"email\": \"a@b.io\", \"password\": \"long enough\", \"x\": [\"\xed\xa0\x80\"]}",
    ];
    for path in ["/login", "/register"] {
        for body in bodies {
            let response = app
                .client
                .post(app.url(path))
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec())
                .send()
                .await
                .unwrap();
            assert_error(response, StatusCode::BAD_REQUEST, "invalid_json").await;
        }
    }
}

#[tokio::test]
async fn one_422_names_every_bad_field() {
    let app = spawn_app().await;
    let response = app
        .post_json("/login", &json!({"email": [1], "password": 2}))
        .await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    let fields: Vec<&String> = body["errors"].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["email", "password"], "{body}");

    let response = app
        .post_json(
            "/register",
            &json!({"username": {"a": 1}, "email": 7, "password": [true]}),
        )
        .await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    let fields: Vec<&String> = body["errors"].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["email", "password", "username"], "{body}");

    // A wrong type and a rule broken elsewhere come together too.
    let response = app
        .post_json(
            "/register",
            &json!({"username": "ab", "email": false, "password": "long enough"}),
        )
        .await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    let fields: Vec<&String> = body["errors"].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["email", "username"], "{body}");
}

#[tokio::test]
async fn a_non_string_password_is_never_echoed() {
    let app = spawn_app().await;
    let secret = 918_273_645_546_372_819_u64;
    for password in [
        json!(secret),
        json!([secret]),
        json!({"pin": secret}),
        json!(-918_273_645.5),
    ] {
        for (path, body) in [
            ("/login", json!({"email": "a@b.io", "password": password})),
            (
                "/register",
                json!({"username": "ada", "email": "a@b.io", "password": password}),
            ),
        ] {
            let response = app.post_json(path, &body).await;
            let answer = assert_error(
                response,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_error",
            )
            .await;
            let text = answer.to_string();
            assert!(!text.contains("918273645"), "{path}: {text}");
            assert_eq!(answer["errors"]["password"], json!(["Expected a string."]));
        }
    }
}

/// Every text field of every route with NUL and other control characters:
/// a clean 4xx, never a 500. (A NUL in the login email reaches the user
/// store; the store's own guard answers 401 there, tested with it.)
#[tokio::test]
async fn control_characters_never_cause_a_500() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let nasty = ["\u{0}", "\u{1}\u{1f}", "\u{7f}", "\u{85}\u{9f}", "\u{202e}"];
    for bad in nasty {
        let text = |base: &str| format!("{base}{bad}");
        let bodies: [(&str, Value); 6] = [
            (
                "/register",
                json!({"username": text("ada"), "email": "a@b.io", "password": "long enough"}),
            ),
            (
                "/register",
                json!({"username": "ada", "email": text("a@b.io"), "password": "long enough"}),
            ),
            (
                "/register",
                json!({"username": "ada", "email": text("x@b.io"), "password": text("long enough")}),
            ),
            (
                "/login",
                json!({"email": user.email, "password": text(&user.password)}),
            ),
            (
                "/login",
                json!({"email": user.email, "password": user.password, text("extra"): text("x")}),
            ),
            (
                "/register",
                json!({text("username"): "ada", "email": "a@b.io", "password": "long enough"}),
            ),
        ];
        for (path, body) in bodies {
            let response = app.post_json(path, &body).await;
            let status = response.status();
            assert!(
                status.is_client_error() || status.is_success(),
                "{path} {body}: {status}"
            );
        }
        // In a path segment and a query string, percent-encoded.
        let encoded: String = bad.bytes().map(|byte| format!("%{byte:02X}")).collect();
        for path in [
            format!("/users/{encoded}"),
            format!("/user/1{encoded}"),
            format!("/swagger-ui/{encoded}"),
            format!("/nope{encoded}"),
            format!("/guest?x={encoded}"),
        ] {
            let response = app
                .request(Method::GET, &path, Some(&tokens.access))
                .send()
                .await
                .unwrap();
            let status = response.status();
            assert!(status.as_u16() < 500, "{path}: {status}");
        }
    }
    // Header values cannot hold controls other than tab, but can hold
    // bytes that are not UTF-8.
    for value in [&b"Bearer a\tb"[..], b"Bearer \xff\xfe", b"\x80 abc"] {
        let response = app
            .client
            .get(app.url("/protected"))
            .header("authorization", HeaderValue::from_bytes(value).unwrap())
            .header("x-request-id", HeaderValue::from_bytes(value).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{value:?}");
    }
}
