//! `GET /admin/audit`: an admin reads the audit log, filtered by subject,
//! type and time, newest first, a page at a time.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::{AuditEventKind, Role, TokenClaims, TokenRejection, UserId};

use crate::error::AuditTrailError;
use crate::ports::{AuditLog, AuditPage, AuditQuery, UserRepository};
use crate::use_cases::SecurityEvents;

/// The admin's view of the audit log.
#[derive(Clone)]
pub struct AuditTrail {
    users: Arc<dyn UserRepository>,
    audit: Arc<dyn AuditLog>,
}

/// The filters as the client gave them, already parsed; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditTrailRequest {
    /// Only events whose subject is this user.
    pub user_id: Option<UserId>,
    pub kind: Option<AuditEventKind>,
    /// Events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Events strictly before this instant.
    pub until: Option<DateTime<Utc>>,
    /// 1–200; `None` is [`SecurityEvents::DEFAULT_LIMIT`].
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl AuditTrail {
    pub fn new(users: Arc<dyn UserRepository>, audit: Arc<dyn AuditLog>) -> Self {
        Self { users, audit }
    }

    /// One page of the events that match `request`. Admins only: the role
    /// is read from the store, not the token, so a demoted admin loses the
    /// log at once (as with the user search).
    #[tracing::instrument(level = "debug", name = "admin_audit", skip_all, fields(user_id = claims.user_id.get()))]
    pub async fn search(
        &self,
        claims: &TokenClaims,
        request: AuditTrailRequest,
    ) -> Result<AuditPage, AuditTrailError> {
        let caller = self
            .users
            .find_by_id(claims.user_id)
            .await?
            .ok_or(AuditTrailError::Token(TokenRejection::Revoked))?;
        if caller.role != Role::Admin {
            return Err(AuditTrailError::Forbidden);
        }
        let (limit, after) = SecurityEvents::page_bounds(request.limit, request.cursor.as_deref())?;
        Ok(self
            .audit
            .query(AuditQuery {
                subject: request.user_id,
                kind: request.kind,
                since: request.since,
                until: request.until,
                limit,
                after,
            })
            .await?)
    }
}

#[cfg(test)]
mod tests;
