//! Tests of the outbox relay: moving, releasing and dropping jobs.

use chrono::{DateTime, Utc};
use mockall::predicate::eq;

use super::*;
use crate::ports::{MockEmailOutbox, MockEmailQueue, MockRateLimiter, OutboxError, QueueError};
use crate::{Email, EmailJob};

fn job(n: u8) -> EmailJob {
    EmailJob::new(
        Email::Welcome {
            to: format!("user{n}@example.io"),
            verification_link: String::new(),
            code: String::new(),
        },
        DateTime::<Utc>::UNIX_EPOCH,
    )
}

fn relay(outbox: MockEmailOutbox, queue: MockEmailQueue) -> OutboxRelay {
    OutboxRelay::new(Arc::new(outbox), Arc::new(queue), RelaySettings::default())
}

#[tokio::test]
async fn moves_jobs_then_removes_them() {
    let jobs = vec![job(1), job(2)];
    let ids = jobs.iter().map(|j| j.id).collect::<Vec<_>>();
    let mut outbox = MockEmailOutbox::new();
    let leased = jobs.clone();
    outbox
        .expect_lease()
        .times(1)
        .returning(move |_, _| Ok(leased.clone()));
    outbox
        .expect_remove()
        .with(eq(ids))
        .times(1)
        .returning(|_| Ok(()));
    let mut queue = MockEmailQueue::new();
    queue
        .expect_push()
        .with(eq(jobs))
        .times(1)
        .returning(|_| Ok(()));
    assert_eq!(relay(outbox, queue).relay_once().await.unwrap(), 2);
}

#[tokio::test]
async fn releases_jobs_at_once_when_the_queue_is_down() {
    let leased = job(1);
    let id = leased.id;
    let mut outbox = MockEmailOutbox::new();
    outbox
        .expect_lease()
        .returning(move |_, _| Ok(vec![leased.clone()]));
    outbox.expect_remove().never();
    // Released rather than left to its lease, so the next round
    // retries it as soon as the queue is back.
    outbox
        .expect_release()
        .with(eq(vec![id]))
        .times(1)
        .returning(|_| Ok(()));
    let mut queue = MockEmailQueue::new();
    queue
        .expect_push()
        .returning(|_| Err(QueueError::Unavailable("connection refused".into())));
    let error = relay(outbox, queue).relay_once().await.unwrap_err();
    assert!(matches!(
        error,
        RelayError::Queue(QueueError::Unavailable(_))
    ));
}

#[tokio::test]
async fn jobs_too_few_replicas_acknowledged_stay_in_the_outbox() {
    let leased = job(1);
    let id = leased.id;
    let mut outbox = MockEmailOutbox::new();
    outbox
        .expect_lease()
        .returning(move |_, _| Ok(vec![leased.clone()]));
    // A failover could still lose the job: its row is kept for the next
    // round, never deleted.
    outbox.expect_remove().never();
    outbox
        .expect_release()
        .with(eq(vec![id]))
        .times(1)
        .returning(|_| Ok(()));
    let mut queue = MockEmailQueue::new();
    queue.expect_push().returning(|_| {
        Err(QueueError::NotReplicated {
            acknowledged: 0,
            wanted: 1,
        })
    });
    let error = relay(outbox, queue).relay_once().await.unwrap_err();
    assert!(matches!(
        error,
        RelayError::Queue(QueueError::NotReplicated {
            acknowledged: 0,
            wanted: 1
        })
    ));
}

#[tokio::test]
async fn an_empty_outbox_touches_nothing() {
    let mut outbox = MockEmailOutbox::new();
    outbox.expect_lease().returning(|_, _| Ok(vec![]));
    outbox.expect_remove().never();
    let mut queue = MockEmailQueue::new();
    queue.expect_push().never();
    assert_eq!(relay(outbox, queue).relay_once().await.unwrap(), 0);
}

#[tokio::test]
async fn reports_an_outbox_outage() {
    let mut outbox = MockEmailOutbox::new();
    outbox
        .expect_lease()
        .returning(|_, _| Err(OutboxError::Unavailable("timeout".into())));
    let mut queue = MockEmailQueue::new();
    queue.expect_push().never();
    let error = relay(outbox, queue).relay_once().await.unwrap_err();
    assert!(matches!(
        error,
        RelayError::Outbox(OutboxError::Unavailable(_))
    ));
}

const TEN_PER_HOUR: RateLimit = RateLimit::per_secs(10, 3600);

/// A limiter that refuses the jobs in `over` and admits the rest.
fn recipient_limiter(over: Vec<String>) -> MockRateLimiter {
    let mut limiter = MockRateLimiter::new();
    limiter
        .expect_admit()
        .returning(move |rule, _, item, limit| {
            assert_eq!(rule, Rule::EmailsPerRecipient);
            assert_eq!(limit, TEN_PER_HOUR);
            Ok(if over.iter().any(|id| id == item) {
                RateDecision::Limited {
                    retry_after: std::time::Duration::from_secs(60),
                }
            } else {
                RateDecision::Allowed {
                    remaining: 1,
                    reset: std::time::Duration::from_secs(60),
                }
            })
        });
    limiter
}

