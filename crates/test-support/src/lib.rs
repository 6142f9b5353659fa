//! What the workspace's tests share, so that each is written once: a
//! database of its own per test ([`TestDatabase`]), a Redis key prefix of its
//! own per test ([`redis_prefix`]), a clock the test moves by hand
//! ([`ManualClock`]), a few fixtures, and certificates made at test time
//! ([`tls::TestCertificates`]).
//!
//! The local servers the tests run against are named here and nowhere else:
//! [`postgres_server`] (`TEST_POSTGRES_SERVER`, else the local default) and
//! [`REDIS_URL`].
//!
//! `application`'s own unit tests cannot use this crate: it depends on
//! `application`, so they would see a second copy of its traits.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod clock;
mod database;
pub mod fixtures;
pub mod redis_servers;
pub mod tls;

pub use clock::ManualClock;
pub use database::{TestDatabase, postgres_server};

/// The real Redis the tests use.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// `MFA_ENCRYPTION_KEY` of every API a test starts (32 bytes, base64).
pub const MFA_ENCRYPTION_KEY: &str = "aW50ZWdyYXRpb24tdGVzdHMtbWZhLWtleS0zMmJ5dGU=";

/// A Redis key prefix no other test uses (`test:<uuid>:`), so tests can run
/// in parallel against one Redis.
pub fn redis_prefix() -> String {
    redis_prefix_for("test")
}

/// [`redis_prefix`] under another leading tag (`<tag>:<uuid>:`), for a
/// harness whose leftovers should say where they came from.
pub fn redis_prefix_for(tag: &str) -> String {
    format!("{tag}:{}:", uuid::Uuid::new_v4().simple())
}
