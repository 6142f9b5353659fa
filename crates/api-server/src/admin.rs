//! `make-admin`: the operator's command, on the database alone. The rule
//! (an unverified address needs `--force`) is `Administration`'s.

use std::sync::Arc;

use application::{Administration, DependencyError, PromoteToAdminError};
use postgres_adapter::PgUserRepository;

use crate::DatabaseConfig;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Postgres(#[from] postgres_adapter::PgError),
    #[error(transparent)]
    Store(DependencyError),
    #[error("no user has the email {0}")]
    NoSuchUser(String),
    /// Anyone can register any address: an unverified one proves nothing.
    #[error("{0} has not verified its email address; pass --force to promote it anyway")]
    Unverified(String),
}

impl From<PromoteToAdminError> for AdminError {
    fn from(error: PromoteToAdminError) -> Self {
        match error {
            PromoteToAdminError::NoSuchUser(email) => AdminError::NoSuchUser(email),
            PromoteToAdminError::Unverified(email) => AdminError::Unverified(email),
            PromoteToAdminError::Dependency(error) => AdminError::Store(error),
        }
    }
}

/// Gives the user with this email the admin role; an unverified account
/// only with `force` (see `Administration::promote_to_admin`).
pub async fn make_admin(
    config: &DatabaseConfig,
    email: &str,
    force: bool,
) -> Result<domain::User, AdminError> {
    let settings = config.pg;
    let pool = postgres_adapter::connect(&config.database_url, &settings)?;
    let administration = Administration::new(Arc::new(PgUserRepository::new(pool, settings)));
    Ok(administration.promote_to_admin(email, force).await?)
}
