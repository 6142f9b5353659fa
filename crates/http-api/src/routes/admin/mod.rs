//! The admin API (`/admin/*`), one module per resource. Every route takes
//! a live access token, so a session ended in PostgreSQL cannot act and an
//! admin with TOTP must have passed it (`403 mfa_required`); the use cases
//! refuse callers who are not admins (`403 forbidden`).

pub(super) mod audit;
pub(super) mod users;

pub(crate) use users::LIMIT_RULE;
