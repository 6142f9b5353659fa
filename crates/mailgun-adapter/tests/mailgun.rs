#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Mailgun stood in for by wiremock: the request we send and how each kind
//! of answer is classified.

use std::collections::HashMap;
use std::time::Duration;

use application::ErrorChain;
use application::delivery::{MailError, Mailer, RenderedEmail};
use mailgun_adapter::{MailgunConfig, MailgunMailer};
use secrecy::SecretString;
use uuid::Uuid;
use wiremock::matchers::{basic_auth, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "key-0123456789abcdef";

fn mailer(server: &MockServer, timeout: Duration) -> MailgunMailer {
    let mut config = MailgunConfig::new(
        "mg.example.io".into(),
        SecretString::from(KEY),
        "Auth Service <no-reply@example.io>".into(),
    );
    config.base_url = format!("{}/", server.uri());
    config.timeout = timeout;
    MailgunMailer::new(config).unwrap()
}

fn email() -> RenderedEmail {
    RenderedEmail {
        job_id: Uuid::new_v4(),
        created_at: chrono::Utc::now(),
        kind: "welcome".into(),
        to: "ada@example.io".into(),
        subject: "Successfully signed up".into(),
        text: "Welcome, ada & co!".into(),
        html: "<p>Welcome, ada &amp; co!</p>".into(),
    }
}

async fn answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mg.example.io/messages"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn posts_the_form_with_basic_auth_to_the_domain_endpoint() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mg.example.io/messages"))
        .and(basic_auth("api", KEY))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"id":"<x@mg>","message":"Queued. Thank you."}"#),
        )
        .expect(1)
        .mount(&server)
        .await;

    mailer(&server, Duration::from_secs(5))
        .send(&email())
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    let content_type = request
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(content_type, "application/x-www-form-urlencoded");
    let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect();
    let expected: HashMap<String, String> = [
        ("from", "Auth Service <no-reply@example.io>"),
        ("to", "ada@example.io"),
        ("subject", "Successfully signed up"),
        ("text", "Welcome, ada & co!"),
        ("html", "<p>Welcome, ada &amp; co!</p>"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(form, expected);
}

#[tokio::test]
async fn a_500_is_retryable() {
    let server = answering(ResponseTemplate::new(500).set_body_string("oops")).await;
    let error = mailer(&server, Duration::from_secs(5))
        .send(&email())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            MailError::Retryable {
                retry_after: None,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        ErrorChain(&error).to_string(),
        "temporary failure: mailgun answered 500: oops"
    );
}

#[tokio::test]
async fn a_429_is_retryable_after_what_mailgun_asks() {
    let server = answering(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "17")
            .set_body_string("slow down"),
    )
    .await;
    let error = mailer(&server, Duration::from_secs(5))
        .send(&email())
        .await
        .unwrap_err();
    assert!(
        matches!(error, MailError::Retryable { retry_after: Some(after), .. } if after == Duration::from_secs(17)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_400_is_permanent() {
    let server = answering(
        ResponseTemplate::new(400)
            .set_body_string(r#"{"message":"'to' parameter is not a valid address"}"#),
    )
    .await;
    let error = mailer(&server, Duration::from_secs(5))
        .send(&email())
        .await
        .unwrap_err();
    assert!(matches!(error, MailError::Permanent { .. }), "{error:?}");
    let reason = ErrorChain(&error).to_string();
    assert!(
        reason.starts_with("permanent failure: mailgun answered 400"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_401_is_permanent_and_does_not_echo_the_key() {
    let server = answering(ResponseTemplate::new(401).set_body_string("Forbidden")).await;
    let error = mailer(&server, Duration::from_secs(5))
        .send(&email())
        .await
        .unwrap_err();
    assert!(matches!(error, MailError::Permanent { .. }));
    assert!(!format!("{error:?}").contains(KEY));
}

#[tokio::test]
async fn a_slow_answer_times_out_as_retryable() {
    let server = answering(ResponseTemplate::new(200).set_delay(Duration::from_secs(3))).await;
    let error = mailer(&server, Duration::from_millis(200))
        .send(&email())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            MailError::Retryable {
                retry_after: None,
                ..
            }
        ),
        "{error:?}"
    );
    let reason = ErrorChain(&error).to_string();
    assert!(reason.contains("mailgun timed out"), "{reason}");
    assert!(!reason.contains(KEY), "{reason}");
}

#[tokio::test]
async fn nobody_listening_is_retryable() {
    // Bind then drop a listener so the port is (almost certainly) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = MailgunConfig::new(
        "mg.example.io".into(),
        SecretString::from(KEY),
        "x <x@example.io>".into(),
    );
    config.base_url = format!("http://127.0.0.1:{port}");
    let error = MailgunMailer::new(config)
        .unwrap()
        .send(&email())
        .await
        .unwrap_err();
    assert!(matches!(error, MailError::Retryable { .. }), "{error:?}");
}
