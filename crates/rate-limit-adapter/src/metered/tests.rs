use std::sync::Mutex;
use std::time::Duration;

use application::ports::MockRateLimiter;
use metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    set_default_local_recorder,
};

use super::*;

const LIMIT: RateLimit = RateLimit::per_secs(5, 60);

/// Every counter increment, as (name, `rule` label, amount).
#[derive(Default)]
struct Counts(Arc<Mutex<Vec<(String, String, u64)>>>);

struct CountOf {
    name: String,
    rule: String,
    counts: Arc<Mutex<Vec<(String, String, u64)>>>,
}

impl CounterFn for CountOf {
    fn increment(&self, value: u64) {
        let entry = (self.name.clone(), self.rule.clone(), value);
        self.counts.lock().unwrap().push(entry);
    }

    fn absolute(&self, _: u64) {}
}

impl Recorder for Counts {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let rule = key
            .labels()
            .find(|label| label.key() == "rule")
            .map(|label| label.value().to_owned())
            .unwrap_or_default();
        Counter::from_arc(Arc::new(CountOf {
            name: key.name().to_owned(),
            rule,
            counts: self.0.clone(),
        }))
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

impl Counts {
    fn taken(&self) -> Vec<(String, String, u64)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn refused(rule: &str) -> (String, String, u64) {
    (RATE_LIMITED_TOTAL.to_owned(), rule.to_owned(), 1)
}

/// A limiter that answers `decision` to every count.
fn answering(decision: RateDecision) -> MeteredRateLimiter {
    let mut inner = MockRateLimiter::new();
    inner.expect_hit().returning(move |_, _, _| Ok(decision));
    inner
        .expect_admit()
        .returning(move |_, _, _, _| Ok(decision));
    MeteredRateLimiter(Arc::new(inner))
}

// The tokio test runtime polls on this thread, so the thread's local
// recorder sees every increment.

#[tokio::test]
async fn a_refused_count_is_counted_under_its_rule() {
    let counts = Counts::default();
    let _recorder = set_default_local_recorder(&counts);
    let limiter = answering(RateDecision::Limited {
        retry_after: Duration::from_secs(3),
    });
    let decision = limiter.hit(Rule::LoginPerIp, "1.2.3.4", LIMIT).await;
    assert!(!decision.unwrap().is_allowed());
    limiter
        .admit(Rule::EmailsPerRecipient, "ada@example.io", "job-1", LIMIT)
        .await
        .unwrap();
    assert_eq!(
        counts.taken(),
        vec![refused("login"), refused("emails_per_recipient")]
    );
}

#[tokio::test]
async fn an_allowed_count_or_a_failed_store_counts_nothing() {
    let counts = Counts::default();
    let _recorder = set_default_local_recorder(&counts);
    let allowed = answering(RateDecision::Allowed {
        remaining: 4,
        reset: Duration::from_secs(60),
    });
    allowed
        .hit(Rule::LoginPerIp, "1.2.3.4", LIMIT)
        .await
        .unwrap();
    let mut down = MockRateLimiter::new();
    down.expect_hit()
        .returning(|_, _, _| Err(RateLimitError::Unavailable("connection refused".into())));
    let down = MeteredRateLimiter(Arc::new(down));
    assert!(down.hit(Rule::LoginPerIp, "1.2.3.4", LIMIT).await.is_err());
    assert_eq!(counts.taken(), vec![]);
}

#[tokio::test]
async fn a_throttled_login_counts_as_failed_logins_and_settling_counts_nothing() {
    let counts = Counts::default();
    let _recorder = set_default_local_recorder(&counts);
    let mut inner = MockRateLimiter::new();
    inner.expect_begin_attempt().returning(|_, _| {
        Ok(AttemptDecision::Throttled {
            retry_after: Duration::from_secs(1),
        })
    });
    inner.expect_forgive_attempt().returning(|_| Ok(()));
    inner.expect_clear_failures().returning(|_| Ok(()));
    let limiter = MeteredRateLimiter(Arc::new(inner));
    let policy = ThrottlePolicy::default();
    assert_eq!(
        limiter.begin_attempt("ada", policy).await.unwrap(),
        AttemptDecision::Throttled {
            retry_after: Duration::from_secs(1)
        }
    );
    limiter.forgive_attempt("ada").await.unwrap();
    limiter.clear_failures("ada").await.unwrap();
    assert_eq!(counts.taken(), vec![refused("failed_logins")]);
}
