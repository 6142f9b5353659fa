//! The demo routes: `/guest`, `/protected`, `/fresh-protected`.

use integration_tests::token_errors::{MISSING, NOT_FRESH};
use integration_tests::{assert_token_rejected, json_body, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn demo_endpoints_answer_exactly() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let refreshed = app.refreshed_access(&tokens.refresh).await;

    let guest = json!({"message": "This endpoint is open to everyone."});
    let protected = json!({"message": "This is a protected endpoint."});
    let fresh = json!({
        "message": "This is a protected endpoint. You used a fresh token to access it."
    });

    // /guest ignores whatever token comes along.
    for token in [None, Some("garbage"), Some(tokens.refresh.as_str())] {
        let response = app.get("/guest", token).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(json_body(response).await, guest);
    }

    for token in [&tokens.access, &refreshed] {
        let response = app.get("/protected", Some(token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(json_body(response).await, protected);
    }
    assert_token_rejected(app.get("/protected", None).await, MISSING).await;

    let response = app.get("/fresh-protected", Some(&tokens.access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await, fresh);
    assert_token_rejected(
        app.get("/fresh-protected", Some(&refreshed)).await,
        NOT_FRESH,
    )
    .await;
    assert_token_rejected(app.get("/fresh-protected", None).await, MISSING).await;
}
