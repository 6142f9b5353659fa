//! The errors of `GET /users/me/security-events`
//! ([`crate::SecurityEvents`]).

use super::DependencyError;
use crate::ports::AuditLogError;

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
