use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use mockall::predicate::eq;
use uuid::Uuid;

use super::*;
use crate::ports::{Clock, MockClock};
use crate::{Email, EmailJob};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap()
}

fn job() -> EmailJob {
    EmailJob::new(
        Email::Welcome {
            to: "ada@example.io".into(),
            verification_link: String::new(),
            code: String::new(),
        },
        now(),
    )
}

fn rendered(job: &EmailJob) -> RenderedEmail {
    RenderedEmail {
        job_id: job.id,
        created_at: job.created_at,
        kind: "welcome".into(),
        to: "ada@example.io".into(),
        subject: "Successfully signed up".into(),
        text: "hello ada".into(),
        html: "<p>hello ada</p>".into(),
    }
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_secs(10),
        max_delay: Duration::from_secs(60),
        max_retry_after: Duration::from_secs(600),
    }
}

fn failures(n: u32) -> Vec<FailedAttempt> {
    (1..=n)
        .map(|attempt| FailedAttempt {
            attempt,
            at: now(),
            error: format!("boom {attempt}"),
        })
        .collect()
}

fn renderer_ok() -> MockEmailRenderer {
    let mut renderer = MockEmailRenderer::new();
    renderer.expect_render().returning(|job| Ok(rendered(job)));
    renderer
}

fn clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    clock
}

/// Jitter that always picks the ceiling, so delays are predictable.
fn no_jitter() -> Jitter {
    Arc::new(|ceiling| ceiling)
}

fn use_case(queue: MockDeliveryQueue, mailer: MockMailer) -> EmailDelivery {
    EmailDelivery::new(
        Arc::new(queue),
        Arc::new(renderer_ok()),
        Arc::new(mailer),
        Arc::new(clock()),
        no_jitter(),
        policy(),
    )
}

fn not_delivered_yet(queue: &mut MockDeliveryQueue) {
    queue.expect_claim().returning(|_, _| Ok(Claim::Acquired));
}

fn retryable(retry_after: Option<Duration>) -> MailError {
    MailError::Retryable {
        cause: "mailgun answered 503".into(),
        retry_after,
    }
}

const RETRYABLE_TEXT: &str = "temporary failure: mailgun answered 503";

#[tokio::test]
async fn a_successful_send_is_recorded_and_acked() {
    let job = job();
    let mut queue = MockDeliveryQueue::new();
    not_delivered_yet(&mut queue);
    queue
        .expect_complete()
        .with(eq("1-0"), eq(job.id))
        .times(1)
        .returning(|_, _| Ok(()));
    let mut mailer = MockMailer::new();
    let expected = rendered(&job);
    mailer
        .expect_send()
        .withf(move |email| *email == expected)
        .times(1)
        .returning(|_| Ok(()));

    let outcome = use_case(queue, mailer)
        .handle(Delivery::new("1-0", job.to_json()))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Sent);
}

#[tokio::test]
async fn a_retryable_failure_is_scheduled_with_backoff_then_succeeds() {
    let job = job();
    let payload = job.to_json();
    let scheduled: Arc<Mutex<Option<Retry>>> = Arc::default();

    // First delivery: Mailgun answers 503.
    let mut queue = MockDeliveryQueue::new();
    not_delivered_yet(&mut queue);
    let seen = scheduled.clone();
    queue
        .expect_schedule_retry()
        .withf(|receipt, _| receipt == "1-0")
        .times(1)
        .returning(move |_, retry| {
            *seen.lock().unwrap() = Some(retry);
            Ok(())
        });
    let mut mailer = MockMailer::new();
    mailer
        .expect_send()
        .times(1)
        .returning(|_| Err(retryable(None)));
    let outcome = use_case(queue, mailer)
        .handle(Delivery::new("1-0", payload.clone()))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::RetryScheduled {
            delay: Duration::from_secs(10),
            error: RETRYABLE_TEXT.into()
        }
    );
    let retry = scheduled.lock().unwrap().take().unwrap();
    assert_eq!(retry.job_id, job.id);
    assert_eq!(retry.payload, payload);
    assert_eq!(retry.due_at, now() + chrono::Duration::seconds(10));
    assert_eq!(
        retry.history,
        vec![FailedAttempt {
            attempt: 1,
            at: now(),
            error: RETRYABLE_TEXT.into()
        }]
    );

    // Second delivery, carrying that history: it goes through.
    let mut queue = MockDeliveryQueue::new();
    not_delivered_yet(&mut queue);
    queue
        .expect_complete()
        .with(eq("2-0"), eq(job.id))
        .times(1)
        .returning(|_, _| Ok(()));
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(1).returning(|_| Ok(()));
    let redelivered = Delivery {
        receipt: "2-0".into(),
        payload: retry.payload,
        history: retry.history,
        handed_out: 1,
    };
    let outcome = use_case(queue, mailer).handle(redelivered).await.unwrap();
    assert_eq!(outcome, Outcome::Sent);
}

