//! How a transaction of [`super::PgOneTimeSecretStore`] fails: the
//! reasons it rolls back ([`Abort`]), running it within the query timeout,
//! and mapping what went wrong onto [`SecretStoreError`].

use application::ports::SecretStoreError;
use domain::User;

use crate::account_steps::{EMAIL_UNIQUE, UserRow};
use crate::error::Failure;
use crate::pool::Db;

pub(super) fn store_error(failure: Failure) -> SecretStoreError {
    match failure {
        Failure::Unavailable(_) => SecretStoreError::Unavailable(failure.into()),
        _ => SecretStoreError::Unexpected(failure.into()),
    }
}

/// A row the domain refuses: reported with its cause, never as a user.
#[derive(Debug, thiserror::Error)]
#[error("a stored user no longer loads")]
pub(super) struct CorruptUser(#[source] pub(super) application::ports::RepositoryError);

/// Loads a user row as a domain user; a row the domain refuses is a bug or
/// a manual edit, reported with its cause.
pub(super) fn loaded(row: UserRow) -> Result<User, SecretStoreError> {
    row.user()
        .map_err(|error| SecretStoreError::Unexpected(Box::new(CorruptUser(error))))
}

/// Why a transaction of this store was rolled back.
#[derive(Debug)]
pub(super) enum Abort {
    Query(diesel::result::Error),
    /// Another account holds the address an email change moves to.
    AddressTaken,
    /// A user row the domain refuses.
    Corrupt(CorruptUser),
}

impl From<diesel::result::Error> for Abort {
    fn from(error: diesel::result::Error) -> Self {
        match error {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                ref info,
            ) if info.constraint_name() == Some(EMAIL_UNIQUE) => Abort::AddressTaken,
            other => Abort::Query(other),
        }
    }
}

/// Runs `transaction` within the query timeout, keeping a rollback's reason
/// apart from the driver's errors.
pub(super) async fn bounded_transaction<T>(
    db: &Db,
    transaction: impl Future<Output = Result<T, Abort>>,
) -> Result<Result<T, Abort>, SecretStoreError> {
    db.bounded(async {
        match transaction.await {
            Err(Abort::Query(error)) => Err(error),
            other => Ok(other),
        }
    })
    .await
    .map_err(store_error)
}

/// An abort a transaction cannot end with (a query error is returned as
/// such by [`bounded_transaction`]; an address conflict only by an email
/// change): reported as a bug.
pub(super) fn unexpected_abort(abort: Abort) -> SecretStoreError {
    SecretStoreError::Unexpected(format!("transaction aborted unexpectedly: {abort:?}").into())
}
