//! Logging out: ending this session, the others, or all of them.

use domain::{AuditEventKind, LogoutScope, TokenClaims, TokenKind, TokenRejection};

use super::Authentication;
use crate::error::LogoutError;
use crate::ports::NewAuditEvent;

impl Authentication {
    /// Ends the sessions `scope` names. Any refresh token of a live session
    /// will do, a superseded one too: ending the session is the point.
    /// Its `user.logged_out` (data: `scope`) is written with the change.
    #[tracing::instrument(
        level = "debug",
        name = "logout",
        skip_all,
        fields(user_id = refresh.user_id.get(), %scope)
    )]
    pub async fn logout(
        &self,
        refresh: &TokenClaims,
        scope: LogoutScope,
    ) -> Result<(), LogoutError> {
        refresh.require_kind(TokenKind::Refresh)?;
        let now = self.clock.now();
        let user = refresh.user_id;
        let logged_out = NewAuditEvent::by_user(
            AuditEventKind::LoggedOut,
            user,
            Some(&refresh.session_id),
            None,
            now,
            serde_json::json!({ "scope": scope.to_string() }),
        );
        match scope {
            LogoutScope::Local => {
                match self
                    .revoker
                    .end_one(&refresh.session_id, user, now, Some(logged_out))
                    .await?
                {
                    Some(ended) if ended.was_live => Ok(()),
                    _ => Err(TokenRejection::Revoked.into()),
                }
            }
            LogoutScope::Others | LogoutScope::Global => {
                let live = self
                    .sessions
                    .find(refresh.session_id.clone())
                    .await?
                    .filter(|session| session.user_id == user);
                match live {
                    Some(session) if session.is_live_at(now) => {}
                    Some(session) => {
                        self.heal_marks(&session, now).await;
                        return Err(TokenRejection::Revoked.into());
                    }
                    None => return Err(TokenRejection::Revoked.into()),
                }
                let keep = (scope == LogoutScope::Others).then_some(&refresh.session_id);
                self.revoker
                    .end_all(user, keep, now, Some(logged_out))
                    .await?;
                Ok(())
            }
        }
    }
}