#[tokio::test]
async fn retry_after_is_honoured_when_longer_than_the_backoff() {
    let job = job();
    let mut queue = MockDeliveryQueue::new();
    not_delivered_yet(&mut queue);
    queue
        .expect_schedule_retry()
        .withf(|_, retry| retry.due_at == now() + chrono::Duration::seconds(120))
        .times(1)
        .returning(|_, _| Ok(()));
    let mut mailer = MockMailer::new();
    mailer
        .expect_send()
        .returning(|_| Err(retryable(Some(Duration::from_secs(120)))));
    let outcome = use_case(queue, mailer)
        .handle(Delivery::new("1-0", job.to_json()))
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::RetryScheduled { delay, .. } if delay == Duration::from_secs(120))
    );
}

#[tokio::test]
async fn a_short_retry_after_does_not_shorten_the_backoff() {
    let job = job();
    let mut queue = MockDeliveryQueue::new();
    not_delivered_yet(&mut queue);
    queue
        .expect_schedule_retry()
        .withf(|_, retry| retry.due_at == now() + chrono::Duration::seconds(20))
        .times(1)
        .returning(|_, _| Ok(()));
    let mut mailer = MockMailer::new();
    mailer
        .expect_send()
        .returning(|_| Err(retryable(Some(Duration::from_secs(1)))));
    let delivery = Delivery {
        receipt: "1-0".into(),
        payload: job.to_json(),
        history: failures(1),
        handed_out: 1,
    };
    let outcome = use_case(queue, mailer).handle(delivery).await.unwrap();
    assert!(
        matches!(outcome, Outcome::RetryScheduled { delay, .. } if delay == Duration::from_secs(20))
    );
}

#[tokio::test]
async fn a_permanent_failure_is_dead_lettered_at_once() {
    let job = job();
    let payload = job.to_json();
    let mut queue = MockDeliveryQueue::new();
    not_delivered_yet(&mut queue);
    let expected_id = job.id.to_string();
    let expected_payload = payload.clone();
    queue
        .expect_dead_letter()
        .withf(move |receipt, letter| {
            receipt == "1-0"
                && letter.id == expected_id
                && letter.kind.as_deref() == Some("welcome")
                && letter.payload == expected_payload
                && letter.reason == "permanent failure: mailgun answered 400: bad address"
                && letter.history.len() == 1
                && letter.history[0].attempt == 1
                && letter.dead_at == now()
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(1).returning(|_| {
        Err(MailError::Permanent {
            cause: "mailgun answered 400: bad address".into(),
        })
    });
    let outcome = use_case(queue, mailer)
        .handle(Delivery::new("1-0", payload))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::DeadLettered { .. }));
}

#[tokio::test]
async fn the_last_allowed_attempt_failing_dead_letters_with_every_error() {
    let job = job();
    let mut queue = MockDeliveryQueue::new();
    not_delivered_yet(&mut queue);
    queue
        .expect_dead_letter()
        .withf(|_, letter| {
            let attempts: Vec<u32> = letter.history.iter().map(|a| a.attempt).collect();
            attempts == [1, 2, 3]
                && letter.history[0].error == "boom 1"
                && letter.history[2].error == RETRYABLE_TEXT
                && letter.reason.starts_with("gave up after 3 attempts")
        })
        .times(1)
        .returning(|_, _| Ok(()));
    queue.expect_schedule_retry().never();
    let mut mailer = MockMailer::new();
    mailer
        .expect_send()
        .times(1)
        .returning(|_| Err(retryable(None)));
    let delivery = Delivery {
        receipt: "9-0".into(),
        payload: job.to_json(),
        history: failures(2),
        handed_out: 1,
    };
    let outcome = use_case(queue, mailer).handle(delivery).await.unwrap();
    assert!(matches!(outcome, Outcome::DeadLettered { .. }));
}

#[tokio::test]
async fn an_already_delivered_job_is_acked_without_sending() {
    let job = job();
    let mut queue = MockDeliveryQueue::new();
    queue
        .expect_claim()
        .with(eq(job.id), eq("1-0"))
        .returning(|_, _| Ok(Claim::AlreadyDelivered));
    queue
        .expect_ack()
        .with(eq("1-0"))
        .times(1)
        .returning(|_| Ok(()));
    queue.expect_complete().never();
    let mut mailer = MockMailer::new();
    mailer.expect_send().never();
    let outcome = use_case(queue, mailer)
        .handle(Delivery::new("1-0", job.to_json()))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Duplicate);
}

