//! Sends rendered emails through Mailgun's HTTP API:
//! `POST {base}/v3/{domain}/messages`, basic auth `api:{key}`, form fields
//! `from`, `to`, `subject`, `text`, `html`. Failures are classified for
//! the retry logic: network errors, timeouts, 429 and 5xx are retryable
//! (with the `Retry-After` Mailgun asked for), any other 4xx is permanent.

use std::time::Duration;

use application::delivery::{MailError, Mailer, RenderedEmail};
use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};

/// Mailgun's US endpoint; the EU one is `https://api.eu.mailgun.net`.
pub const DEFAULT_BASE_URL: &str = "https://api.mailgun.net";

/// How much of an error response body goes into a failure reason.
const MAX_REASON_BODY: usize = 200;

#[derive(Debug, Clone)]
pub struct MailgunConfig {
    /// `https://api.mailgun.net`, `https://api.eu.mailgun.net` or a fake.
    pub base_url: String,
    pub domain: String,
    pub api_key: SecretString,
    /// The `from` field, e.g. `Auth Service <no-reply@example.com>`.
    pub from: String,
    pub connect_timeout: Duration,
    /// Bound on the whole request, response body included. Keep it well
    /// under the queue's visibility timeout, or a slow send could be taken
    /// over and sent twice.
    pub timeout: Duration,
}

impl MailgunConfig {
    pub fn new(domain: String, api_key: SecretString, from: String) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            domain,
            api_key,
            from,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailgunSetupError {
    #[error("could not build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// Why one send failed; the cause inside a [`MailError`].
#[derive(Debug, thiserror::Error)]
pub enum MailgunError {
    /// Mailgun answered, but not with success.
    #[error("mailgun answered {status}: {body}")]
    Status { status: u16, body: String },
    /// No answer: the request timed out, could not connect or broke off.
    /// reqwest keeps the API key in a header, so it is not in the message.
    #[error("mailgun {what}")]
    Transport {
        what: &'static str,
        #[source]
        cause: reqwest::Error,
    },
}

pub struct MailgunMailer {
    client: reqwest::Client,
    endpoint: String,
    api_key: SecretString,
    from: String,
}

impl MailgunMailer {
    pub fn new(config: MailgunConfig) -> Result<Self, MailgunSetupError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .build()
            .map_err(MailgunSetupError::Client)?;
        let endpoint = format!(
            "{}/v3/{}/messages",
            config.base_url.trim_end_matches('/'),
            config.domain
        );
        Ok(Self {
            client,
            endpoint,
            api_key: config.api_key,
            from: config.from,
        })
    }

    /// The URL messages are posted to (no secret in it).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

#[async_trait]
impl Mailer for MailgunMailer {
    #[tracing::instrument(
        level = "debug",
        skip_all,
        fields(job_id = %email.job_id, kind = %email.kind, to_domain = %email.recipient_domain())
    )]
    async fn send(&self, email: &RenderedEmail) -> Result<(), MailError> {
        let form = [
            ("from", self.from.as_str()),
            ("to", email.to.as_str()),
            ("subject", email.subject.as_str()),
            ("text", email.text.as_str()),
            ("html", email.html.as_str()),
        ];
        let response = self
            .client
            .post(&self.endpoint)
            .basic_auth("api", Some(self.api_key.expose_secret()))
            .form(&form)
            .send()
            .await
            .map_err(network_error)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = retry_after(response.headers());
        // The body explains the failure; a failure to read it changes nothing.
        let body = response.text().await.unwrap_or_default();
        let cause = Box::new(MailgunError::Status {
            status: status.as_u16(),
            body: excerpt(&body),
        });
        if is_retryable(status) {
            Err(MailError::Retryable { cause, retry_after })
        } else {
            Err(MailError::Permanent { cause })
        }
    }
}

fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
        // 1xx/3xx are not answers to a POST we expect; trying again is safer
        // than dropping the email.
        || !status.is_client_error()
}

/// Every transport failure is temporary from our side. The error's
/// display never contains the API key: reqwest keeps auth in a header.
fn network_error(error: reqwest::Error) -> MailError {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    MailError::Retryable {
        cause: Box::new(MailgunError::Transport {
            what,
            cause: error.without_url(),
        }),
        retry_after: None,
    }
}

/// `Retry-After` in seconds (the form Mailgun uses); an HTTP date or
/// garbage is ignored and the normal backoff applies.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

fn excerpt(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(MAX_REASON_BODY) {
        Some((cut, _)) => format!("{}...", &body[..cut]),
        None => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(is_retryable(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(is_retryable(StatusCode::BAD_GATEWAY));
        assert!(is_retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(!is_retryable(StatusCode::BAD_REQUEST));
        assert!(!is_retryable(StatusCode::UNAUTHORIZED));
        assert!(!is_retryable(StatusCode::NOT_FOUND));
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "é".repeat(500);
        let cut = excerpt(&body);
        assert_eq!(cut.chars().count(), MAX_REASON_BODY + 3);
    }
}
