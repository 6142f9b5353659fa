//! The use cases, written against ports only: [`Authentication`] (login,
//! token checks, refresh, logout) and [`UserAccounts`] (sign-up and the
//! management of existing accounts).

mod authentication;
mod user_accounts;
// Rate limits (issue 12).
mod login_attempts;
mod request_limits;

#[cfg(test)]
mod test_support;

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use domain::{
    EmailAddress, Password, SessionId, TokenClaims, TokenId, TokenKind, UserId, Username,
};
use uuid::Uuid;

use crate::ports::{TokenCodec, TokenEncodeError};

pub use authentication::Authentication;
pub use user_accounts::UserAccounts;
// Rate limits (issue 12).
pub use login_attempts::{Attempt, AttemptOutcome, LoginAttempts};
pub use request_limits::{Allowance, RequestLimits};

/// How long issued tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimes {
    pub access: Duration,
    pub refresh: Duration,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self {
            access: Duration::seconds(300),
            refresh: Duration::seconds(2_592_000),
        }
    }
}

impl TokenLifetimes {
    pub(crate) fn access_secs(&self) -> u64 {
        u64::try_from(self.access.num_seconds()).unwrap_or(0)
    }

    /// Outlives every token issued up to now: how long a revocation that
    /// must cover all of a user's tokens has to be kept.
    pub(crate) fn longest_secs(&self) -> u64 {
        let longest = self.access.max(self.refresh).num_seconds();
        u64::try_from(longest).unwrap_or(0).saturating_add(1)
    }

    fn of(&self, kind: TokenKind) -> Duration {
        match kind {
            TokenKind::Access => self.access,
            TokenKind::Refresh => self.refresh,
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

/// The tokens of a new login session. Its `Debug` hides the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

/// A new access token. Its `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedAccess {
    pub access_token: String,
    pub expires_in: u64,
}

impl fmt::Debug for LoginTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginTokens")
            .field("access_token", &"********")
            .field("refresh_token", &"********")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

impl fmt::Debug for IssuedAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedAccess")
            .field("access_token", &"********")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// What a new token says before it is signed.
pub(crate) struct NewToken<'a> {
    pub user_id: UserId,
    pub session: &'a SessionId,
    pub kind: TokenKind,
    pub fresh: bool,
}

/// Signs a new token issued at `now`. A lifetime that overflows the
/// calendar is an error, never a panic.
pub(crate) fn issue_token(
    codec: &dyn TokenCodec,
    lifetimes: &TokenLifetimes,
    now: DateTime<Utc>,
    token: NewToken<'_>,
) -> Result<String, TokenEncodeError> {
    let expires_at = now
        .checked_add_signed(lifetimes.of(token.kind))
        .ok_or_else(|| TokenEncodeError("the token lifetime overflows the calendar".into()))?;
    codec.encode(&TokenClaims {
        user_id: token.user_id,
        token_id: TokenId::new(Uuid::new_v4().simple().to_string()),
        session_id: token.session.clone(),
        kind: token.kind,
        fresh: token.fresh,
        issued_at: now,
        expires_at,
    })
}
