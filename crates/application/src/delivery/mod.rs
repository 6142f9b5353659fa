//! The consumer side of email delivery: what the email worker needs from
//! the queue, the template engine and the mail provider, and the use case
//! that decides, for one queued job, whether to send it, retry it later,
//! dead-letter it or drop it as a duplicate.

mod handler;
mod ports;
mod types;

#[cfg(test)]
mod tests;

pub use handler::{EmailDelivery, Jitter, Outcome, RetryPolicy, full_jitter_with};
pub use ports::{DeliveryQueue, DeliveryQueueError, EmailRenderer, MailError, Mailer, RenderError};
pub use types::{DeadLetter, Delivery, FailedAttempt, RenderedEmail, Retry};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockDeliveryQueue, MockEmailRenderer, MockMailer};
