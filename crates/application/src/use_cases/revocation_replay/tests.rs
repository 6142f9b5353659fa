use std::sync::Arc;

use chrono::Duration;
use domain::{SessionId, UserId};
use mockall::predicate::eq;

use super::*;
use crate::ports::{
    MarkQueueError, MockRevocationMarkQueue, MockTokenRevocations, QueuedMark, Revocation,
    RevocationError,
};
use crate::use_cases::test_support::{clock, now};

/// Mocks with no expectations: any call fails the test.
struct Ports {
    queue: MockRevocationMarkQueue,
    revocations: MockTokenRevocations,
}

impl Ports {
    fn new() -> Self {
        Self {
            queue: MockRevocationMarkQueue::new(),
            revocations: MockTokenRevocations::new(),
        }
    }

    fn leasing(mut self, marks: Vec<QueuedMark>) -> Self {
        self.queue
            .expect_lease()
            .with(eq(50), eq(std::time::Duration::from_secs(30)))
            .times(1)
            .returning(move |_, _| Ok(marks.clone()));
        self
    }

    fn replay(self) -> RevocationReplay {
        RevocationReplay::new(
            Arc::new(self.queue),
            Arc::new(self.revocations),
            Arc::new(clock()),
            TokenLifetimes {
                access: Duration::seconds(300),
                refresh: Duration::seconds(3_000),
            },
            ReplaySettings {
                batch_size: 50,
                ..ReplaySettings::default()
            },
        )
    }
}

/// A session ended `ended_ago` seconds ago whose refresh token expires in
/// `expires_in` seconds.
fn session(id: &str, expires_in: i64, ended_ago: i64) -> QueuedMark {
    QueuedMark::Session {
        id: SessionId::new(id),
        user: UserId::new(5),
        expires_at: now() + Duration::seconds(expires_in),
        ended_at: now() - Duration::seconds(ended_ago),
    }
}

fn user(id: i64, ended_ago: i64) -> QueuedMark {
    QueuedMark::User {
        id: UserId::new(id),
        ended_at: now() - Duration::seconds(ended_ago),
    }
}

#[tokio::test]
async fn an_empty_queue_writes_nothing() {
    let ports = Ports::new().leasing(vec![]);
    assert_eq!(ports.replay().replay_once().await.unwrap(), 0);
}

/// The marks get the life they have left, not the one they had when they
/// were queued; then the whole batch leaves the queue.
#[tokio::test]
async fn writes_the_queued_marks_with_the_life_left_then_forgets_them() {
    let marks = vec![session("a", 1_000, 60), session("b", 10, 100), user(7, 50)];
    let mut ports = Ports::new().leasing(marks.clone());
    let mut sequence = mockall::Sequence::new();
    ports
        .revocations
        .expect_revoke()
        .with(eq(vec![
            Revocation::Session {
                id: SessionId::new("a"),
                user: UserId::new(5),
                ttl_secs: 241,
            },
            Revocation::Session {
                id: SessionId::new("b"),
                user: UserId::new(5),
                ttl_secs: 201,
            },
            Revocation::User {
                id: UserId::new(7),
                ttl_secs: 251,
            },
        ]))
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_| Ok(()));
    ports
        .queue
        .expect_forget()
        .with(eq(marks))
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_| Ok(()));
    assert_eq!(ports.replay().replay_once().await.unwrap(), 3);
}

/// Only a mark every token of which has expired may leave the queue
/// without being written.
#[tokio::test]
async fn drops_only_marks_whose_tokens_all_expired() {
    let expired = session("old", -1_000, 900);
    let live = session("new", 100, 0);
    let mut ports = Ports::new().leasing(vec![expired.clone(), live.clone()]);
    ports
        .revocations
        .expect_revoke()
        .with(eq(vec![Revocation::Session {
            id: SessionId::new("new"),
            user: UserId::new(5),
            ttl_secs: 301,
        }]))
        .times(1)
        .returning(|_| Ok(()));
    ports
        .queue
        .expect_forget()
        .with(eq(vec![expired, live]))
        .times(1)
        .returning(|_| Ok(()));
    assert_eq!(ports.replay().replay_once().await.unwrap(), 2);
}

#[tokio::test]
async fn a_batch_of_expired_marks_is_forgotten_without_a_write() {
    let expired = vec![session("old", -1_000, 900), user(3, 4_000)];
    let mut ports = Ports::new().leasing(expired.clone());
    ports.revocations.expect_revoke().never();
    ports
        .queue
        .expect_forget()
        .with(eq(expired))
        .times(1)
        .returning(|_| Ok(()));
    assert_eq!(ports.replay().replay_once().await.unwrap(), 2);
}

/// Redis still down: nothing leaves the queue, and the batch is handed
/// back at once so that an instance whose Redis answers takes it.
#[tokio::test]
async fn a_failed_write_hands_the_batch_back_and_forgets_nothing() {
    let marks = vec![session("a", 1_000, 0)];
    let mut ports = Ports::new().leasing(marks.clone());
    ports
        .revocations
        .expect_revoke()
        .returning(|_| Err(RevocationError::Unavailable("refused".into())));
    ports
        .queue
        .expect_release()
        .with(eq(marks))
        .times(1)
        .returning(|_| Ok(()));
    ports.queue.expect_forget().never();
    let error = ports.replay().replay_once().await.unwrap_err();
    assert!(matches!(error, ReplayError::Revocations(_)));
}

#[tokio::test]
async fn a_queue_outage_is_an_error_and_writes_nothing() {
    let mut ports = Ports::new();
    ports
        .queue
        .expect_lease()
        .returning(|_, _| Err(MarkQueueError::Unavailable("refused".into())));
    ports.revocations.expect_revoke().never();
    let error = ports.replay().replay_once().await.unwrap_err();
    assert!(matches!(error, ReplayError::Queue(_)));
}

#[tokio::test]
async fn an_instance_whose_store_is_down_takes_no_marks_from_the_others() {
    let mut ports = Ports::new();
    ports.queue.expect_lease().never();
    ports.revocations.expect_revoke().never();
    let mut probe = crate::ports::MockDependencyProbe::new();
    probe
        .expect_ping()
        .times(1)
        .returning(|| Err(crate::ports::ProbeError("connection refused".into())));
    let replay = ports.replay().with_store_probe(Arc::new(probe));
    let error = replay.replay_once().await.unwrap_err();
    assert!(matches!(error, ReplayError::StoreDown(_)), "{error:?}");
}

#[tokio::test]
async fn an_answering_store_lets_the_round_take_its_batch() {
    let ports = Ports::new().leasing(Vec::new());
    let mut probe = crate::ports::MockDependencyProbe::new();
    probe.expect_ping().times(1).returning(|| Ok(()));
    let replay = ports.replay().with_store_probe(Arc::new(probe));
    assert_eq!(replay.replay_once().await.unwrap(), 0);
}
