//! Test harness for the black-box HTTP tests in `tests/tests/`.
//!
//! [`spawn_app`] starts the real server (the same `api_server::Application`
//! the binary runs) on a random port, against a database created for that
//! test alone and a Redis key prefix no other test uses, and hands back a
//! [`TestApp`] with a client and helpers. [`TcpProxy`] stands between the
//! app and a dependency so a test can cut it off and bring it back.

mod app;
mod assertions;
pub mod deployment;
pub mod fake_mailgun;
pub mod jwt;
pub mod pages;
pub mod processes;
mod proxy;
pub mod servers;

use std::time::Duration;

pub(crate) use app::forget_redis_keys;
pub use app::{
    CLOSED_POSTGRES_URL, CLOSED_REDIS_URL, TestApp, TestSettings, TestUser, Tokens, spawn_app,
    spawn_app_with, spawn_peer,
};
pub use assertions::{
    assert_common_headers, assert_error, assert_token_error, assert_token_rejected,
    assert_unavailable, json_body, token_errors,
};
pub use deployment::{ApiProcess, Deployment, QueueState};
pub use fake_mailgun::{DeliveryTally, FakeMailgun};
pub use processes::Process;
pub use proxy::TcpProxy;

/// The real Redis; tests inspect it directly even when the app goes
/// through a proxy. The PostgreSQL server is `test_support::postgres_server`.
pub use test_support::REDIS_URL;
/// The password [`TestApp::register_user`] gives every user.
pub const PASSWORD: &str = "correct horse battery";
/// Upper bound of any single request: an outage must give an answer, not
/// a hang, and this turns a hang into a failure.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
