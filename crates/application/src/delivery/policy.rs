//! How long to wait between attempts, and how many to make.
//!
//! Backoff uses "equal jitter": after the `n`-th failure the wait is drawn
//! from `[c/2, c]`, where the ceiling `c = min(base * 2^(n-1), max)`. The
//! random half spreads the retries of many jobs so they do not hit the
//! provider together; the fixed half makes the total retry budget
//! provable ([`RetryPolicy::min_total_wait`]), which full jitter (a draw
//! from `[0, c]`) cannot: its guaranteed wait is zero.

use std::sync::Arc;
use std::time::Duration;

/// Picks a wait in `[0, spread]`: the worker passes a uniform random draw,
/// tests a fixed function. The policy adds it to the fixed half.
pub type Jitter = Arc<dyn Fn(Duration) -> Duration + Send + Sync>;

/// Builds a [`Jitter`] from a source of uniform numbers in `[0, 1)`.
/// Never panics, whatever the source returns.
pub fn uniform_jitter_with(uniform: impl Fn() -> f64 + Send + Sync + 'static) -> Jitter {
    Arc::new(move |spread: Duration| {
        let fraction = uniform();
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Duration::try_from_secs_f64(spread.as_secs_f64() * fraction)
            .map_or(spread, |drawn| drawn.min(spread))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included, before a job whose
    /// failures are all temporary is dead-lettered. Also the most times
    /// one queue entry may be handed out without an outcome (a worker
    /// that crashes or panics on it) before it is dead-lettered.
    pub max_attempts: u32,
    /// Ceiling of the wait after the first failure; doubled after each.
    pub base_delay: Duration,
    /// The ceiling never grows past this.
    pub max_delay: Duration,
    /// A provider's `Retry-After` is honoured up to this much.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// Default of `EMAIL_MAX_ATTEMPTS`.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 16;
    /// Default of `EMAIL_BACKOFF_BASE_MS`.
    pub const DEFAULT_BACKOFF_BASE_MS: u64 = 5_000;
    /// Default of `EMAIL_BACKOFF_MAX_SECS`.
    pub const DEFAULT_BACKOFF_MAX_SECS: u64 = 900;
    /// How much of a `Retry-After` is honoured.
    pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

    /// The ceiling of the wait after the `attempt`-th failure (1-based):
    /// `base_delay * 2^(attempt - 1)`, at most `max_delay`. Saturates
    /// instead of overflowing, whatever the settings.
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base_delay
            .checked_mul(factor)
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }

    /// The wait after the `attempt`-th failure: the ceiling's upper half
    /// drawn by `jitter`, never less than half the ceiling.
    pub fn backoff(&self, attempt: u32, jitter: &Jitter) -> Duration {
        let ceiling = self.backoff_ceiling(attempt);
        let floor = ceiling / 2;
        let spread = ceiling.saturating_sub(floor);
        floor.saturating_add(jitter(spread).min(spread))
    }

    /// The least time a job can spend between its first and its last
    /// attempt, whatever the jitter draws: the sum of the floors of the
    /// `max_attempts - 1` waits. An outage shorter than this dead-letters
    /// nothing.
    pub fn min_total_wait(&self) -> Duration {
        (1..self.max_attempts).fold(Duration::ZERO, |total, attempt| {
            total.saturating_add(self.backoff_ceiling(attempt) / 2)
        })
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            base_delay: Duration::from_millis(Self::DEFAULT_BACKOFF_BASE_MS),
            max_delay: Duration::from_secs(Self::DEFAULT_BACKOFF_MAX_SECS),
            max_retry_after: Self::DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(600),
        }
    }

    #[test]
    fn backoff_doubles_per_attempt_up_to_the_cap() {
        let policy = policy();
        assert_eq!(policy.backoff_ceiling(1), Duration::from_secs(10));
        assert_eq!(policy.backoff_ceiling(2), Duration::from_secs(20));
        assert_eq!(policy.backoff_ceiling(3), Duration::from_secs(40));
        assert_eq!(policy.backoff_ceiling(4), Duration::from_secs(60));
        assert_eq!(policy.backoff_ceiling(200), Duration::from_secs(60));
    }

    #[test]
    fn the_wait_stays_in_the_upper_half_of_the_ceiling() {
        let policy = policy();
        let lowest = uniform_jitter_with(|| 0.0);
        let highest = uniform_jitter_with(|| 0.999_999_9);
        let reckless: Jitter = Arc::new(|_| Duration::MAX);
        assert_eq!(policy.backoff(3, &lowest), Duration::from_secs(20));
        assert!(policy.backoff(3, &highest) <= Duration::from_secs(40));
        assert_eq!(policy.backoff(3, &reckless), Duration::from_secs(40));
    }

    #[test]
    fn jitter_never_panics_on_odd_draws() {
        for draw in [f64::NAN, f64::INFINITY, -3.0, 7.0] {
            let jitter = uniform_jitter_with(move || draw);
            assert!(jitter(Duration::MAX) <= Duration::MAX);
            assert!(jitter(Duration::from_secs(40)) <= Duration::from_secs(40));
        }
    }

    #[test]
    fn extreme_settings_saturate_instead_of_panicking() {
        let policy = RetryPolicy {
            max_attempts: u32::MAX,
            base_delay: Duration::from_millis(u64::MAX),
            max_delay: Duration::MAX,
            max_retry_after: Duration::MAX,
        };
        let jitter = uniform_jitter_with(|| 0.99);
        assert_eq!(policy.backoff_ceiling(u32::MAX), Duration::MAX);
        assert!(policy.backoff(40, &jitter) >= Duration::MAX / 2);
        let few = RetryPolicy {
            max_attempts: 70,
            ..policy
        };
        assert_eq!(few.min_total_wait(), Duration::MAX);
    }

    #[test]
    fn the_default_budget_outlasts_a_60_minute_outage() {
        // The README's arithmetic: 2.5+5+10+20+40+80+160+320 s for the
        // doubling waits, then 7 x 450 s at the 900 s cap = 3787.5 s.
        let budget = RetryPolicy::default().min_total_wait();
        assert_eq!(budget, Duration::from_millis(3_787_500));
        assert!(budget > Duration::from_secs(60 * 60));
    }
}
