use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::deadpool::PoolError;

/// Failures of the set-up functions ([`crate::connect`],
/// [`crate::ensure_database`], [`crate::run_migrations`]). Messages never
/// contain the password of the database URL.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(&'static str),
    #[error("invalid database URL")]
    MalformedUrl(#[source] url::ParseError),
    /// The URL's TLS parameters or the CA file they name.
    #[error("invalid TLS settings in the database URL: {0}")]
    InvalidTls(String),
    /// The server's certificate did not verify: never worth retrying.
    #[error("the server's certificate does not verify against {trusted} ({reason})")]
    Certificate { trusted: String, reason: String },
    #[error("invalid PostgreSQL settings: {0}")]
    InvalidSettings(&'static str),
    #[error("could not connect to PostgreSQL")]
    Connect(#[source] BoxError),
    /// A set-up step (a statement, the migrations) outlived its limit.
    #[error("PostgreSQL did not finish {step} within {limit:?}")]
    Timeout {
        step: &'static str,
        limit: std::time::Duration,
    },
    #[error("PostgreSQL statement failed")]
    Query(#[source] BoxError),
    #[error("database migration failed")]
    Migration(#[source] BoxError),
    #[error("could not build the PostgreSQL pool")]
    Pool(#[source] BoxError),
}

/// Any error, boxed, kept as the source of a port error.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong with one repository call, before it is mapped to the
/// error type of the port that made it. Each keeps the driver's or the
/// pool's error as its source (connection errors are already redacted
/// where they are made, see `pool::bound_connect`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// The server is down, unreachable, too slow, or cannot serve us now;
    /// retrying later may work.
    #[error("PostgreSQL is unavailable")]
    Unavailable(#[source] BoxError),
    /// A unique constraint refused the write; carries the constraint name.
    #[error("unique constraint {} violated", .0.as_deref().unwrap_or("<unnamed>"))]
    UniqueViolation(Option<String>),
    /// The server refused a value it cannot hold (a NUL byte in text, an
    /// invalid encoding, a value too long): the caller's input, not an
    /// outage or a bug, and never a `500`.
    #[error("PostgreSQL refused the input")]
    InvalidInput(#[source] BoxError),
    #[error("PostgreSQL call failed")]
    Unexpected(#[source] BoxError),
}

impl Failure {
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Failure::Unavailable(message.into().into())
    }
}

/// The messages of SQLSTATE class 22 (data exception) that text input can
/// cause. diesel-async exposes no SQLSTATE for them (they arrive as
/// `DatabaseErrorKind::Unknown`), so the server's message is matched.
const INVALID_INPUT_MESSAGES: [&str; 4] = [
    "invalid byte sequence",
    "value too long",
    "character with byte sequence",
    "invalid input syntax",
];

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
                DatabaseErrorKind::UnableToSendCommand
                | DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::ReadOnlyTransaction
                | DatabaseErrorKind::SerializationFailure,
                _,
            )
            | DieselError::BrokenTransactionManager => Failure::Unavailable(error.into()),
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, ref info)
                if INVALID_INPUT_MESSAGES
                    .iter()
                    .any(|message| info.message().starts_with(message)) =>
            {
                Failure::InvalidInput(error.into())
            }
            other => Failure::Unexpected(other.into()),
        }
    }
}

impl From<PoolError> for Failure {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::NoRuntimeSpecified => Failure::Unexpected(error.into()),
            // Timeout, backend (connect) error, closed pool, failed setup.
            _ => Failure::Unavailable(error.into()),
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

    fn database_error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn data_exceptions_from_text_input_are_invalid_input() {
        for message in [
            "invalid byte sequence for encoding \"UTF8\": 0x00",
            "value too long for type character varying(80)",
        ] {
            let failure = Failure::from(database_error(DatabaseErrorKind::Unknown, message));
            assert!(matches!(failure, Failure::InvalidInput(_)), "{message}");
        }
    }

    #[test]
    fn other_unknown_errors_stay_unexpected_and_keep_their_source() {
        let failure = Failure::from(database_error(
            DatabaseErrorKind::Unknown,
            "relation \"users\" does not exist",
        ));
        assert!(matches!(failure, Failure::Unexpected(_)));
        let source = std::error::Error::source(&failure).unwrap();
        assert_eq!(source.to_string(), "relation \"users\" does not exist");
    }

    #[test]
    fn a_lost_connection_is_unavailable() {
        let failure = Failure::from(database_error(
            DatabaseErrorKind::ClosedConnection,
            "server closed the connection",
        ));
        assert!(matches!(failure, Failure::Unavailable(_)));
    }

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
