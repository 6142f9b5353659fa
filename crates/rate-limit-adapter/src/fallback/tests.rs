use std::sync::atomic::AtomicUsize;

use super::*;
use application::ports::MockRateLimiter;
use test_support::ManualClock;

const LIMIT: RateLimit = RateLimit::per_secs(10, 60);

fn allowed() -> RateDecision {
    RateDecision::Allowed {
        remaining: 9,
        reset: Duration::from_secs(60),
    }
}

fn limited() -> RateDecision {
    RateDecision::Limited {
        retry_after: Duration::from_secs(7),
    }
}

/// A shared store that answers `allowed()` or fails as `up` says, and
/// counts the calls it gets.
fn shared(up: Arc<AtomicI64>, calls: Arc<AtomicUsize>) -> MockRateLimiter {
    let mut shared = MockRateLimiter::new();
    shared.expect_hit().returning(move |_, _, _| {
        calls.fetch_add(1, Ordering::SeqCst);
        if up.load(Ordering::SeqCst) == 1 {
            Ok(allowed())
        } else {
            Err(RateLimitError::Unavailable("connection refused".into()))
        }
    });
    shared
}

/// A local limiter that always answers `limited()`, to tell it apart.
fn local() -> MockRateLimiter {
    let mut local = MockRateLimiter::new();
    local.expect_hit().returning(|_, _, _| Ok(limited()));
    local
}

struct Setup {
    limiter: FallbackRateLimiter,
    clock: Arc<ManualClock>,
    up: Arc<AtomicI64>,
    shared_calls: Arc<AtomicUsize>,
}

fn setup() -> Setup {
    let up = Arc::new(AtomicI64::new(1));
    let shared_calls = Arc::new(AtomicUsize::new(0));
    let clock = Arc::new(ManualClock::at(1_800_000_000_000));
    let limiter = FallbackRateLimiter::new(
        Arc::new(shared(up.clone(), shared_calls.clone())),
        Arc::new(local()),
        clock.clone(),
        Duration::from_secs(1),
    );
    Setup {
        limiter,
        clock,
        up,
        shared_calls,
    }
}

async fn hit(limiter: &FallbackRateLimiter) -> RateDecision {
    limiter
        .hit(Rule::LoginPerIp, "1.2.3.4", LIMIT)
        .await
        .unwrap()
}

#[tokio::test]
async fn uses_the_shared_store_while_it_answers() {
    let s = setup();
    for _ in 0..3 {
        assert_eq!(hit(&s.limiter).await, allowed());
    }
    assert_eq!(s.shared_calls.load(Ordering::SeqCst), 3);
    assert!(s.limiter.is_shared());
}

#[tokio::test]
async fn falls_back_at_once_and_stops_asking_the_dead_store() {
    let s = setup();
    s.up.store(0, Ordering::SeqCst);
    // The failing call itself is answered locally: never an error.
    assert_eq!(hit(&s.limiter).await, limited());
    assert!(!s.limiter.is_shared());
    for _ in 0..10 {
        assert_eq!(hit(&s.limiter).await, limited());
    }
    assert_eq!(
        s.shared_calls.load(Ordering::SeqCst),
        1,
        "no call waits on a dead store within the retry interval"
    );
}

#[tokio::test]
async fn one_call_per_interval_probes_and_success_switches_back() {
    let s = setup();
    s.up.store(0, Ordering::SeqCst);
    hit(&s.limiter).await;
    s.clock.advance_ms(1000);
    // Still down: the probe fails, local again for another interval.
    assert_eq!(hit(&s.limiter).await, limited());
    assert_eq!(hit(&s.limiter).await, limited());
    assert_eq!(s.shared_calls.load(Ordering::SeqCst), 2);

    s.up.store(1, Ordering::SeqCst);
    assert_eq!(hit(&s.limiter).await, limited(), "not probed yet");
    s.clock.advance_ms(1000);
    assert_eq!(hit(&s.limiter).await, allowed());
    assert!(s.limiter.is_shared());
    assert_eq!(hit(&s.limiter).await, allowed());
    assert_eq!(s.shared_calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn account_calls_fall_back_too() {
    let mut shared = MockRateLimiter::new();
    shared
        .expect_begin_attempt()
        .times(1)
        .returning(|_, _| Err(RateLimitError::Unexpected("NOSCRIPT".into())));
    let mut local = MockRateLimiter::new();
    local.expect_begin_attempt().times(2).returning(|_, _| {
        Ok(AttemptDecision::Throttled {
            retry_after: Duration::from_secs(1),
        })
    });
    local.expect_clear_failures().times(1).returning(|_| Ok(()));
    let limiter = FallbackRateLimiter::new(
        Arc::new(shared),
        Arc::new(local),
        Arc::new(ManualClock::at(0)),
        Duration::from_secs(1),
    );
    let policy = ThrottlePolicy::default();
    for _ in 0..2 {
        let decision = limiter
            .begin_attempt("ada@example.io", policy)
            .await
            .unwrap();
        assert!(matches!(decision, AttemptDecision::Throttled { .. }));
    }
    limiter.clear_failures("ada@example.io").await.unwrap();
}
