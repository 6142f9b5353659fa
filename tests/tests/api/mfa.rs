//! Two-factor authentication over HTTP on real PostgreSQL and Redis:
//! enrolment, the two-step login with a TOTP code and with a recovery
//! code, replays, the tries of an `mfa_token`, the `aal`/`amr` claims and
//! the `aal2` rule, recovery codes, disabling, and the emails of each.
//! Codes are computed from the enrolment's base32 secret, as an app does.

use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use domain::{TimeStep, TotpSecret};
use integration_tests::{TestApp, TestUser, Tokens, assert_error, json_body, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

const INVALID: &str = "invalid_or_expired_token";

/// What an authenticator app holds after scanning the enrolment.
pub(crate) struct App {
    secret: TotpSecret,
}

impl App {
    fn from_base32(secret: &str) -> Self {
        let bytes = totp_rs::Secret::try_from_base32(secret).expect("base32");
        Self {
            secret: TotpSecret::from_slice(bytes.as_ref()).expect("20 bytes"),
        }
    }

    /// The code shown now, and the step it is for.
    fn code_now(&self) -> (String, TimeStep) {
        let step = TimeStep::at(Utc::now());
        (self.secret.code_at(step), step)
    }

    fn code_at(&self, step: TimeStep) -> String {
        self.secret.code_at(step)
    }
}

/// A user with TOTP on: its authenticator, the recovery codes, the
/// session that enabled it (still `aal1`), and the step its confirming
/// code used up.
pub(crate) struct Enrolled {
    pub(crate) user: TestUser,
    authenticator: App,
    pub(crate) recovery_codes: Vec<String>,
    pub(crate) enabling: Tokens,
    spent: TimeStep,
}

impl Enrolled {
    /// The code of the step after the spent one: taken within the next
    /// minute (the server accepts a step either side of its own).
    fn next_code(&self) -> String {
        self.authenticator
            .code_at(TimeStep::new(self.spent.get() + 1))
    }

    fn spent_code(&self) -> String {
        self.authenticator.code_at(self.spent)
    }
}

async fn enrol(app: &TestApp, tokens: &Tokens) -> Value {
    let response = app
        .post_with_token("/users/me/mfa/totp", Some(&tokens.access))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    json_body(response).await
}

async fn verify(app: &TestApp, tokens: &Tokens, code: &str) -> reqwest::Response {
    app.request(
        reqwest::Method::POST,
        "/users/me/mfa/totp/verify",
        Some(&tokens.access),
    )
    .json(&json!({ "code": code }))
    .send()
    .await
    .expect("request")
}

pub(crate) async fn enrolled(app: &TestApp) -> Enrolled {
    let user = app.register_user().await;
    let enabling = app.login_tokens(&user).await;
    let kit = enrol(app, &enabling).await;
    let authenticator = App::from_base32(kit["secret"].as_str().expect("secret"));
    let (code, spent) = authenticator.code_now();
    let response = verify(app, &enabling, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    assert_eq!(body["message"], "Two-factor authentication enabled.");
    let recovery_codes = body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|code| code.as_str().expect("a code").to_owned())
        .collect();
    Enrolled {
        user,
        authenticator,
        recovery_codes,
        enabling,
        spent,
    }
}

/// `POST /login` of a user with TOTP: the `mfa_required` answer.
pub(crate) async fn first_step(app: &TestApp, user: &TestUser) -> Value {
    let response = app.login(&user.email, &user.password).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await
}

pub(crate) async fn second_step(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/login/mfa", &body).await
}

pub(crate) fn mfa_token(answer: &Value) -> String {
    answer["mfa_token"].as_str().expect("mfa_token").to_owned()
}

/// The claims of a token, unverified: what a client would read.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON")
}

pub(crate) fn tokens_of(body: &Value) -> Tokens {
    Tokens {
        access: body["access_token"].as_str().expect("access").to_owned(),
        refresh: body["refresh_token"].as_str().expect("refresh").to_owned(),
    }
}

