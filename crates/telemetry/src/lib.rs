//! What both binaries need to be observable, written once: log set-up
//! ([`init_logs`], [`init_test_logs`]), the process-wide Prometheus
//! recorder ([`prometheus`]) and the client behind each binary's
//! `healthcheck` command ([`healthcheck`]).
//!
//! It depends on no adapter and no use case, so any crate may use it.

mod healthcheck;
mod logs;
mod recorder;

pub use healthcheck::{HealthcheckError, healthcheck, loopback_url};
pub use logs::{LogFormat, init_logs, init_test_logs};
pub use recorder::{Buckets, prometheus};
