//! Once a user is deleted, no token of it lives, not even
//! one signed by a login that was still in flight during the deletion.

use futures_util::future::join_all;
use integration_tests::token_errors::REVOKED;
use integration_tests::{TestApp, assert_token_rejected, json_body, spawn_app};
use reqwest::StatusCode;

const CONCURRENT_LOGINS: usize = 40;

/// The access and refresh token of every login that succeeded.
async fn logins_racing_a_deletion(app: &TestApp) -> Vec<(String, String)> {
    let user = app.register_user().await;
    let deleter = app.login_tokens(&user).await;
    let logins = (0..CONCURRENT_LOGINS).map(|_| async {
        let response = app.login(&user.email, &user.password).await;
        if response.status() != StatusCode::OK {
            return None;
        }
        let body = json_body(response).await;
        Some((
            body["access_token"].as_str()?.to_owned(),
            body["refresh_token"].as_str()?.to_owned(),
        ))
    });
    let deletion = async {
        let response = app
            .delete(&format!("/users/{}", user.id), Some(&deleter.access))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "delete");
    };
    let (issued, ()) = tokio::join!(join_all(logins), deletion);
    issued.into_iter().flatten().collect()
}

#[tokio::test]
async fn no_access_token_of_a_login_in_flight_outlives_the_deletion() {
    let app = spawn_app().await;
    let issued = logins_racing_a_deletion(&app).await;
    for (access, _) in &issued {
        assert_token_rejected(app.get("/protected", Some(access)).await, REVOKED).await;
    }
}

#[tokio::test]
async fn no_refresh_token_of_a_login_in_flight_outlives_the_deletion() {
    let app = spawn_app().await;
    let issued = logins_racing_a_deletion(&app).await;
    for (_, refresh) in &issued {
        assert_token_rejected(app.refresh(refresh).await, REVOKED).await;
    }
}

/// The tokens of a login that finished before the deletion die too (the
/// control: the race above must not be the only thing tested).
#[tokio::test]
async fn tokens_issued_before_the_deletion_are_revoked() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let other = app.login_tokens(&user).await;
    let response = app
        .delete(&format!("/users/{}", user.id), Some(&tokens.access))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_token_rejected(app.get("/protected", Some(&other.access)).await, REVOKED).await;
    assert_token_rejected(app.refresh(&other.refresh).await, REVOKED).await;
}
