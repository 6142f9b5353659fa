//! A fake Mailgun on loopback (wiremock) for the end-to-end tests: it
//! answers `POST /v3/{DOMAIN}/messages` the way a test scripts it (fail the
//! next requests with 500, reject a recipient with 400, answer slowly) and
//! records every request it answered, with its form fields.
//!
//! A request counts as delivered once the fake has decided to answer 200,
//! which happens as soon as the whole request has arrived: a worker killed
//! while waiting for the (delayed) answer has still sent that email, which
//! is exactly Mailgun's crash-after-send window.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The sending domain the workers are configured with.
pub const MAILGUN_DOMAIN: &str = "mg.e2e.test";
/// The API key the workers are configured with.
pub const MAILGUN_API_KEY: &str = "key-e2e-0123456789abcdef";

/// The `Authorization` header Mailgun expects: basic auth `api:KEY`.
pub fn expected_authorization() -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("api:{MAILGUN_API_KEY}"))
    )
}

/// One request the fake answered.
#[derive(Debug, Clone)]
pub struct Received {
    /// When the whole request had arrived.
    pub at: Instant,
    /// What the fake answered (200, 500, 400).
    pub status: u16,
    pub authorization: Option<String>,
    /// The form fields, the last value winning for a repeated name.
    pub fields: BTreeMap<String, String>,
}

impl Received {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// The `to` field, empty when missing.
    pub fn to(&self) -> &str {
        self.field("to").unwrap_or_default()
    }

    /// The `from` field, empty when missing.
    pub fn from(&self) -> &str {
        self.field("from").unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct Script {
    /// Requests still to be failed with 500, whoever they are for.
    fail_next: usize,
    /// Recipients answered 400 (a permanent failure) while listed.
    rejected: HashSet<String>,
    /// How long each answer takes.
    delay: Duration,
    received: Vec<Received>,
}

#[derive(Clone)]
struct Responder(Arc<Mutex<Script>>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let fields: BTreeMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let authorization = request
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let mut script = lock(&self.0);
        let to = fields.get("to").cloned().unwrap_or_default();
        let (status, body) = if script.fail_next > 0 {
            script.fail_next -= 1;
            (
                500,
                serde_json::json!({"message": "Internal error (scripted)"}),
            )
        } else if script.rejected.contains(&to) {
            (
                400,
                serde_json::json!({"message": "'to' parameter is not a valid address (scripted)"}),
            )
        } else {
            let id = format!("<{}@{MAILGUN_DOMAIN}>", uuid::Uuid::new_v4().simple());
            (
                200,
                serde_json::json!({"id": id, "message": "Queued. Thank you."}),
            )
        };
        script.received.push(Received {
            at: Instant::now(),
            status,
            authorization,
            fields,
        });
        let mut template = ResponseTemplate::new(status).set_body_json(body);
        if !script.delay.is_zero() {
            template = template.set_delay(script.delay);
        }
        template
    }
}

fn lock(script: &Mutex<Script>) -> MutexGuard<'_, Script> {
    // A panicking test thread must not hide what the fake recorded.
    script
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What arrived for a list of expected recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTally {
    /// Recipients that should get exactly one email.
    pub expected: usize,
    /// 200 answers, duplicates included.
    pub received: usize,
    /// Expected recipients with at least one 200 answer.
    pub distinct: usize,
    /// 200 answers beyond the first, per expected recipient, summed.
    pub duplicates: usize,
    /// Expected recipients with no 200 answer.
    pub lost: Vec<String>,
    /// 200 answers for recipients nobody expected.
    pub unexpected: Vec<String>,
}

pub struct FakeMailgun {
    server: MockServer,
    script: Arc<Mutex<Script>>,
}

impl FakeMailgun {
    /// A fake that answers 200 at once until told otherwise.
    pub async fn start() -> Self {
        // A server of its own (not wiremock's shared pool): its recordings
        // and script belong to one test.
        let server = MockServer::builder().start().await;
        let script = Arc::new(Mutex::new(Script::default()));
        Mock::given(method("POST"))
            .and(path(format!("/v3/{MAILGUN_DOMAIN}/messages")))
            .respond_with(Responder(script.clone()))
            .mount(&server)
            .await;
        Self { server, script }
    }

    /// What `MAILGUN_BASE_URL` must be set to.
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    /// Answers the next `count` requests with 500.
    pub fn fail_next(&self, count: usize) {
        lock(&self.script).fail_next = count;
    }

    /// Answers 400 to every request for `to` until [`Self::accept`].
    pub fn reject(&self, to: &str) {
        lock(&self.script).rejected.insert(to.to_owned());
    }

    pub fn accept(&self, to: &str) {
        lock(&self.script).rejected.remove(to);
    }

    /// Every answer takes this long from now on.
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.script).delay = delay;
    }

    /// Every request answered so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.script).received.clone()
    }

    /// The requests answered 200, oldest first.
    pub fn delivered(&self) -> Vec<Received> {
        lock(&self.script)
            .received
            .iter()
            .filter(|request| request.status == 200)
            .cloned()
            .collect()
    }

    /// How many requests were answered so far.
    pub fn request_count(&self) -> usize {
        lock(&self.script).received.len()
    }

    /// Requests whose `from` is `from` that arrived within `window` before
    /// now: with answers delayed by `window`, those are still waiting for
    /// their answer (in flight at the sender).
    pub fn in_flight_from(&self, from: &str, window: Duration) -> usize {
        let now = Instant::now();
        lock(&self.script)
            .received
            .iter()
            .filter(|request| request.from() == from && now.duration_since(request.at) < window)
            .count()
    }

    /// How many requests came from `from`.
    pub fn count_from(&self, from: &str) -> usize {
        lock(&self.script)
            .received
            .iter()
            .filter(|request| request.from() == from)
            .count()
    }

    /// Counts the 200 answers against the recipients that should have one.
    pub fn tally(&self, expected: &[String]) -> DeliveryTally {
        let mut counts: HashMap<String, usize> = HashMap::new();
        let delivered = self.delivered();
        for request in &delivered {
            *counts.entry(request.to().to_owned()).or_default() += 1;
        }
        let wanted: HashSet<&str> = expected.iter().map(String::as_str).collect();
        let lost = expected
            .iter()
            .filter(|to| !counts.contains_key(to.as_str()))
            .cloned()
            .collect();
        let mut unexpected: Vec<String> = counts
            .keys()
            .filter(|to| !wanted.contains(to.as_str()))
            .cloned()
            .collect();
        unexpected.sort();
        let distinct = expected
            .iter()
            .filter(|to| counts.contains_key(to.as_str()))
            .count();
        let duplicates = wanted
            .iter()
            .map(|to| counts.get(*to).copied().unwrap_or(0).saturating_sub(1))
            .sum();
        DeliveryTally {
            expected: expected.len(),
            received: delivered.len(),
            distinct,
            duplicates,
            lost,
            unexpected,
        }
    }

    /// Polls until every expected recipient has had a 200 answer or
    /// `limit` passes; returns the tally then.
    pub async fn wait_for_recipients(&self, expected: &[String], limit: Duration) -> DeliveryTally {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let tally = self.tally(expected);
            if tally.lost.is_empty() || tokio::time::Instant::now() >= deadline {
                return tally;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