/// The queued jobs of `kind` to `to`, once there is one (or 10 s passed).
async fn emails(app: &TestApp, kind: &str, to: &str) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found: Vec<Value> = app
            .email_jobs()
            .await
            .into_iter()
            .filter(|job| job["kind"] == kind && job["to"] == to)
            .collect();
        if !found.is_empty() || tokio::time::Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn enrolment_shows_an_app_what_it_needs_and_a_first_code_turns_it_on() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let enabling = app.login_tokens(&user).await;
    let other = app.login_tokens(&user).await;

    let kit = enrol(&app, &enabling).await;
    let secret = kit["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "20 bytes in base32, no padding");
    let uri = url::Url::parse(kit["otpauth_uri"].as_str().unwrap()).unwrap();
    assert_eq!((uri.scheme(), uri.host_str()), ("otpauth", Some("totp")));
    let label = percent_decode(uri.path());
    assert_eq!(label, format!("/auth-service:{}", user.email));
    let query: std::collections::HashMap<_, _> = uri.query_pairs().into_owned().collect();
    assert_eq!(query["secret"], secret);
    assert_eq!(query["issuer"], "auth-service");
    assert!(kit["qr_svg"].as_str().unwrap().contains("<svg"));

    // Pending: nothing changes until a code confirms it.
    let status = json_body(app.get("/users/me/mfa", Some(&enabling.access)).await).await;
    assert_eq!(status["totp"]["enabled"], false);
    let authenticator = App::from_base32(secret);
    for wrong in ["000000", "12345", "abcdef"] {
        let response = verify(&app, &enabling, wrong).await;
        assert_error(response, StatusCode::BAD_REQUEST, INVALID).await;
    }
    let response = verify(&app, &enabling, &authenticator.code_now().0).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    let codes = body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    for code in codes {
        let code = code.as_str().unwrap();
        assert_eq!(code.len(), 19, "{code}");
        assert!(code.split('-').all(|group| {
            group.len() == 4
                && group
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        }));
    }

    // Enabling ended every other session and said so; this one stays.
    let ended = app.get("/protected", Some(&other.access)).await;
    assert_eq!(ended.status(), StatusCode::UNAUTHORIZED);
    let status = json_body(app.get("/users/me/mfa", Some(&enabling.access)).await).await;
    assert_eq!(status["totp"]["enabled"], true);
    assert!(status["totp"]["enabled_at"].is_string());
    assert_eq!(status["recovery_codes_remaining"], 10);
    assert_eq!(emails(&app, "mfa_enabled", &user.email).await.len(), 1);

    // Enrolling again, or confirming again, is a conflict.
    let again = app
        .post_with_token("/users/me/mfa/totp", Some(&enabling.access))
        .await;
    assert_error(again, StatusCode::CONFLICT, "mfa_already_enabled").await;
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_login_takes_a_second_step_and_its_tokens_say_aal2() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;

    let answer = first_step(&app, &enrolled.user).await;
    assert_eq!(answer["mfa_required"], true);
    assert_eq!(answer["methods"], json!(["totp", "recovery_code"]));
    assert_eq!(answer["expires_in"], 300);
    assert_eq!(mfa_token(&answer).len(), 43);
    for absent in ["access_token", "refresh_token", "device_token"] {
        assert!(answer.get(absent).is_none(), "{answer}");
    }

    // The step the enrolment used is spent: the next one is taken (±1).
    let spent = enrolled.spent_code();
    let response = second_step(
        &app,
        json!({"mfa_token": mfa_token(&answer), "code": spent}),
    )
    .await;
    assert_error(response, StatusCode::BAD_REQUEST, INVALID).await;
    let code = enrolled.next_code();
    let response = second_step(&app, json!({"mfa_token": mfa_token(&answer), "code": code})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["cache-control"].to_str().unwrap(),
        "no-store"
    );
    let body = json_body(response).await;
    assert_eq!(body["device_token"].as_str().unwrap().len(), 43);
    let tokens = tokens_of(&body);
    let access = claims(&tokens.access);
    assert_eq!(access["aal"], "aal2");
    assert_eq!(access["amr"], json!(["pwd", "otp"]));

    // A refresh keeps the session's assurance.
    let refreshed = app.refreshed_access(&tokens.refresh).await;
    assert_eq!(claims(&refreshed)["aal"], "aal2");
    assert_eq!(claims(&refreshed)["amr"], json!(["pwd", "otp"]));

    // The same code again, on a new login: a replay.
    let answer = first_step(&app, &enrolled.user).await;
    let response = second_step(&app, json!({"mfa_token": mfa_token(&answer), "code": code})).await;
    assert_error(response, StatusCode::BAD_REQUEST, INVALID).await;
    // And the used mfa_token is dead.
    let response = second_step(
        &app,
        json!({"mfa_token": body["device_token"], "code": code}),
    )
    .await;
    assert_error(response, StatusCode::BAD_REQUEST, INVALID).await;
}

