use super::*;

const T0: i64 = 1_800_000_000_000;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Counts events at the given times (ms after T0) against `rule`, as a
/// store would; returns which were allowed.
fn run_log(rule: &SlidingLog, times: &[i64]) -> Vec<bool> {
    let mut log = VecDeque::new();
    times
        .iter()
        .map(|at| rule.record(&mut log, None, T0 + at).is_allowed())
        .collect()
}

#[test]
fn a_log_allows_the_limit_at_once_then_waits_for_the_oldest() {
    let rule = SlidingLog::new(RateLimit::per_secs(30, 60));
    let burst = run_log(&rule, &[0; 31]);
    assert_eq!(burst.iter().filter(|allowed| **allowed).count(), 30);
    assert!(!burst[30]);

    let mut times = vec![0; 30];
    times.extend([59_999, 60_000, 60_000]);
    let allowed = run_log(&rule, &times);
    // A slot frees exactly one window after the event that filled it.
    assert_eq!(&allowed[30..], &[false, true, true]);
}

#[test]
fn a_log_never_exceeds_the_limit_in_any_window() {
    // Requests every 100 ms for 5 minutes against 10/60s: whatever the
    // phase, no 60 s window holds more than 10 allowed ones.
    let rule = SlidingLog::new(RateLimit::per_secs(10, 60));
    let times: Vec<i64> = (0..3000).map(|i| i * 100).collect();
    let allowed: Vec<i64> = times
        .iter()
        .zip(run_log(&rule, &times))
        .filter_map(|(at, ok)| ok.then_some(*at))
        .collect();
    for (i, start) in allowed.iter().enumerate() {
        let in_window = allowed[i..]
            .iter()
            .take_while(|at| **at < start + 60_000)
            .count();
        assert!(in_window <= 10, "{in_window} requests from {start} ms");
    }
    // Ten per minute over five minutes, no more and no fewer.
    assert_eq!(allowed.len(), 50);
}

#[test]
fn a_log_reports_remaining_and_when_a_slot_frees() {
    let rule = SlidingLog::new(RateLimit::per_secs(3, 30));
    let mut log = VecDeque::new();
    let mut record = |at: i64| rule.record(&mut log, None, T0 + at);
    assert_eq!(
        record(0),
        RateDecision::Allowed {
            remaining: 2,
            reset: secs(30)
        }
    );
    assert_eq!(
        record(1000),
        RateDecision::Allowed {
            remaining: 1,
            reset: secs(29)
        }
    );
    assert_eq!(
        record(5000),
        RateDecision::Allowed {
            remaining: 0,
            reset: secs(25)
        }
    );
    assert_eq!(
        record(10_000),
        RateDecision::Limited {
            retry_after: secs(20)
        }
    );
    // A refused event is not counted: the next slot still frees at 30 s.
    assert_eq!(
        record(29_000),
        RateDecision::Limited {
            retry_after: secs(1)
        }
    );
    assert_eq!(
        record(30_000),
        RateDecision::Allowed {
            remaining: 0,
            reset: secs(1)
        }
    );
}

#[test]
fn a_log_admits_each_item_once() {
    let rule = SlidingLog::new(RateLimit::per_secs(2, 3600));
    let mut log = VecDeque::new();
    assert!(rule.record(&mut log, Some("job-1"), T0).is_allowed());
    assert!(rule.record(&mut log, Some("job-2"), T0 + 1000).is_allowed());
    assert_eq!(
        rule.record(&mut log, Some("job-3"), T0 + 2000),
        RateDecision::Limited {
            retry_after: secs(3598)
        }
    );
    // Asked again (a retried batch), an admitted job is still admitted
    // and spends nothing.
    assert!(rule.record(&mut log, Some("job-1"), T0 + 3000).is_allowed());
    assert_eq!(log.len(), 2);
    // An hour after the first, its slot is free again.
    assert!(
        !rule
            .record(&mut log, Some("job-3"), T0 + 3_599_999)
            .is_allowed()
    );
    assert!(
        rule.record(&mut log, Some("job-3"), T0 + 3_600_000)
            .is_allowed()
    );
    assert_eq!(log.len(), 2);
}

#[test]
fn throttle_waits_double_from_the_threshold_up_to_the_max() {
    let policy = ThrottlePolicy::default();
    let delays: Vec<i64> = (0..=16).map(|n| policy.delay_ms(n)).collect();
    assert_eq!(&delays[..5], &[0, 0, 0, 0, 0]);
    assert_eq!(
        &delays[5..],
        &[
            1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000, 900_000,
            900_000
        ]
    );
    assert_eq!(policy.delay_ms(u32::MAX), 900_000);
}

#[test]
fn throttle_counts_attempts_and_refuses_while_waiting() {
    let policy = ThrottlePolicy::default();
    let mut stored = None;
    let mut begin = |now: i64| {
        let (decision, record) = policy.begin(stored, T0 + now);
        if let Some((record, _)) = record {
            stored = Some(record);
        }
        decision
    };
    // Five attempts at once all go ahead; the fifth arms a 1 s wait.
    for _ in 0..5 {
        assert_eq!(begin(0), AttemptDecision::Allowed);
    }
    assert_eq!(
        begin(400),
        AttemptDecision::Throttled {
            retry_after: Duration::from_millis(600)
        }
    );
    assert_eq!(begin(1000), AttemptDecision::Allowed);
    // The sixth failure: 2 s.
    assert_eq!(
        begin(2999),
        AttemptDecision::Throttled {
            retry_after: Duration::from_millis(1)
        }
    );
    assert_eq!(begin(3000), AttemptDecision::Allowed);
    assert_eq!(
        stored,
        Some(FailureRecord {
            failures: 7,
            last_ms: T0 + 3000
        })
    );
}

#[test]
fn throttle_records_live_for_the_wait_plus_the_window() {
    let policy = ThrottlePolicy::default();
    let (_, kept) = policy.begin(None, T0);
    assert_eq!(kept.map(|(_, ttl)| ttl), Some(900_000));
    let four = FailureRecord {
        failures: 4,
        last_ms: T0,
    };
    let (_, kept) = policy.begin(Some(four), T0);
    assert_eq!(kept.map(|(_, ttl)| ttl), Some(1000 + 900_000));
}
