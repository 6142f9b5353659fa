//! `GET /users/me/security-events`: a user reads the audit events about
//! itself, newest first, a page at a time.

use std::sync::Arc;

use domain::TokenClaims;

use crate::error::SecurityEventsError;
use crate::ports::{AuditCursor, AuditLog, AuditPage, AuditQuery};

/// The caller's own audit events.
#[derive(Clone)]
pub struct SecurityEvents {
    audit: Arc<dyn AuditLog>,
}

impl SecurityEvents {
    pub const DEFAULT_LIMIT: u32 = 50;
    /// Bounds one answer (and one query) however long the history.
    pub const MAX_LIMIT: u32 = 200;

    pub fn new(audit: Arc<dyn AuditLog>) -> Self {
        Self { audit }
    }

    /// One page of the events whose subject is the token's user: never
    /// another user's, whatever the cursor says (the cursor is only a
    /// position, the subject comes from the token).
    #[tracing::instrument(level = "debug", name = "security_events", skip_all, fields(user_id = claims.user_id.get()))]
    pub async fn list(
        &self,
        claims: &TokenClaims,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<AuditPage, SecurityEventsError> {
        let (limit, after) = Self::page_bounds(limit, cursor)?;
        Ok(self
            .audit
            .query(AuditQuery {
                subject: Some(claims.user_id),
                kind: None,
                since: None,
                until: None,
                limit,
                after,
            })
            .await?)
    }

    /// A page's size and start, checked: `limit` within
    /// `1..=MAX_LIMIT` (default [`Self::DEFAULT_LIMIT`]) and a cursor this
    /// service handed out. Shared with the admin's `GET /admin/audit`.
    pub(crate) fn page_bounds(
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<(u32, Option<AuditCursor>), SecurityEventsError> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(SecurityEventsError::InvalidLimit);
        }
        let after = cursor
            .map(AuditCursor::decode)
            .transpose()
            .map_err(|_| SecurityEventsError::InvalidCursor)?;
        Ok((limit, after))
    }
}

#[cfg(test)]
mod tests;