#[tokio::test]
async fn drops_jobs_over_their_recipients_limit_without_queueing_them() {
    let jobs = vec![job(1), job(2), job(3)];
    let ids = jobs.iter().map(|j| j.id).collect::<Vec<_>>();
    let kept = vec![jobs[0].clone(), jobs[2].clone()];
    let mut outbox = MockEmailOutbox::new();
    let leased = jobs.clone();
    outbox
        .expect_lease()
        .returning(move |_, _| Ok(leased.clone()));
    // Dropped or queued, every job leaves the outbox.
    outbox
        .expect_remove()
        .with(eq(ids))
        .times(1)
        .returning(|_| Ok(()));
    let mut queue = MockEmailQueue::new();
    queue
        .expect_push()
        .with(eq(kept))
        .times(1)
        .returning(|_| Ok(()));
    let relay = relay(outbox, queue).with_recipient_limit(
        Arc::new(recipient_limiter(vec![jobs[1].id.to_string()])),
        TEN_PER_HOUR,
    );
    assert_eq!(relay.relay_once().await.unwrap(), 3);
}

#[tokio::test]
async fn a_batch_of_dropped_jobs_queues_nothing() {
    let dropped = job(1);
    let id = dropped.id;
    let mut outbox = MockEmailOutbox::new();
    outbox
        .expect_lease()
        .returning(move |_, _| Ok(vec![dropped.clone()]));
    outbox
        .expect_remove()
        .with(eq(vec![id]))
        .times(1)
        .returning(|_| Ok(()));
    let mut queue = MockEmailQueue::new();
    queue.expect_push().never();
    let relay = relay(outbox, queue).with_recipient_limit(
        Arc::new(recipient_limiter(vec![id.to_string()])),
        TEN_PER_HOUR,
    );
    assert_eq!(relay.relay_once().await.unwrap(), 1);
}

#[tokio::test]
async fn security_notices_go_out_past_the_limit_and_spend_none_of_it() {
    let notices = vec![
        EmailJob::new(
            Email::NewDeviceLogin {
                to: "user1@example.io".into(),
                signed_in_at: "2026-01-02T03:04:05Z".into(),
                ip: String::new(),
                user_agent: String::new(),
                session_id: "s".into(),
            },
            DateTime::<Utc>::UNIX_EPOCH,
        ),
        EmailJob::new(
            Email::PasswordChanged {
                to: "user1@example.io".into(),
                changed_at: "2026-01-02T03:04:05Z".into(),
            },
            DateTime::<Utc>::UNIX_EPOCH,
        ),
        EmailJob::new(
            Email::EmailChanging {
                to: "user1@example.io".into(),
                new_email: "new@example.io".into(),
                undo_link: "https://app.example/undo-email-change#token=t".into(),
            },
            DateTime::<Utc>::UNIX_EPOCH,
        ),
    ];
    let mut outbox = MockEmailOutbox::new();
    let leased = notices.clone();
    outbox
        .expect_lease()
        .returning(move |_, _| Ok(leased.clone()));
    outbox.expect_remove().times(1).returning(|_| Ok(()));
    let mut queue = MockEmailQueue::new();
    queue
        .expect_push()
        .with(eq(notices))
        .times(1)
        .returning(|_| Ok(()));
    // The recipient is over its limit, yet the limiter is never asked.
    let mut limiter = MockRateLimiter::new();
    limiter.expect_admit().never();
    let relay = relay(outbox, queue).with_recipient_limit(Arc::new(limiter), TEN_PER_HOUR);
    assert_eq!(relay.relay_once().await.unwrap(), 3);
}

#[tokio::test]
async fn the_recipient_is_counted_by_its_normal_form_and_each_job_once() {
    let mut shouting = job(1);
    shouting.email = Email::Welcome {
        to: "  User1@Example.IO ".into(),
        verification_link: String::new(),
        code: String::new(),
    };
    let id = shouting.id.to_string();
    let mut outbox = MockEmailOutbox::new();
    outbox
        .expect_lease()
        .returning(move |_, _| Ok(vec![shouting.clone()]));
    outbox.expect_remove().returning(|_| Ok(()));
    let mut queue = MockEmailQueue::new();
    queue.expect_push().returning(|_| Ok(()));
    let mut limiter = MockRateLimiter::new();
    limiter
        .expect_admit()
        .with(
            eq(Rule::EmailsPerRecipient),
            eq("user1@example.io"),
            eq(id),
            eq(TEN_PER_HOUR),
        )
        .times(1)
        .returning(|_, _, _, _| {
            Ok(RateDecision::Allowed {
                remaining: 9,
                reset: std::time::Duration::from_secs(3600),
            })
        });
    let relay = relay(outbox, queue).with_recipient_limit(Arc::new(limiter), TEN_PER_HOUR);
    assert_eq!(relay.relay_once().await.unwrap(), 1);
}
