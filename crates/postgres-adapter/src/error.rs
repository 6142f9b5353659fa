use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::deadpool::PoolError;

/// Failures of the set-up functions ([`crate::connect`],
/// [`crate::ensure_database`], [`crate::run_migrations`]). Messages never
/// contain the password of the database URL.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("invalid PostgreSQL settings: {0}")]
    InvalidSettings(&'static str),
    #[error("could not connect to PostgreSQL: {0}")]
    Connect(String),
    #[error("PostgreSQL did not answer in time: {0}")]
    Timeout(String),
    #[error("PostgreSQL statement failed: {0}")]
    Query(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("could not build the PostgreSQL pool: {0}")]
    Pool(String),
}

/// What went wrong with one repository call, before it is mapped to the
/// error type of the port that made it.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server is down, unreachable, too slow, or cannot serve us now;
    /// retrying later may work.
    Unavailable(String),
    /// A unique constraint refused the write; carries the constraint name.
    UniqueViolation(Option<String>),
    Unexpected(String),
}

impl Failure {
    /// Describes the failure for logs and error values (no SQL, no URL).
    pub(crate) fn describe(self) -> String {
        match self {
            Failure::Unavailable(detail) | Failure::Unexpected(detail) => detail,
            Failure::UniqueViolation(constraint) => format!(
                "unique constraint {} violated",
                constraint.as_deref().unwrap_or("<unnamed>")
            ),
        }
    }
}

impl From<DieselError> for Failure {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Failure::UniqueViolation(info.constraint_name().map(str::to_owned))
            }
            // No SQLSTATE (I/O error, connection gone) or a state that a
            // later attempt can clear (failover to a read-only node, a
            // serialisation conflict).
            DieselError::DatabaseError(
                kind @ (DatabaseErrorKind::UnableToSendCommand
                | DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::ReadOnlyTransaction
                | DatabaseErrorKind::SerializationFailure),
                info,
            ) => Failure::Unavailable(format!("{kind:?}: {}", info.message())),
            DieselError::BrokenTransactionManager => {
                Failure::Unavailable("connection left in a broken transaction state".into())
            }
            other => Failure::Unexpected(other.to_string()),
        }
    }
}

impl From<PoolError> for Failure {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Timeout(kind) => {
                Failure::Unavailable(format!("timed out getting a connection ({kind:?})"))
            }
            PoolError::Backend(error) => Failure::Unavailable(error.to_string()),
            PoolError::Closed => Failure::Unavailable("the connection pool is closed".into()),
            PoolError::PostCreateHook(error) => Failure::Unavailable(error.to_string()),
            PoolError::NoRuntimeSpecified => {
                Failure::Unexpected("the connection pool has no runtime for its timeouts".into())
            }
        }
    }
}

/// Replaces every secret that occurs in `message` (the URL's password, as
/// written and percent-decoded) so that no error or log line carries it.
pub(crate) fn redact(message: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .fold(message.to_owned(), |text, secret| {
            text.replace(secret.as_str(), "********")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_raw_and_decoded_passwords() {
        let secrets = vec!["p%40ss".to_owned(), "p@ss".to_owned(), String::new()];
        assert_eq!(
            redact("postgres://u:p%40ss@h/db failed for p@ss", &secrets),
            "postgres://u:********@h/db failed for ********"
        );
        assert_eq!(redact("nothing secret", &secrets), "nothing secret");
    }
}