#[tokio::test]
async fn an_invalid_payload_is_dead_lettered_with_its_raw_text() {
    let mut queue = MockDeliveryQueue::new();
    queue.expect_claim().never();
    queue
        .expect_dead_letter()
        .withf(|receipt, letter| {
            receipt == "5-0"
                && letter.id == "invalid:5-0"
                && letter.kind.is_none()
                && letter.payload == "{not json"
                && letter.reason.starts_with("invalid job payload")
                && letter.history.len() == 1
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let mut mailer = MockMailer::new();
    mailer.expect_send().never();
    let outcome = use_case(queue, mailer)
        .handle(Delivery::new("5-0", "{not json"))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::DeadLettered { .. }));
}

#[tokio::test]
async fn a_render_failure_is_dead_lettered() {
    let job = job();
    let mut queue = MockDeliveryQueue::new();
    not_delivered_yet(&mut queue);
    queue
        .expect_dead_letter()
        .withf(|_, letter| letter.reason == "could not render the welcome email: no template")
        .times(1)
        .returning(|_, _| Ok(()));
    let mut renderer = MockEmailRenderer::new();
    renderer.expect_render().returning(|_| {
        Err(RenderError {
            kind: "welcome".into(),
            cause: "no template".into(),
        })
    });
    let mut mailer = MockMailer::new();
    mailer.expect_send().never();
    let use_case = EmailDelivery::new(
        Arc::new(queue),
        Arc::new(renderer),
        Arc::new(mailer),
        Arc::new(clock()),
        no_jitter(),
        policy(),
    );
    let outcome = use_case
        .handle(Delivery::new("1-0", job.to_json()))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::DeadLettered { .. }));
}

#[tokio::test]
async fn a_queue_outage_before_sending_leaves_the_job_pending_unsent() {
    let job = job();
    let mut queue = MockDeliveryQueue::new();
    queue
        .expect_claim()
        .returning(|_, _| Err(DeliveryQueueError::Unavailable("timeout".into())));
    let mut mailer = MockMailer::new();
    mailer.expect_send().never();
    let result = use_case(queue, mailer)
        .handle(Delivery::new("1-0", job.to_json()))
        .await;
    assert!(matches!(result, Err(DeliveryQueueError::Unavailable(_))));
}

#[test]
fn rendered_email_debug_hides_address_and_bodies() {
    let email = rendered(&EmailJob {
        id: Uuid::nil(),
        ..job()
    });
    let debug = format!("{email:?}");
    assert!(debug.contains("example.io"));
    assert!(!debug.contains("ada@"));
    assert!(!debug.contains("hello"));
}

