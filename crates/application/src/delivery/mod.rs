//! The consumer side of email delivery: what the email worker needs from
//! the queue, the template engine and the mail provider, and the use case
//! that decides, for one queued job, whether to send it, retry it later,
//! dead-letter it or drop it as a duplicate.

mod handler;
mod policy;
mod ports;
mod types;

#[cfg(test)]
mod tests;

pub use handler::{EmailDelivery, Outcome};
pub use policy::{Jitter, RetryPolicy, uniform_jitter_with};
pub use ports::{
    Cause, Claim, DeliveryQueue, DeliveryQueueError, EmailRenderer, MailError, Mailer, QueueAdmin,
    RenderError,
};
pub use types::{DeadLetter, Delivery, FailedAttempt, QueueDepths, RenderedEmail, Retry};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockDeliveryQueue, MockEmailRenderer, MockMailer, MockQueueAdmin};
