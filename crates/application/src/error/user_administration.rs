//! The errors of the admins' operations on accounts
//! ([`crate::UserAdministration`]).

use domain::TokenRejection;

use super::DependencyError;
use crate::ports::RepositoryError;

/// `UserAdministration::search`.
#[derive(Debug, thiserror::Error)]
pub enum SearchUsersError {
    /// The caller's account is gone.
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    #[error("only an admin may search users")]
    Forbidden,
    /// `limit` outside 1–200: refused rather than clamped, so a client
    /// never receives fewer rows than it asked for without knowing why.
    #[error("limit must be between 1 and 200")]
    InvalidLimit,
    /// Not a cursor this service handed out.
    #[error("the cursor is not valid")]
    InvalidCursor,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(SearchUsersError: RepositoryError);