#[tokio::test]
async fn an_entry_handed_out_more_than_max_attempts_times_is_dead_lettered_unsent() {
    // Three hand-outs ended without an outcome (say handling panicked):
    // the fourth is dead-lettered instead of being tried forever.
    let job = job();
    let mut queue = MockDeliveryQueue::new();
    queue.expect_claim().never();
    let expected_id = job.id.to_string();
    queue
        .expect_dead_letter()
        .withf(move |receipt, letter| {
            receipt == "1-0"
                && letter.id == expected_id
                && letter
                    .reason
                    .starts_with("handed out 4 times without an outcome")
                && letter.history.len() == 1
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let mut mailer = MockMailer::new();
    mailer.expect_send().never();
    let delivery = Delivery {
        handed_out: 4,
        ..Delivery::new("1-0", job.to_json())
    };
    let outcome = use_case(queue, mailer).handle(delivery).await.unwrap();
    assert!(
        matches!(outcome, Outcome::DeadLettered { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn an_entry_handed_out_max_attempts_times_is_still_tried() {
    let job = job();
    let mut queue = MockDeliveryQueue::new();
    not_delivered_yet(&mut queue);
    queue.expect_complete().times(1).returning(|_, _| Ok(()));
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(1).returning(|_| Ok(()));
    let delivery = Delivery {
        handed_out: 3,
        ..Delivery::new("1-0", job.to_json())
    };
    let outcome = use_case(queue, mailer).handle(delivery).await.unwrap();
    assert_eq!(outcome, Outcome::Sent);
}

#[tokio::test]
async fn a_job_claimed_by_another_delivery_is_left_pending_unsent() {
    let job = job();
    let mut queue = MockDeliveryQueue::new();
    queue
        .expect_claim()
        .with(eq(job.id), eq("2-0"))
        .times(1)
        .returning(|_, _| Ok(Claim::HeldElsewhere));
    queue.expect_ack().never();
    queue.expect_complete().never();
    let mut mailer = MockMailer::new();
    mailer.expect_send().never();
    let outcome = use_case(queue, mailer)
        .handle(Delivery::new("2-0", job.to_json()))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::ClaimedElsewhere);
}

#[tokio::test]
async fn extreme_backoff_settings_schedule_a_far_retry_instead_of_panicking() {
    // EMAIL_BACKOFF_BASE_MS=18446744073709551615 used to overflow the due time.
    let job = job();
    let mut queue = MockDeliveryQueue::new();
    not_delivered_yet(&mut queue);
    queue
        .expect_schedule_retry()
        .withf(|_, retry| retry.due_at == DateTime::<Utc>::MAX_UTC)
        .times(1)
        .returning(|_, _| Ok(()));
    let mut mailer = MockMailer::new();
    mailer.expect_send().returning(|_| Err(retryable(None)));
    let use_case = EmailDelivery::new(
        Arc::new(queue),
        Arc::new(renderer_ok()),
        Arc::new(mailer),
        Arc::new(clock()),
        uniform_jitter_with(|| 0.999),
        RetryPolicy {
            max_attempts: u32::MAX,
            base_delay: Duration::from_millis(u64::MAX),
            max_delay: Duration::from_secs(u64::MAX),
            max_retry_after: Duration::MAX,
        },
    );
    let outcome = use_case
        .handle(Delivery::new("1-0", job.to_json()))
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::RetryScheduled { .. }),
        "{outcome:?}"
    );
}

/// A clock the test moves by hand.
struct ManualClock(Mutex<DateTime<Utc>>);

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Mailgun down until `until`, by the manual clock.
struct OutageMailer {
    clock: Arc<ManualClock>,
    until: DateTime<Utc>,
}

#[async_trait::async_trait]
impl Mailer for OutageMailer {
    async fn send(&self, _email: &RenderedEmail) -> Result<(), MailError> {
        if self.clock.now() < self.until {
            Err(retryable(None))
        } else {
            Ok(())
        }
    }
}

/// Runs one job through the default policy while Mailgun is down for
/// `outage` from the first attempt on, every wait at its shortest (the
/// jitter always draws 0), moving the clock to each retry's due time.
async fn through_an_outage(outage: chrono::Duration) -> (Outcome, usize) {
    let clock = Arc::new(ManualClock(Mutex::new(now())));
    let retries: Arc<Mutex<Vec<Retry>>> = Arc::default();
    let mut queue = MockDeliveryQueue::new();
    not_delivered_yet(&mut queue);
    queue.expect_complete().returning(|_, _| Ok(()));
    queue.expect_dead_letter().returning(|_, _| Ok(()));
    let seen = retries.clone();
    queue.expect_schedule_retry().returning(move |_, retry| {
        seen.lock().unwrap().push(retry);
        Ok(())
    });
    let use_case = EmailDelivery::new(
        Arc::new(queue),
        Arc::new(renderer_ok()),
        Arc::new(OutageMailer {
            clock: clock.clone(),
            until: now() + outage,
        }),
        clock.clone(),
        Arc::new(|_| Duration::ZERO),
        RetryPolicy::default(),
    );
    let mut delivery = Delivery::new("0-0", job().to_json());
    for entry in 1..=100 {
        let outcome = use_case.handle(delivery).await.unwrap();
        let Outcome::RetryScheduled { .. } = outcome else {
            return (outcome, retries.lock().unwrap().len());
        };
        let retry = retries.lock().unwrap().last().cloned().unwrap();
        *clock.0.lock().unwrap() = retry.due_at;
        delivery = Delivery {
            receipt: format!("{entry}-0"),
            payload: retry.payload,
            history: retry.history,
            handed_out: 1,
        };
    }
    panic!("still retrying after 100 attempts");
}

#[tokio::test]
async fn the_default_policy_rides_out_a_60_minute_outage_with_nothing_dead_lettered() {
    let (outcome, retries) = through_an_outage(chrono::Duration::minutes(60)).await;
    assert_eq!(outcome, Outcome::Sent);
    assert_eq!(retries, 15, "sent on the 16th and last attempt");
}

#[tokio::test]
async fn an_outage_longer_than_the_budget_dead_letters_the_job() {
    // 3787.5 s of shortest waits: a 64-minute outage outlasts them.
    let (outcome, _) = through_an_outage(chrono::Duration::minutes(64)).await;
    assert!(
        matches!(outcome, Outcome::DeadLettered { .. }),
        "{outcome:?}"
    );
}
