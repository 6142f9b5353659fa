/// Wakes the outbox relay when a use case has committed an email job, so
/// the email leaves at once instead of at the relay's next poll. Missing a
/// wake-up only delays the email: the relay also polls.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait OutboxSignal: Send + Sync {
    fn job_committed(&self);
}
