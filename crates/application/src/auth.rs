//! The authentication and user use cases.

use std::sync::Arc;

use chrono::Duration;
use domain::{
    EmailAddress, NewUser, Password, SessionId, TokenClaims, TokenId, TokenKind, TokenRejection,
    User, UserId, Username,
};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::EmailJob;
use crate::error::AuthError;
use crate::ports::{
    Clock, PasswordHasher, Revocation, TokenCodec, TokenRevocations, UserRepository,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthSettings {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            access_ttl: Duration::seconds(300),
            refresh_ttl: Duration::seconds(2_592_000),
        }
    }
}

/// A sign-up whose fields are already valid.
#[derive(Debug, Clone)]
pub struct Registration {
    pub username: Username,
    pub email: EmailAddress,
    pub password: Password,
}

/// What a protected route demands of the bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRequirement {
    Access,
    FreshAccess,
    Refresh,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedAccess {
    pub access_token: String,
    pub expires_in: u64,
}

/// The auth use cases, written against ports only.
#[derive(Clone)]
pub struct Auth {
    users: Arc<dyn UserRepository>,
    revocations: Arc<dyn TokenRevocations>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenCodec>,
    clock: Arc<dyn Clock>,
    /// Wakes the outbox relay when a registration committed a job.
    outbox_wakeup: Arc<Notify>,
    settings: AuthSettings,
}

impl Auth {
    pub fn new(
        users: Arc<dyn UserRepository>,
        revocations: Arc<dyn TokenRevocations>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenCodec>,
        clock: Arc<dyn Clock>,
        outbox_wakeup: Arc<Notify>,
        settings: AuthSettings,
    ) -> Self {
        Self {
            users,
            revocations,
            hasher,
            tokens,
            clock,
            outbox_wakeup,
            settings,
        }
    }

    pub fn settings(&self) -> AuthSettings {
        self.settings
    }

    /// Creates the account and, in the same transaction, its welcome email.
    pub async fn register(&self, registration: Registration) -> Result<User, AuthError> {
        let password_hash = self.hasher.hash(registration.password).await?;
        let now = self.clock.now();
        let welcome = EmailJob::new(
            crate::Email::Welcome {
                to: registration.email.as_str().to_owned(),
                username: registration.username.as_str().to_owned(),
            },
            now,
        );
        let user = self
            .users
            .create(
                NewUser {
                    username: registration.username,
                    email: registration.email,
                    password_hash,
                },
                welcome,
            )
            .await?;
        self.outbox_wakeup.notify_one();
        Ok(user)
    }

    /// Checks the password and opens a new login session. Unknown emails
    /// and wrong passwords fail alike and cost the same hash.
    pub async fn login(&self, email: &str, password: &str) -> Result<LoginTokens, AuthError> {
        let found = self
            .users
            .find_credentials(&EmailAddress::normalize(email))
            .await?;
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let matches = self.hasher.verify(password.to_owned(), hash).await?;
        let user = match user {
            Some(user) if matches => user,
            _ => return Err(AuthError::InvalidCredentials),
        };

        let session = SessionId::new(Uuid::new_v4().simple().to_string());
        let access = self.issue(user.id, &session, TokenKind::Access, true)?;
        let refresh = self.issue(user.id, &session, TokenKind::Refresh, false)?;
        Ok(LoginTokens {
            access_token: access,
            refresh_token: refresh,
            expires_in: self.access_ttl_secs(),
        })
    }

    /// Verifies a bearer token for a route: signature, expiry, kind,
    /// revocation (failing closed when the store is down), freshness.
    pub async fn authenticate(
        &self,
        token: &str,
        requirement: TokenRequirement,
    ) -> Result<TokenClaims, AuthError> {
        let claims = self.tokens.decode(token)?;
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

    /// A new, non-fresh access token in the refresh token's session.
    pub async fn refresh(&self, refresh: &TokenClaims) -> Result<IssuedAccess, AuthError> {
        refresh.require_kind(TokenKind::Refresh)?;
        let access_token = self.issue(
            refresh.user_id,
            &refresh.session_id,
            TokenKind::Access,
            false,
        )?;
        Ok(IssuedAccess {
            access_token,
            expires_in: self.access_ttl_secs(),
        })
    }

    /// Revokes the refresh token and every token of its login session.
    pub async fn logout(&self, refresh: &TokenClaims) -> Result<(), AuthError> {
        refresh.require_kind(TokenKind::Refresh)?;
        let now = self.clock.now();
        let refresh_left = refresh.remaining_secs(now);
        // Access tokens of this session were issued at or before now, so
        // none outlives now + access ttl.
        let session_ttl = refresh_left.max(self.access_ttl_secs() + 1);
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

    /// The user a verified token belongs to. A token whose user is gone is
    /// treated as revoked.
    pub async fn current_user(&self, claims: &TokenClaims) -> Result<User, AuthError> {
        self.users
            .find_by_id(claims.user_id)
            .await?
            .ok_or(AuthError::Token(TokenRejection::Revoked))
    }

    /// Reads a user: callers see themselves, admins see anyone.
    pub async fn get_user(&self, claims: &TokenClaims, target: UserId) -> Result<User, AuthError> {
        let caller = self.authorize(claims, target).await?;
        if caller.id == target {
            return Ok(caller);
        }
        self.users
            .find_by_id(target)
            .await?
            .ok_or(AuthError::UserNotFound)
    }

    /// Deletes a user and revokes every token it holds. Needs a fresh token.
    pub async fn delete_user(&self, claims: &TokenClaims, target: UserId) -> Result<(), AuthError> {
        claims.require_fresh()?;
        let caller = self.authorize(claims, target).await?;
        if caller.id != target && self.users.find_by_id(target).await?.is_none() {
            return Err(AuthError::UserNotFound);
        }
        // Revoke first: if the delete then fails, the user only has to log
        // in again, whereas the other order could leave live tokens behind.
        let now = self.clock.now();
        self.revocations
            .revoke(vec![Revocation::User {
                id: target,
                issued_until: now,
                ttl_secs: self.longest_token_life_secs(),
            }])
            .await?;
        if self.users.delete(target).await? {
            Ok(())
        } else {
            Err(AuthError::UserNotFound)
        }
    }

    async fn authorize(&self, claims: &TokenClaims, target: UserId) -> Result<User, AuthError> {
        let caller = self.current_user(claims).await?;
        if caller.may_manage(target) {
            Ok(caller)
        } else {
            Err(AuthError::Forbidden)
        }
    }

    fn issue(
        &self,
        user_id: UserId,
        session: &SessionId,
        kind: TokenKind,
        fresh: bool,
    ) -> Result<String, AuthError> {
        let issued_at = self.clock.now();
        let ttl = match kind {
            TokenKind::Access => self.settings.access_ttl,
            TokenKind::Refresh => self.settings.refresh_ttl,
        };
        let claims = TokenClaims {
            user_id,
            token_id: TokenId::new(Uuid::new_v4().simple().to_string()),
            session_id: session.clone(),
            kind,
            fresh,
            issued_at,
            expires_at: issued_at + ttl,
        };
        Ok(self.tokens.encode(&claims)?)
    }

    fn access_ttl_secs(&self) -> u64 {
        self.settings.access_ttl.num_seconds().max(0) as u64
    }

    fn longest_token_life_secs(&self) -> u64 {
        let longest = self.settings.access_ttl.max(self.settings.refresh_ttl);
        longest.num_seconds().max(0) as u64 + 1
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