#[tokio::test]
async fn a_recovery_code_works_once_in_any_case_and_says_how_many_are_left() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let code = enrolled.recovery_codes[3].clone();

    let answer = first_step(&app, &enrolled.user).await;
    let typed = code.to_uppercase().replace('-', " ");
    let response = second_step(
        &app,
        json!({"mfa_token": mfa_token(&answer), "recovery_code": typed}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let access = claims(json_body(response).await["access_token"].as_str().unwrap());
    assert_eq!(access["aal"], "aal2");
    assert_eq!(access["amr"], json!(["pwd", "rc"]));
    let used = emails(&app, "recovery_code_used", &enrolled.user.email).await;
    assert_eq!(used.len(), 1);
    assert_eq!(used[0]["remaining"], 9);

    let answer = first_step(&app, &enrolled.user).await;
    let response = second_step(
        &app,
        json!({"mfa_token": mfa_token(&answer), "recovery_code": code}),
    )
    .await;
    assert_error(response, StatusCode::BAD_REQUEST, INVALID).await;
    let status = json_body(
        app.get("/users/me/mfa", Some(&enrolled.enabling.access))
            .await,
    )
    .await;
    assert_eq!(status["recovery_codes_remaining"], 9);
}

#[tokio::test]
async fn an_mfa_token_takes_five_wrong_codes_then_dies() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let answer = first_step(&app, &enrolled.user).await;
    for _ in 0..5 {
        let response = second_step(
            &app,
            json!({"mfa_token": mfa_token(&answer), "code": "000000"}),
        )
        .await;
        assert_error(response, StatusCode::BAD_REQUEST, INVALID).await;
    }
    let right = enrolled.next_code();
    let response = second_step(
        &app,
        json!({"mfa_token": mfa_token(&answer), "code": right}),
    )
    .await;
    assert_error(response, StatusCode::BAD_REQUEST, INVALID).await;
    // A new login still works with that code.
    let answer = first_step(&app, &enrolled.user).await;
    let response = second_step(
        &app,
        json!({"mfa_token": mfa_token(&answer), "code": right}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_second_step_names_bad_fields_and_refuses_unknown_tokens_alike() {
    let app = spawn_app().await;
    for body in [
        json!({"code": "123456"}),
        json!({"mfa_token": "x".repeat(43)}),
        json!({"mfa_token": "x".repeat(43), "code": "123456", "recovery_code": "a"}),
        json!({"mfa_token": 7, "code": "123456"}),
    ] {
        let response = second_step(&app, body.clone()).await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        )
        .await;
    }
    for token in ["x".repeat(43), "short".to_owned()] {
        let response = second_step(&app, json!({"mfa_token": token, "code": "123456"})).await;
        assert_error(response, StatusCode::BAD_REQUEST, INVALID).await;
    }
}

#[tokio::test]
async fn concurrent_second_steps_with_one_code_open_one_session() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let code = enrolled.next_code();
    let mut tokens = Vec::new();
    for _ in 0..8 {
        tokens.push(mfa_token(&first_step(&app, &enrolled.user).await));
    }
    let answers = futures_util::future::join_all(
        tokens
            .iter()
            .map(|token| second_step(&app, json!({"mfa_token": token, "code": code}))),
    )
    .await;
    let ok = answers
        .iter()
        .filter(|response| response.status() == StatusCode::OK)
        .count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        answers.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn an_aal1_session_cannot_change_the_account_of_a_user_with_totp() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    // The enabling session stays aal1.
    assert_eq!(claims(&enrolled.enabling.access)["aal"], "aal1");
    let response = app
        .request(
            reqwest::Method::POST,
            "/users/me/password",
            Some(&enrolled.enabling.access),
        )
        .json(&json!({"current_password": enrolled.user.password, "new_password": "another long passphrase"}))
        .send()
        .await
        .unwrap();
    let body = assert_error(response, StatusCode::FORBIDDEN, "mfa_required").await;
    assert_eq!(
        body["message"],
        "This action needs two-factor authentication."
    );
    for (method, path) in [
        (reqwest::Method::POST, "/users/me/email".to_owned()),
        (reqwest::Method::GET, "/users/me/sessions".to_owned()),
        (reqwest::Method::DELETE, "/users/me/mfa/totp".to_owned()),
        (
            reqwest::Method::POST,
            "/users/me/mfa/recovery-codes".to_owned(),
        ),
        (
            reqwest::Method::DELETE,
            format!("/users/{}", enrolled.user.id),
        ),
    ] {
        // A body that would be accepted, so only the token can refuse it.
        let body = json!({
            "new_email": "elsewhere@example.com",
            "current_password": enrolled.user.password,
        });
        let response = app
            .request(method.clone(), &path, Some(&enrolled.enabling.access))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::FORBIDDEN, "mfa_required").await;
    }
    // Reads are not changes.
    let me = app.get("/users/me", Some(&enrolled.enabling.access)).await;
    assert_eq!(me.status(), StatusCode::OK);

    // An aal2 session may.
    let answer = first_step(&app, &enrolled.user).await;
    let body = json_body(
        second_step(
            &app,
            json!({"mfa_token": mfa_token(&answer), "code": enrolled.next_code()}),
        )
        .await,
    )
    .await;
    let aal2 = tokens_of(&body);
    let sessions = app.get("/users/me/sessions", Some(&aal2.access)).await;
    assert_eq!(sessions.status(), StatusCode::OK);
}

