//! A clock tests move by hand.

use std::sync::Mutex;

use application::ports::Clock;
use chrono::{DateTime, Utc};

/// An implementation of the [`Clock`] port that stands still until the test
/// moves it. Share it through an `Arc` between the code under test and the
/// test.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// Stopped at `ms` milliseconds after the Unix epoch.
    pub fn at(ms: i64) -> Self {
        Self::at_time(DateTime::from_timestamp_millis(ms).unwrap())
    }

    /// Stopped at `time`.
    pub fn at_time(time: DateTime<Utc>) -> Self {
        Self(Mutex::new(time))
    }

    pub fn advance_ms(&self, ms: i64) {
        self.advance(chrono::Duration::milliseconds(ms));
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }

    pub fn set(&self, time: DateTime<Utc>) {
        *self.0.lock().unwrap() = time;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}
