//! A user's view of its login sessions: list them, end one, end them all.

use std::sync::Arc;

use domain::{AuditEventKind, Session, SessionId, TokenClaims, TokenRejection, UserId};

use super::account_ports::AccountPorts;
use super::session_revocation::SessionRevocation;
use crate::error::SessionAccessError;
use crate::ports::{Clock, NewAuditEvent, SessionRepository, UserRepository};

/// Listing and revoking sessions, for their user or an admin.
#[derive(Clone)]
pub struct SessionManagement {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    revoker: SessionRevocation,
    clock: Arc<dyn Clock>,
}

impl SessionManagement {
    pub fn new(ports: AccountPorts) -> Self {
        Self {
            revoker: ports.revoker(),
            users: ports.users,
            sessions: ports.sessions,
            clock: ports.clock,
        }
    }

    /// The live sessions of `target`, newest first: the caller's own, or
    /// anyone's for an admin.
    #[tracing::instrument(
        level = "debug",
        name = "list_sessions",
        skip_all,
        fields(user_id = claims.user_id.get(), target = target.get())
    )]
    pub async fn list(
        &self,
        claims: &TokenClaims,
        target: UserId,
    ) -> Result<Vec<Session>, SessionAccessError> {
        self.authorize(claims, target).await?;
        Ok(self.sessions.list_live(target, self.clock.now()).await?)
    }

    /// Ends one of the caller's own live sessions (the current one too).
    /// Anything else, another user's session included, is not found: the
    /// answer must not tell whether a session id exists.
    #[tracing::instrument(
        level = "debug",
        name = "revoke_session",
        skip_all,
        fields(user_id = claims.user_id.get(), session_id = %id)
    )]
    pub async fn revoke_own(
        &self,
        claims: &TokenClaims,
        id: &SessionId,
    ) -> Result<(), SessionAccessError> {
        claims.require_fresh()?;
        let now = self.clock.now();
        let revoked = NewAuditEvent::by_user(
            AuditEventKind::SessionRevoked,
            claims.user_id,
            Some(&claims.session_id),
            None,
            now,
            serde_json::json!({ "revoked_session_id": id.as_str() }),
        );
        match self
            .revoker
            .end_one(id, claims.user_id, now, Some(revoked))
            .await?
        {
            Some(ended) if ended.was_live => Ok(()),
            _ => Err(SessionAccessError::SessionNotFound),
        }
    }

    /// Ends every session of `target`, the caller's own included, and any
    /// a login in flight is about to open. Returns how many were live.
    #[tracing::instrument(
        level = "debug",
        name = "revoke_all_sessions",
        skip_all,
        fields(user_id = claims.user_id.get(), target = target.get())
    )]
    pub async fn revoke_all(
        &self,
        claims: &TokenClaims,
        target: UserId,
    ) -> Result<usize, SessionAccessError> {
        claims.require_fresh()?;
        self.authorize(claims, target).await?;
        let now = self.clock.now();
        let revoked = NewAuditEvent {
            at: now,
            kind: AuditEventKind::SessionRevoked,
            actor: Some(claims.user_id),
            subject: Some(target),
            session: Some(claims.session_id.clone()),
            ip: None,
            user_agent: None,
            data: serde_json::json!({ "all": true }),
        };
        Ok(self
            .revoker
            .end_all(target, None, now, Some(revoked))
            .await?)
    }

    /// The caller may act on itself, an admin on anyone who exists.
    async fn authorize(
        &self,
        claims: &TokenClaims,
        target: UserId,
    ) -> Result<(), SessionAccessError> {
        let caller = self
            .users
            .find_by_id(claims.user_id)
            .await?
            .ok_or(SessionAccessError::Token(TokenRejection::Revoked))?;
        if !caller.may_manage(target) {
            return Err(SessionAccessError::Forbidden);
        }
        if caller.id != target && self.users.find_by_id(target).await?.is_none() {
            return Err(SessionAccessError::UserNotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
