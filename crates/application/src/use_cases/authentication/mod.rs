//! Logging in and everything a bearer token is used for.

use std::sync::Arc;

use domain::{EmailAddress, SessionId, TokenClaims, TokenKind, TokenRejection};
use secrecy::SecretString;
use uuid::Uuid;

use super::{IssuedAccess, LoginTokens, NewToken, TokenLifetimes, TokenRequirement, issue_token};
use crate::error::{AuthenticateError, LoginError, LogoutError, RefreshError};
use crate::ports::{
    Clock, PasswordHasher, Revocation, TokenCodec, TokenEncodeError, TokenRevocations,
    UserRepository,
};

/// Login, token checks, refresh and logout.
#[derive(Clone)]
pub struct Authentication {
    users: Arc<dyn UserRepository>,
    revocations: Arc<dyn TokenRevocations>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenCodec>,
    clock: Arc<dyn Clock>,
    lifetimes: TokenLifetimes,
}

impl Authentication {
    pub fn new(
        users: Arc<dyn UserRepository>,
        revocations: Arc<dyn TokenRevocations>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenCodec>,
        clock: Arc<dyn Clock>,
        lifetimes: TokenLifetimes,
    ) -> Self {
        Self {
            users,
            revocations,
            hasher,
            tokens,
            clock,
            lifetimes,
        }
    }

    /// Checks the password and opens a new login session. Unknown emails,
    /// malformed emails and wrong passwords fail alike and cost the same
    /// hash; a malformed email never reaches the user store.
    #[tracing::instrument(level = "debug", name = "login", skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn login(
        &self,
        email: &str,
        password: SecretString,
    ) -> Result<LoginTokens, LoginError> {
        // Lenient on purpose: an account stored under older, looser rules
        // can still log in; what no account can hold (a NUL, no `@`) never
        // reaches the store.
        let found = match EmailAddress::from_storage(email) {
            Ok(email) => self.users.find_credentials(&email.normalized()).await?,
            Err(_) => None,
        };
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let matches = self.hasher.verify(password, hash).await?;
        let user = match user {
            Some(user) if matches => user,
            _ => return Err(LoginError::InvalidCredentials),
        };
        tracing::Span::current().record("user_id", user.id.get());

        let session = SessionId::new(Uuid::new_v4().simple().to_string());
        let access = self.issue(NewToken {
            user_id: user.id,
            session: &session,
            kind: TokenKind::Access,
            fresh: true,
        })?;
        let refresh = self.issue(NewToken {
            user_id: user.id,
            session: &session,
            kind: TokenKind::Refresh,
            fresh: false,
        })?;
        Ok(LoginTokens {
            access_token: access,
            refresh_token: refresh,
            expires_in: self.lifetimes.access_secs(),
        })
    }

    /// Verifies a bearer token for a route: signature, expiry, kind,
    /// revocation (failing closed when the store is down), freshness.
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

    /// A new, non-fresh access token in the refresh token's session. The
    /// user must still exist: the store is the truth even if the
    /// revocation marks were lost.
    #[tracing::instrument(level = "debug", name = "refresh", skip_all, fields(user_id = refresh.user_id.get()))]
    pub async fn refresh(&self, refresh: &TokenClaims) -> Result<IssuedAccess, RefreshError> {
        refresh.require_kind(TokenKind::Refresh)?;
        if self.users.find_by_id(refresh.user_id).await?.is_none() {
            return Err(TokenRejection::Revoked.into());
        }
        let access_token = self.issue(NewToken {
            user_id: refresh.user_id,
            session: &refresh.session_id,
            kind: TokenKind::Access,
            fresh: false,
        })?;
        Ok(IssuedAccess {
            access_token,
            expires_in: self.lifetimes.access_secs(),
        })
    }

    /// Revokes the refresh token and every token of its login session.
    #[tracing::instrument(level = "debug", name = "logout", skip_all, fields(user_id = refresh.user_id.get()))]
    pub async fn logout(&self, refresh: &TokenClaims) -> Result<(), LogoutError> {
        refresh.require_kind(TokenKind::Refresh)?;
        let now = self.clock.now();
        let refresh_left = refresh.remaining_secs(now);
        // Access tokens of this session were issued at or before now, so
        // none outlives now + access ttl.
        let session_ttl = refresh_left.max(self.lifetimes.access_secs().saturating_add(1));
        self.revocations
            .revoke(vec![
                Revocation::Token {
                    id: refresh.token_id.clone(),
                    ttl_secs: refresh_left,
                },
                Revocation::Session {
                    id: refresh.session_id.clone(),
                    ttl_secs: session_ttl,
                },
            ])
            .await?;
        Ok(())
    }

    fn issue(&self, token: NewToken<'_>) -> Result<String, TokenEncodeError> {
        issue_token(
            self.tokens.as_ref(),
            &self.lifetimes,
            self.clock.now(),
            token,
        )
    }
}

#[cfg(test)]
mod tests;