/// A login finished with a recovery code: an aal2 session.
async fn aal2_tokens(app: &TestApp, enrolled: &Enrolled, code: usize) -> Tokens {
    let answer = first_step(app, &enrolled.user).await;
    let response = second_step(
        app,
        json!({"mfa_token": mfa_token(&answer), "recovery_code": enrolled.recovery_codes[code]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    tokens_of(&json_body(response).await)
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_ones_and_are_announced() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let aal2 = aal2_tokens(&app, &enrolled, 0).await;
    let response = app
        .post_with_token("/users/me/mfa/recovery-codes", Some(&aal2.access))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let fresh: Vec<String> = json_body(response).await["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert!(
        fresh
            .iter()
            .all(|code| !enrolled.recovery_codes.contains(code))
    );
    let replaced = emails(&app, "recovery_codes_replaced", &enrolled.user.email).await;
    assert_eq!(replaced.len(), 1);

    let answer = first_step(&app, &enrolled.user).await;
    let old = second_step(
        &app,
        json!({"mfa_token": mfa_token(&answer), "recovery_code": enrolled.recovery_codes[1]}),
    )
    .await;
    assert_error(old, StatusCode::BAD_REQUEST, INVALID).await;
    let new = second_step(
        &app,
        json!({"mfa_token": mfa_token(&answer), "recovery_code": fresh[0]}),
    )
    .await;
    assert_eq!(new.status(), StatusCode::OK);
}

#[tokio::test]
async fn disabling_ends_the_other_sessions_and_logins_take_one_step_again() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let aal2 = aal2_tokens(&app, &enrolled, 0).await;
    let other = aal2_tokens(&app, &enrolled, 1).await;

    let response = app.delete("/users/me/mfa/totp", Some(&aal2.access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_body(response).await["message"],
        "Two-factor authentication disabled."
    );
    let ended = app.get("/protected", Some(&other.access)).await;
    assert_eq!(ended.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        emails(&app, "mfa_disabled", &enrolled.user.email)
            .await
            .len(),
        1
    );
    let again = app.delete("/users/me/mfa/totp", Some(&aal2.access)).await;
    assert_error(again, StatusCode::CONFLICT, "mfa_not_enabled").await;

    let tokens = app.login_tokens(&enrolled.user).await;
    assert_eq!(claims(&tokens.access)["aal"], "aal1");
    let status = json_body(app.get("/users/me/mfa", Some(&tokens.access)).await).await;
    assert_eq!(status["totp"]["enabled"], false);
    assert_eq!(status["recovery_codes_remaining"], 0);
}

#[tokio::test]
async fn a_password_login_of_a_user_without_totp_says_aal1() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let access = claims(&tokens.access);
    assert_eq!(access["aal"], "aal1");
    assert_eq!(access["amr"], json!(["pwd"]));
    assert!(claims(&tokens.refresh).get("aal").is_none());
}

/// pyotp (`scripts/totp_with_pyotp.sh`) reads the enrolment's URI as an
/// authenticator app would: issuer, account, and a code we accept.
#[tokio::test]
async fn an_outside_totp_implementation_enrols_from_the_uri_alone() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let kit = enrol(&app, &tokens).await;
    let uri = kit["otpauth_uri"].as_str().unwrap().to_owned();
    let script =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/totp_with_pyotp.sh");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .arg(uri)
            .output()
    })
    .await
    .unwrap()
    .expect("run scripts/totp_with_pyotp.sh");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "pyotp failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[1..], ["auth-service", user.email.as_str()]);
    let response = verify(&app, &tokens, lines[0]).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_password_reset_leaves_totp_on() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let response = app
        .post_json("/password/forgot", &json!({"email": enrolled.user.email}))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let reset = emails(&app, "password_reset", &enrolled.user.email).await;
    let link = reset[0]["link"].as_str().unwrap();
    let token = link.split_once("#token=").unwrap().1;
    let response = app
        .post_json(
            "/password/reset",
            &json!({"token": token, "password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let response = app
        .login(&enrolled.user.email, "a brand new passphrase")
        .await;
    let answer = json_body(response).await;
    assert_eq!(answer["mfa_required"], true, "{answer}");
    assert!(answer.get("access_token").is_none());
}

#[tokio::test]
async fn wrong_codes_spend_the_account_budget_even_with_rate_limits_off() {
    // RATE_LIMITS is off in these tests: the budget lives beside the codes.
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    for _ in 0..2 {
        let answer = first_step(&app, &enrolled.user).await;
        for _ in 0..5 {
            let response = second_step(
                &app,
                json!({"mfa_token": mfa_token(&answer), "code": "000000"}),
            )
            .await;
            assert_error(response, StatusCode::BAD_REQUEST, INVALID).await;
        }
    }
    // Ten wrong codes: the right one is refused too, on a new mfa_token.
    let answer = first_step(&app, &enrolled.user).await;
    let response = second_step(
        &app,
        json!({"mfa_token": mfa_token(&answer), "code": enrolled.next_code()}),
    )
    .await;
    assert_error(response, StatusCode::BAD_REQUEST, INVALID).await;
    // A recovery code (82 bits, no budget) still signs the owner in.
    let response = second_step(
        &app,
        json!({"mfa_token": mfa_token(&answer), "recovery_code": enrolled.recovery_codes[0]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_second_steps_count_as_failed_logins() {
    let app = integration_tests::spawn_app_with(|settings| {
        settings.set("RATE_LIMITS", "on");
    })
    .await;
    let enrolled = enrolled(&app).await;
    let answer = first_step(&app, &enrolled.user).await;
    for _ in 0..5 {
        let response = second_step(
            &app,
            json!({"mfa_token": mfa_token(&answer), "recovery_code": "aaaa-bbbb-cccc-dddd"}),
        )
        .await;
        assert_error(response, StatusCode::BAD_REQUEST, INVALID).await;
    }
    // Five failures of this client on the account: the next password
    // check waits, as after five wrong passwords.
    let response = app
        .login(&enrolled.user.email, &enrolled.user.password)
        .await;
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn secrets_sealed_under_the_previous_key_still_open_after_a_rotation() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    // Another instance, on the same database, with a new key and the old
    // one as MFA_ENCRYPTION_KEY_PREVIOUS.
    let rotated = integration_tests::spawn_peer(&app, |settings| {
        settings
            .set(
                "MFA_ENCRYPTION_KEY",
                "cm90YXRlZC1tZmEta2V5LWZvci10aGUtdGVzdHMhISE=",
            )
            .set(
                "MFA_ENCRYPTION_KEY_PREVIOUS",
                test_support::MFA_ENCRYPTION_KEY,
            );
    })
    .await;
    let answer = first_step(&rotated, &enrolled.user).await;
    let response = second_step(
        &rotated,
        json!({"mfa_token": mfa_token(&answer), "code": enrolled.next_code()}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    // New enrolments there are sealed under the new key: an instance that
    // holds only the old one cannot open them.
    let user = rotated.register_user().await;
    let tokens = rotated.login_tokens(&user).await;
    let kit = enrol(&rotated, &tokens).await;
    let authenticator = App::from_base32(kit["secret"].as_str().unwrap());
    let response = verify(&app, &tokens, &authenticator.code_now().0).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let response = verify(&rotated, &tokens, &authenticator.code_now().0).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn enrolling_new_codes_and_disabling_need_a_fresh_token() {
    let app = spawn_app().await;
    // Enrolment: a refreshed (non-fresh) access token is refused.
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let stale = app.refreshed_access(&tokens.refresh).await;
    assert_eq!(claims(&stale)["fresh"], false);
    let response = app
        .post_with_token("/users/me/mfa/totp", Some(&stale))
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "fresh_token_required").await;

    // New recovery codes and disabling: an aal2 session, refreshed.
    let enrolled = enrolled(&app).await;
    let aal2 = aal2_tokens(&app, &enrolled, 0).await;
    let stale = app.refreshed_access(&aal2.refresh).await;
    assert_eq!(claims(&stale)["aal"], "aal2");
    assert_eq!(claims(&stale)["fresh"], false);
    let response = app
        .post_with_token("/users/me/mfa/recovery-codes", Some(&stale))
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "fresh_token_required").await;
    let response = app.delete("/users/me/mfa/totp", Some(&stale)).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "fresh_token_required").await;
    let status = json_body(app.get("/users/me/mfa", Some(&stale)).await).await;
    assert_eq!(status["totp"]["enabled"], true, "nothing changed");
    assert_eq!(status["recovery_codes_remaining"], 9);
}
