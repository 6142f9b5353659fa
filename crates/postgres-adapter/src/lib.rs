//! PostgreSQL adapter: the user and session repositories, the transactional email outbox
//! and the readiness probe, on diesel-async over a bounded deadpool pool.
//!
//! Every call is bounded in time: waiting for a pooled connection, opening
//! one, and running the statement each have a timeout ([`PgSettings`]), and
//! an outage surfaces as the port's `Unavailable` variant.

mod account_steps;
mod audit_log;
mod code_budget;
mod connection;
mod connector;
mod database_setup;
mod database_url;
mod error;
mod one_time_secrets;
mod outbox;
mod pool;
mod probe;
mod purge;
mod revocation_marks;
mod schema;
mod second_factor;
mod session_steps;
mod sessions;
mod signing_keys;
mod tls;
mod user_admin_store;
mod user_directory;
mod users;

pub use audit_log::PgAuditLog;
pub use database_setup::{ensure_database, run_migrations};
pub use error::PgError;
pub use one_time_secrets::PgOneTimeSecretStore;
pub use outbox::PgEmailOutbox;
pub use pool::{PgPool, PgSettings, Pooler, check_tls, check_url, connect};
pub use probe::PgProbe;
pub use purge::{PURGE_LOCK_KEY, PgDataPurge};
pub use revocation_marks::PgRevocationMarkQueue;
pub use second_factor::PgSecondFactorStore;
pub use sessions::PgSessionRepository;
pub use signing_keys::PgSigningKeyStore;
pub use user_admin_store::PgUserAdminStore;
pub use user_directory::PgUserDirectory;
pub use users::PgUserRepository;
