//! The admin API (`/admin/*`), one module per resource (the writes on
//! users in `user_changes.rs`). Every route takes a live access token
//! (the writes a fresh one), so a session ended in PostgreSQL cannot act and an
//! admin with TOTP must have passed it (`403 mfa_required`); the use cases
//! refuse callers who are not admins (`403 forbidden`).

pub(super) mod audit;
pub(super) mod user_changes;
pub(super) mod users;

pub(crate) use users::LIMIT_RULE;
