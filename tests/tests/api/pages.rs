//! The hosted pages the emailed links open (`docs/http-api.md#hosted-pages`):
//! their headers and labelled inputs, and the plain forms a browser without
//! JavaScript posts, end to end with the emailed codes. The script's path
//! runs in a real browser: `tests/tests/browser.rs`.

use integration_tests::pages::{PAGE_CSP, fresh_address};
use integration_tests::{PASSWORD, TestApp, TestUser, json_body, spawn_app};
use reqwest::{Response, StatusCode};
use serde_json::json;

const PAGES: [&str; 4] = [
    "/verify-email",
    "/reset-password",
    "/confirm-email-change",
    "/undo-email-change",
];

/// The page headers, then the HTML.
async fn page_html(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status, "{}", response.url());
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["content-security-policy"], PAGE_CSP);
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    response.text().await.unwrap()
}

async fn verified(app: &TestApp, email: &str, password: &str) -> bool {
    let response = app.login(email, password).await;
    assert_eq!(response.status(), StatusCode::OK, "login as {email}");
    let access = json_body(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    json_body(app.get("/users/me", Some(&access)).await).await["email_verified"] == true
}

#[tokio::test]
async fn pages_have_the_policy_headers_and_labelled_inputs() {
    let app = spawn_app().await;
    for path in PAGES {
        let html = page_html(app.get(path, None).await, StatusCode::OK).await;
        assert!(
            html.contains("<script src=\"/pages/app.js\" defer></script>"),
            "{html}"
        );
        assert!(html.contains("<link rel=\"stylesheet\" href=\"/pages/app.css\">"));
        assert!(
            html.contains("role=\"status\" aria-live=\"polite\""),
            "{path}"
        );
        assert!(html.contains(&format!("action=\"{path}/form\"")), "{path}");
        if path == "/undo-email-change" {
            assert!(html.contains("<label for=\"token\">"), "{html}");
        } else {
            assert!(html.contains("<label for=\"email\">"), "{html}");
            assert!(html.contains("autocomplete=\"email\""), "{html}");
            assert!(html.contains("<label for=\"code\">"), "{html}");
            assert!(html.contains("autocomplete=\"one-time-code\""), "{html}");
        }
    }
    let html = page_html(app.get("/reset-password", None).await, StatusCode::OK).await;
    assert!(html.contains("<label for=\"password\">"));
    assert!(html.contains("<label for=\"password_confirm\">"));
    assert_eq!(html.matches("autocomplete=\"new-password\"").count(), 2);

    let script = app.get("/pages/app.js", None).await;
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(
        script
            .text()
            .await
            .unwrap()
            .contains("history.replaceState")
    );
    let style = app.get("/pages/app.css", None).await;
    assert_eq!(style.status(), StatusCode::OK);
    assert_eq!(style.headers()["content-type"], "text/css; charset=utf-8");
}

#[tokio::test]
async fn the_json_routes_on_the_same_paths_answer_as_before() {
    let app = spawn_app().await;
    let response = app.post_json("/verify-email", &json!({"token": "x"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json_body(response).await["error"],
        "invalid_or_expired_token"
    );
    let response = app
        .request(reqwest::Method::PUT, "/verify-email", None)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(json_body(response).await["error"], "method_not_allowed");
    // A form is not JSON to the JSON route.
    let response = app
        .post_form("/verify-email", &[("email", "a@b.io"), ("code", "123456")])
        .await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // The form paths take only POST.
    let response = app.get("/verify-email/form", None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn by_default_the_emailed_links_open_these_pages_on_this_server() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let welcome = app.welcome(&user).await;
    let page = format!("{}/verify-email#token=", app.address);
    assert!(welcome.link.starts_with(&page), "{}", welcome.link);
    let (path, _) = welcome.link[app.address.len()..].split_once('#').unwrap();
    page_html(app.get(path, None).await, StatusCode::OK).await;
}

#[tokio::test]
async fn the_verify_form_verifies_the_address_with_the_emailed_code() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let code = app.welcome(&user).await.code().to_owned();

    let fields = [("email", user.email.as_str()), ("code", code.as_str())];
    let html = page_html(
        app.post_form("/verify-email/form", &fields).await,
        StatusCode::OK,
    )
    .await;
    assert!(html.contains("Your email address is confirmed."), "{html}");
    assert!(!html.contains(&user.email), "the page shows nothing posted");
    assert!(!html.contains(&code));
    assert!(verified(&app, &user.email, PASSWORD).await);
}

#[tokio::test]
async fn bad_forms_get_a_clear_message_and_a_4xx() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let code = app.welcome(&user).await.code().to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };

    let missing = [("email", user.email.as_str()), ("code", "")];
    let html = page_html(
        app.post_form("/verify-email/form", &missing).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        html.contains("Enter your email address and the 6-digit code from the email."),
        "{html}"
    );
    assert!(
        html.contains("href=\"/verify-email\""),
        "a way back: {html}"
    );

    let fields = [("email", user.email.as_str()), ("code", wrong)];
    let html = page_html(
        app.post_form("/verify-email/form", &fields).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        html.contains("This link or code is invalid or has expired."),
        "{html}"
    );
    assert!(!verified(&app, &user.email, PASSWORD).await);

    let html = page_html(
        app.post_form("/undo-email-change/form", &[("token", " ")])
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        html.contains("Paste the link or the token from the email."),
        "{html}"
    );
    let html = page_html(
        app.post_form("/undo-email-change/form", &[("token", "not-a-token")])
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(html.contains("invalid or has expired"), "{html}");

    let html = page_html(
        app.post_form("/confirm-email-change/form", &[]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        html.contains("account&#39;s current email address and the 6-digit code"),
        "{html}"
    );
}

async fn reset_form(app: &TestApp, user: &TestUser, code: &str, a: &str, b: &str) -> Response {
    let fields = [
        ("email", user.email.as_str()),
        ("code", code),
        ("password", a),
        ("password_confirm", b),
    ];
    app.post_form("/reset-password/form", &fields).await
}

#[tokio::test]
async fn the_reset_form_sets_the_password_after_checking_both_copies_and_the_policy() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let code = app.reset_email(&user).await.code().to_owned();
    let new = "a brand new passphrase";

    let html = page_html(
        reset_form(&app, &user, &code, new, "something else").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(html.contains("The two passwords do not match."), "{html}");
    // The policy's own words; the code stays usable.
    let html = page_html(
        reset_form(&app, &user, &code, "short", "short").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        html.contains("Password must be at least 8 characters long."),
        "{html}"
    );

    let html = page_html(
        reset_form(&app, &user, &code, new, new).await,
        StatusCode::OK,
    )
    .await;
    assert!(html.contains("Your password was changed."), "{html}");
    assert!(!html.contains(new));
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A reset proves the address too.
    assert!(verified(&app, &user.email, new).await);
}

#[tokio::test]
async fn the_confirm_form_moves_the_account_and_the_undo_form_moves_it_back() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let new_email = fresh_address();
    let (confirm, undo) = app.email_change(&user, &new_email).await;

    // The code goes with the account's current address.
    let fields = [("email", user.email.as_str()), ("code", confirm.code())];
    let html = page_html(
        app.post_form("/confirm-email-change/form", &fields).await,
        StatusCode::OK,
    )
    .await;
    assert!(html.contains("Your email address is changed."), "{html}");
    assert!(verified(&app, &new_email, PASSWORD).await);

    // The whole pasted link works as well as its token.
    let fields = [("token", undo.link.as_str())];
    let html = page_html(
        app.post_form("/undo-email-change/form", &fields).await,
        StatusCode::OK,
    )
    .await;
    assert!(html.contains("The change is undone"), "{html}");
    assert!(verified(&app, &user.email, PASSWORD).await);
    assert_eq!(
        app.login(&new_email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_forms_count_under_the_secret_attempt_limits() {
    let app = integration_tests::spawn_app_with(|settings| {
        settings
            .set("RATE_LIMITS", "on")
            .set("RATE_LIMIT_SECRET_ATTEMPTS_PER_IP", "2/600s");
    })
    .await;
    let fields = [("email", "a@example.com"), ("code", "123456")];
    for _ in 0..2 {
        let response = app.post_form("/verify-email/form", &fields).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    let response = app.post_form("/verify-email/form", &fields).await;
    assert!(response.headers().contains_key("retry-after"));
    let html = page_html(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(
        html.contains("Too many attempts. Wait a few minutes"),
        "{html}"
    );
    // The same budget as the JSON route's.
    let response = app.post_json("/verify-email", &json!({"token": "x"})).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}
