//! `POST /refresh` and `POST /logout`: login sessions.

use integration_tests::token_errors::{NOT_FRESH, REVOKED};
use integration_tests::{assert_token_rejected, json_body, jwt, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn refresh_gives_a_non_fresh_access_token_in_the_same_session() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;

    let response = app.refresh(&tokens.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["access_token", "expires_in", "token_type"]);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    let access = body["access_token"].as_str().unwrap();

    let claims = jwt::claims(access);
    assert_eq!(claims["type"], "access");
    assert_eq!(claims["fresh"], false);
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["sid"], jwt::claims(&tokens.refresh)["sid"]);
    assert_ne!(claims["jti"], jwt::claims(&tokens.access)["jti"]);

    let response = app.get("/protected", Some(access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.get("/fresh-protected", Some(access)).await;
    assert_token_rejected(response, NOT_FRESH).await;

    // A refresh token can be used again while its session lives.
    let second = app.refreshed_access(&tokens.refresh).await;
    assert_eq!(
        app.get("/protected", Some(&second)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_revokes_the_whole_session_and_nothing_else() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let session = app.login_tokens(&user).await;
    let refreshed = app.refreshed_access(&session.refresh).await;
    let other_session = app.login_tokens(&user).await;

    let response = app.logout(&session.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({"message": "Successfully logged out."})
    );

    // The refresh token is dead for both routes.
    assert_token_rejected(app.logout(&session.refresh).await, REVOKED).await;
    assert_token_rejected(app.refresh(&session.refresh).await, REVOKED).await;
    // So is every access token of the session, at once: the login one and
    // the one made by refresh.
    for access in [&session.access, &refreshed] {
        for path in ["/protected", "/users/me"] {
            assert_token_rejected(app.get(path, Some(access)).await, REVOKED).await;
        }
    }
    assert_token_rejected(
        app.get("/fresh-protected", Some(&session.access)).await,
        REVOKED,
    )
    .await;

    // Another login of the same user is untouched.
    let response = app
        .get("/fresh-protected", Some(&other_session.access))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let fresh_again = app.refreshed_access(&other_session.refresh).await;
    assert_eq!(
        app.get("/protected", Some(&fresh_again)).await.status(),
        StatusCode::OK
    );
    // And the user can simply log in again.
    let relogin = app.login_tokens(&user).await;
    assert_eq!(
        app.get("/protected", Some(&relogin.access)).await.status(),
        StatusCode::OK
    );
}
