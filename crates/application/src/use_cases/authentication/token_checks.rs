//! Token checks: verifying a bearer token for a route, and, for a route
//! that changes an account, its session's liveness in PostgreSQL too.

use domain::{AssuranceLevel, TokenClaims, TokenKind, TokenRejection};

use super::Authentication;
use crate::error::AuthenticateError;
use crate::use_cases::TokenRequirement;

impl Authentication {
    /// Verifies a bearer token for a route: signature, expiry, kind,
    /// revocation (failing closed when the store is down), freshness. Reads
    /// Redis only: the session table is never touched on a token check.
    #[tracing::instrument(
        level = "debug",
        name = "authenticate",
        skip_all,
        fields(?requirement, user_id = tracing::field::Empty)
    )]
    pub async fn authenticate(
        &self,
        token: &str,
        requirement: TokenRequirement,
    ) -> Result<TokenClaims, AuthenticateError> {
        let claims = self.tokens.decode(token)?;
        tracing::Span::current().record("user_id", claims.user_id.get());
        // The codec checks expiry too; this guards codecs with leeway.
        if claims.is_expired_at(self.clock.now()) {
            return Err(TokenRejection::Expired.into());
        }
        let kind = match requirement {
            TokenRequirement::Access | TokenRequirement::FreshAccess => TokenKind::Access,
            TokenRequirement::Refresh => TokenKind::Refresh,
        };
        claims.require_kind(kind)?;
        if self.revocations.is_revoked(&claims).await? {
            return Err(TokenRejection::Revoked.into());
        }
        if requirement == TokenRequirement::FreshAccess {
            claims.require_fresh()?;
        }
        Ok(claims)
    }

    /// [`Self::authenticate`] for a route that changes an account: the
    /// token's session must also be live in PostgreSQL, not only unmarked
    /// in Redis. A session ended there whose Redis marks are missing (not
    /// written yet, or lost) is refused all the same, as `Revoked`, and its
    /// marks are written again; so is an expired session, and a session
    /// that is gone or belongs to someone else. Costs one read of the
    /// session store, which ordinary token checks never pay. A user with a
    /// second factor must also have passed it in this session's login
    /// (`aal2`); only an `aal1` token pays that read.
    #[tracing::instrument(
        level = "debug",
        name = "authenticate_live",
        skip_all,
        fields(?requirement, user_id = tracing::field::Empty)
    )]
    pub async fn authenticate_live(
        &self,
        token: &str,
        requirement: TokenRequirement,
    ) -> Result<TokenClaims, AuthenticateError> {
        let claims = self.authenticate_live_any_level(token, requirement).await?;
        if claims.methods.level() < AssuranceLevel::Aal2
            && self
                .factor
                .store
                .totp(claims.user_id)
                .await?
                .is_some_and(|totp| totp.enabled_at.is_some())
        {
            return Err(AuthenticateError::SecondFactorRequired);
        }
        Ok(claims)
    }

    /// [`Self::authenticate_live`] without the second-factor rule: for the
    /// routes that set the second factor up, which a session from before
    /// it existed must reach.
    #[tracing::instrument(
        level = "debug",
        name = "authenticate_live",
        skip_all,
        fields(?requirement, user_id = tracing::field::Empty)
    )]
    pub async fn authenticate_live_any_level(
        &self,
        token: &str,
        requirement: TokenRequirement,
    ) -> Result<TokenClaims, AuthenticateError> {
        let claims = self.authenticate(token, requirement).await?;
        tracing::Span::current().record("user_id", claims.user_id.get());
        let now = self.clock.now();
        match self.sessions.find(claims.session_id.clone()).await? {
            Some(session) if session.user_id == claims.user_id && session.is_live_at(now) => {
                Ok(claims)
            }
            Some(session) if session.user_id == claims.user_id => {
                if session.revoked_at.is_some() {
                    tracing::warn!(
                        session_id = %session.id,
                        "a token of an ended session passed the token check"
                    );
                    self.heal_marks(&session, now).await;
                }
                Err(TokenRejection::Revoked.into())
            }
            _ => Err(TokenRejection::Revoked.into()),
        }
    }
}
