//! The errors of the admins' changes to accounts ([`crate::AdminActions`]):
//! one enum per operation.

use domain::TokenRejection;

use super::DependencyError;
use crate::ports::{HashError, RepositoryError};

/// `AdminActions::create_user`.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// The caller's account is gone.
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    #[error("only an admin may create users")]
    Forbidden,
    #[error("a user with that email already exists")]
    EmailTaken,
    /// The store cannot hold a value the domain accepted (a NUL byte).
    #[error("the user store refused the input")]
    InvalidInput(#[source] RepositoryError),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

impl From<RepositoryError> for CreateUserError {
    fn from(error: RepositoryError) -> Self {
        match error {
            RepositoryError::EmailTaken => CreateUserError::EmailTaken,
            RepositoryError::InvalidInput(_) => CreateUserError::InvalidInput(error),
            other => CreateUserError::Dependency(other.into()),
        }
    }
}

dependency_failures!(CreateUserError: HashError);

/// `AdminActions::update_user`.
#[derive(Debug, thiserror::Error)]
pub enum UpdateUserError {
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    #[error("only an admin may change users")]
    Forbidden,
    #[error("user not found")]
    UserNotFound,
    /// An admin may not take its own role away.
    #[error("an admin cannot demote itself")]
    SelfDemotion,
    /// The change would leave no admin.
    #[error("the last admin cannot be demoted")]
    LastAdmin,
    /// The store cannot hold a value the domain accepted (a NUL byte).
    #[error("the user store refused the input")]
    InvalidInput(#[source] RepositoryError),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

impl From<RepositoryError> for UpdateUserError {
    fn from(error: RepositoryError) -> Self {
        match error {
            RepositoryError::InvalidInput(_) => UpdateUserError::InvalidInput(error),
            other => UpdateUserError::Dependency(other.into()),
        }
    }
}

/// `AdminActions::ban`.
#[derive(Debug, thiserror::Error)]
pub enum BanUserError {
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    #[error("only an admin may ban users")]
    Forbidden,
    #[error("user not found")]
    UserNotFound,
    #[error("an admin cannot ban itself")]
    SelfBan,
    /// `until` is not in the future.
    #[error("the end of a ban must be in the future")]
    UntilInPast,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(BanUserError: RepositoryError);

/// `AdminActions::unban`, `end_sessions` and `reset_mfa`.
#[derive(Debug, thiserror::Error)]
pub enum AdminUserActionError {
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    #[error("only an admin may act on users")]
    Forbidden,
    #[error("user not found")]
    UserNotFound,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(AdminUserActionError: RepositoryError);
