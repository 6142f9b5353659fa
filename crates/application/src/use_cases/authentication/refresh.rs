//! The refresh path: renewing the access token (and, when refresh tokens
//! rotate, the refresh token) from the session store's word, retrying when
//! another refresh rotates the session under it, and restoring the Redis
//! marks of an ended session whose token still passed a check.

use chrono::{DateTime, Utc};
use domain::{AuditEventKind, RefreshDecision, Session, TokenClaims, TokenKind, TokenRejection};

use super::{Authentication, overflow};
use crate::error::{Dependency, DependencyError, RefreshError};
use crate::ports::{NewAuditEvent, TokenEncodeError};
use crate::use_cases::{NewToken, RefreshedTokens};

/// How often a refresh re-reads a session that another refresh rotated
/// under it. The second read sees the new generation and replays it, so
/// more than one retry means rotations keep racing.
const ROTATION_ATTEMPTS: usize = 3;

impl Authentication {
    /// A new, non-fresh access token in the refresh token's session and,
    /// when refresh tokens rotate, the session's next refresh token. The
    /// session store decides, not the Redis marks: a session revoked there
    /// stays dead even if Redis lost its marks.
    #[tracing::instrument(level = "debug", name = "refresh", skip_all, fields(user_id = refresh.user_id.get()))]
    pub async fn refresh(&self, refresh: &TokenClaims) -> Result<RefreshedTokens, RefreshError> {
        let presented = refresh.refresh_generation()?;
        for _ in 0..ROTATION_ATTEMPTS {
            let now = self.clock.now();
            let session = match self.sessions.find(refresh.session_id.clone()).await? {
                // Gone with its user (deleted), or a session of someone else.
                Some(session) if session.user_id == refresh.user_id => session,
                _ => return Err(TokenRejection::Revoked.into()),
            };
            match session.decide_refresh(presented, now, &self.policy) {
                RefreshDecision::Revoked => {
                    self.heal_marks(&session, now).await;
                    return Err(TokenRejection::Revoked.into());
                }
                RefreshDecision::Expired => return Err(TokenRejection::Expired.into()),
                RefreshDecision::Reuse => {
                    tracing::warn!(
                        session_id = %session.id,
                        presented,
                        current = session.generation,
                        "refresh token reuse: revoking the session"
                    );
                    // The service ends the session, not its user: no actor.
                    let detected = NewAuditEvent {
                        at: now,
                        kind: AuditEventKind::SessionReuseDetected,
                        actor: None,
                        subject: Some(session.user_id),
                        session: Some(session.id.clone()),
                        ip: None,
                        user_agent: None,
                        data: serde_json::json!({
                            "presented_generation": presented,
                            "current_generation": session.generation,
                        }),
                    };
                    self.revoker
                        .end_one(&session.id, session.user_id, now, Some(detected))
                        .await?;
                    return Err(RefreshError::Reused);
                }
                RefreshDecision::Extend => {
                    self.sessions.touch(session.id.clone(), now).await?;
                    return Ok(RefreshedTokens {
                        access_token: self.access_token(&session)?,
                        refresh_token: None,
                        expires_in: self.lifetimes.access_secs(),
                    });
                }
                RefreshDecision::ReplayCurrent => {
                    self.sessions.touch(session.id.clone(), now).await?;
                    return self.rotated_tokens(&session, session.generation, session.expires_at);
                }
                RefreshDecision::Rotate { to } => {
                    let expires_at = self
                        .policy
                        .refresh_expiry(session.created_at, now)
                        .ok_or_else(overflow)?;
                    let rotated = self
                        .sessions
                        .rotate(session.id.clone(), session.generation, expires_at, now)
                        .await?;
                    if rotated {
                        return self.rotated_tokens(&session, to, expires_at);
                    }
                    // Another refresh rotated it first: read it again.
                }
            }
        }
        Err(RefreshError::Dependency(DependencyError::Unavailable(
            Dependency::SessionStore,
            "the session kept rotating under this refresh".into(),
        )))
    }

    /// A token of an ended session passed the token check, so its Redis
    /// marks were lost: write them again. The answer is `token_revoked`
    /// either way, so a failure here is only logged.
    pub(super) async fn heal_marks(&self, session: &Session, now: DateTime<Utc>) {
        let ended = crate::ports::EndedSession {
            id: session.id.clone(),
            expires_at: session.expires_at,
            was_live: false,
        };
        if let Err(error) = self.revoker.mark(session.user_id, &[ended], now).await {
            tracing::warn!(
                session_id = %session.id,
                error.chain = %crate::ErrorChain(&error),
                "could not restore the revocation mark of an ended session"
            );
        }
    }

    fn access_token(&self, session: &Session) -> Result<String, TokenEncodeError> {
        self.issue(NewToken {
            user_id: session.user_id,
            session: &session.id,
            kind: TokenKind::Access,
            fresh: false,
            generation: None,
            expires_at: None,
            methods: session.methods,
        })
    }

    fn rotated_tokens(
        &self,
        session: &Session,
        generation: u64,
        expires_at: DateTime<Utc>,
    ) -> Result<RefreshedTokens, RefreshError> {
        let refresh_token = self.issue(NewToken {
            user_id: session.user_id,
            session: &session.id,
            kind: TokenKind::Refresh,
            fresh: false,
            generation: Some(generation),
            expires_at: Some(expires_at),
            methods: session.methods,
        })?;
        Ok(RefreshedTokens {
            access_token: self.access_token(session)?,
            refresh_token: Some(refresh_token),
            expires_in: self.lifetimes.access_secs(),
        })
    }
}
