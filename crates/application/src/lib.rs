//! Use cases of the service and the ports they need.
//!
//! Every port is an async trait owned here and implemented by an adapter
//! crate. With the `mocks` feature (and in this crate's own tests) each port
//! has a mockall mock, `Mock<PortName>`, so use cases are tested without I/O.

pub mod auth;
pub mod delivery;
pub mod email;
pub mod error;
pub mod outbox_relay;
pub mod ports;

pub use auth::{Auth, AuthSettings, IssuedAccess, LoginTokens, Registration, TokenRequirement};
pub use email::{Email, EmailJob};
pub use error::{AuthError, Dependency, RelayError};
pub use outbox_relay::{OutboxRelay, RelaySettings};
