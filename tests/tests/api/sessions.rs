//! `POST /refresh` and `POST /logout`: login sessions (v1 rows, and the v2
//! logout scopes).

use integration_tests::token_errors::{NOT_FRESH, REVOKED};
use integration_tests::{assert_error, assert_token_rejected, json_body, jwt, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn refresh_gives_a_non_fresh_access_token_and_the_next_refresh_token() {
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
    assert_eq!(
        keys,
        ["access_token", "expires_in", "refresh_token", "token_type"]
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    let access = body["access_token"].as_str().unwrap();

    let claims = jwt::claims(access);
    assert_eq!(claims["type"], "access");
    assert_eq!(claims["fresh"], false);
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["sid"], jwt::claims(&tokens.refresh)["sid"]);
    assert_ne!(claims["jti"], jwt::claims(&tokens.access)["jti"]);

    let refresh = jwt::claims(body["refresh_token"].as_str().unwrap());
    assert_eq!(refresh["type"], "refresh");
    assert_eq!(refresh["sid"], claims["sid"]);
    assert_eq!(jwt::claims(&tokens.refresh)["gen"], 0);
    assert_eq!(refresh["gen"], 1);

    let response = app.get("/protected", Some(access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.get("/fresh-protected", Some(access)).await;
    assert_token_rejected(response, NOT_FRESH).await;
}

#[tokio::test]
async fn logout_revokes_the_whole_session_and_nothing_else() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let session = app.login_tokens(&user).await;
    let refreshed = app.rotated(&session.refresh).await;
    let other_session = app.login_tokens(&user).await;

    let response = app.logout(&refreshed.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({"message": "Successfully logged out."})
    );

    // Every refresh token of the session is dead for both routes.
    for refresh in [&refreshed.refresh, &session.refresh] {
        assert_token_rejected(app.logout(refresh).await, REVOKED).await;
        assert_token_rejected(app.refresh(refresh).await, REVOKED).await;
    }
    // So is every access token of the session, at once: the login one and
    // the one made by refresh.
    for access in [&session.access, &refreshed.access] {
        for path in ["/protected", "/users/me", "/users/me/sessions"] {
            assert_token_rejected(app.get(path, Some(access)).await, REVOKED).await;
        }
    }

    // Another login of the same user is untouched.
    let response = app
        .get("/fresh-protected", Some(&other_session.access))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let again = app.rotated(&other_session.refresh).await;
    assert_eq!(
        app.get("/protected", Some(&again.access)).await.status(),
        StatusCode::OK
    );
    // And the user can simply log in again.
    let relogin = app.login_tokens(&user).await;
    assert_eq!(
        app.get("/protected", Some(&relogin.access)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_superseded_refresh_token_logs_its_session_out() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let first = app.login_tokens(&user).await;
    let second = app.rotated(&first.refresh).await;
    let third = app.rotated(&second.refresh).await;

    // Two generations old: ending the session is not treated as reuse.
    let response = app.logout(&first.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_token_rejected(app.refresh(&third.refresh).await, REVOKED).await;
    assert_token_rejected(app.get("/protected", Some(&third.access)).await, REVOKED).await;
}

#[tokio::test]
async fn logout_others_keeps_only_this_session() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let [a, b, c] = [
        app.login_tokens(&user).await,
        app.login_tokens(&user).await,
        app.login_tokens(&user).await,
    ];
    let response = app.logout_scope(&b.refresh, "others").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({"message": "Successfully logged out."})
    );
    for gone in [&a, &c] {
        assert_token_rejected(app.get("/protected", Some(&gone.access)).await, REVOKED).await;
        assert_token_rejected(app.refresh(&gone.refresh).await, REVOKED).await;
    }
    assert_eq!(
        app.get("/protected", Some(&b.access)).await.status(),
        StatusCode::OK
    );
    app.rotated(&b.refresh).await;
}

#[tokio::test]
async fn logout_global_ends_every_session_this_one_included() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let other_user = app.register_user().await;
    let mine = [app.login_tokens(&user).await, app.login_tokens(&user).await];
    let theirs = app.login_tokens(&other_user).await;

    let response = app.logout_scope(&mine[0].refresh, "global").await;
    assert_eq!(response.status(), StatusCode::OK);
    for tokens in &mine {
        assert_token_rejected(app.get("/protected", Some(&tokens.access)).await, REVOKED).await;
        assert_token_rejected(app.refresh(&tokens.refresh).await, REVOKED).await;
    }
    assert_eq!(
        app.get("/protected", Some(&theirs.access)).await.status(),
        StatusCode::OK
    );
    // A new login works at once.
    let relogin = app.login_tokens(&user).await;
    assert_eq!(
        app.get("/protected", Some(&relogin.access)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_scope_is_optional_and_checked() {
    let app = spawn_app().await;
    let user = app.register_user().await;

    // An empty JSON object, and an empty body, mean `local`.
    let tokens = app.login_tokens(&user).await;
    let response = app
        .request(reqwest::Method::POST, "/logout", Some(&tokens.refresh))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tokens = app.login_tokens(&user).await;
    let response = app
        .request(reqwest::Method::POST, "/logout", Some(&tokens.refresh))
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let tokens = app.login_tokens(&user).await;
    for scope in [json!("everywhere"), json!("GLOBAL"), json!(3)] {
        let response = app
            .request(reqwest::Method::POST, "/logout", Some(&tokens.refresh))
            .json(&json!({ "scope": scope }))
            .send()
            .await
            .unwrap();
        let body = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        )
        .await;
        assert!(body["errors"]["scope"].is_array(), "{body}");
    }
    // Nothing was logged out by the refused requests.
    assert_eq!(
        app.get("/protected", Some(&tokens.access)).await.status(),
        StatusCode::OK
    );
    let response = app
        .request(reqwest::Method::POST, "/logout", Some(&tokens.refresh))
        .header("Content-Type", "text/plain")
        .body("scope=global")
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}
