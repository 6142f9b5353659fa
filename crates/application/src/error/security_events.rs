//! The errors of `GET /users/me/security-events`
//! ([`crate::SecurityEvents`]) and `GET /admin/audit`
//! ([`crate::AuditTrail`]).

use domain::TokenRejection;

use super::DependencyError;
use crate::ports::{AuditLogError, RepositoryError};

/// `SecurityEvents::list`.
#[derive(Debug, thiserror::Error)]
pub enum SecurityEventsError {
    /// Outside `1..=SecurityEvents::MAX_LIMIT`.
    #[error("the page size is out of range")]
    InvalidLimit,
    /// Not a cursor this service handed out.
    #[error("the cursor is invalid")]
    InvalidCursor,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(SecurityEventsError: AuditLogError);

/// `AuditTrail::search`.
#[derive(Debug, thiserror::Error)]
pub enum AuditTrailError {
    /// The caller's account is gone.
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    #[error("only an admin may read the audit log")]
    Forbidden,
    /// `limit` outside 1–200: refused rather than clamped.
    #[error("the page size is out of range")]
    InvalidLimit,
    /// Not a cursor this service handed out.
    #[error("the cursor is invalid")]
    InvalidCursor,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

impl From<SecurityEventsError> for AuditTrailError {
    fn from(error: SecurityEventsError) -> Self {
        match error {
            SecurityEventsError::InvalidLimit => Self::InvalidLimit,
            SecurityEventsError::InvalidCursor => Self::InvalidCursor,
            SecurityEventsError::Dependency(error) => Self::Dependency(error),
        }
    }
}

dependency_failures!(AuditTrailError: AuditLogError, RepositoryError);
