#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Black-box tests of the HTTP contract (`API-CONTRACT.md`), one module per
//! section. One test binary: it links once and its tests run in parallel.

mod account_deletion;
mod claims;
mod developer;
mod general;
mod hostile_input;
mod login;
mod operations;
mod outages;
mod register;
mod secrets;
mod sessions;
mod startup;
mod tokens;
mod users;
