#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Black-box tests of the HTTP behaviour (`docs/http-api.md`), one module per
//! section, and `edge_*` for the hardening of the HTTP edge. One
//! test binary: it links once and its tests run in parallel.

mod account_deletion;
mod admin_audit;
mod admin_user_changes;
mod admin_users;
mod audit_events;
mod claims;
mod data_growth;
mod demo;
mod edge_cors;
mod edge_headers;
mod edge_input;
mod edge_metrics;
mod edge_openapi;
mod edge_openapi_examples;
mod edge_swagger_ui;
mod edge_timeouts;
mod email_change;
mod email_verification;
mod general;
mod hostile_input;
mod input_rules;
mod live_sessions;
mod lockout;
mod login;
mod mfa;
mod operations;
mod outages;
mod pages;
mod password_reset;
mod rate_limits;
mod register;
mod revocation_cache;
mod rotation;
mod secrets;
mod security_events;
mod session_routes;
mod sessions;
mod signing_keys;
mod startup;
mod tokens;
mod users;
mod well_known;
