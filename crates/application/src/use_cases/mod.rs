//! The use cases, written against ports only: [`Authentication`] (login,
//! token checks, refresh, logout), [`UserAccounts`] (sign-up and the
//! management of existing accounts), [`SessionManagement`] (listing and
//! revoking login sessions), and the account lifecycle by email:
//! [`EmailVerification`], [`PasswordReset`], [`PasswordChange`],
//! [`EmailChange`], and the operator's [`Administration`].

mod account_emails;
mod account_ports;
mod admin_actions;
mod admin_audit;
mod administration;
mod authentication;
mod email_change;
mod email_verification;
mod password_change;
mod password_reset;
mod purge;
mod revocation_marks;
mod revocation_replay;
mod second_factor;
mod security_events;
mod session_revocation;
mod sessions;
mod signing_keys;
mod user_accounts;
mod user_administration;
// Rate limits.
mod login_attempts;
mod request_limits;

#[cfg(test)]
mod test_support;

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use domain::{
    EmailAddress, Password, RefreshPolicy, SessionId, TokenClaims, TokenId, TokenKind, UserId,
    Username,
};
use uuid::Uuid;

use crate::ports::{TokenCodec, TokenEncodeError};

pub use account_emails::{AccountEmailSettings, SecretMail};
pub use account_ports::AccountPorts;
pub use admin_actions::{AdminActions, AdminCaller, BanRequest, NewUserByAdmin};
pub use admin_audit::{AuditTrail, AuditTrailRequest};
pub use administration::Administration;
pub use authentication::{
    Authentication, AuthenticationPorts, LoginRequest, SecondFactorProof, SecondStepRequest,
};
pub use email_change::EmailChange;
pub use email_verification::EmailVerification;
pub use password_change::PasswordChange;
pub use password_reset::PasswordReset;
pub use purge::{Purge, PurgeReport, PurgeSettings};
pub use revocation_marks::RevocationMarks;
pub use revocation_replay::{ReplaySettings, RevocationReplay};
pub use second_factor::{SecondFactor, SecondFactorPorts, TotpEnrolmentKit};
pub use security_events::SecurityEvents;
pub use sessions::SessionManagement;
pub use signing_keys::{SigningKeyError, SigningKeys};
pub use user_accounts::UserAccounts;
pub use user_administration::{UserAdministration, UserPage, UserSearchRequest};
// Rate limits.
pub use login_attempts::{
    Attempt, AttemptClient, AttemptOutcome, AttemptSubject, LoginAttempts, LoginThrottles,
};
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

    fn of(&self, kind: TokenKind) -> Duration {
        match kind {
            TokenKind::Access => self.access,
            TokenKind::Refresh => self.refresh,
        }
    }
}

/// How login sessions behave (see [`RefreshPolicy`] for rotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// `REFRESH_TOKEN_ROTATION`
    pub rotation: bool,
    /// `REFRESH_REUSE_INTERVAL`
    pub reuse_interval: Duration,
    /// `SESSION_MAX_LIFETIME`
    pub max_lifetime: Duration,
    /// `NOTIFY_NEW_DEVICE_LOGIN`
    pub notify_new_device: bool,
    /// `MAX_SESSIONS_PER_USER`: the most live sessions a user has; a login
    /// beyond it ends the least recently used.
    pub max_per_user: u32,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            rotation: true,
            reuse_interval: Duration::seconds(10),
            max_lifetime: Duration::days(90),
            notify_new_device: true,
            max_per_user: Self::DEFAULT_MAX_PER_USER,
        }
    }
}

impl SessionSettings {
    /// How far back a login looks for a session from the same device
    /// before it sends the new-device email.
    pub const KNOWN_DEVICE_LOOKBACK: Duration = Duration::days(90);

    /// `MAX_SESSIONS_PER_USER` when unset.
    pub const DEFAULT_MAX_PER_USER: u32 = 100;

    pub(crate) fn refresh_policy(&self, lifetimes: &TokenLifetimes) -> RefreshPolicy {
        RefreshPolicy {
            rotation: self.rotation,
            reuse_interval: self.reuse_interval,
            refresh_lifetime: lifetimes.refresh,
            max_lifetime: self.max_lifetime,
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
    /// Whose session it is: the request's logs name the user.
    pub user_id: domain::UserId,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    /// What the client sends back with its next login, so that failures
    /// elsewhere never throttle it.
    pub device_token: domain::DeviceToken,
}

/// How a right password ends: signed in, or asked for the second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    SignedIn(LoginTokens),
    /// The user has TOTP enabled: no session yet, and no tokens.
    SecondFactorRequired(SecondFactorChallenge),
}

/// The `mfa_token` a login's second step must bring back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactorChallenge {
    pub user_id: domain::UserId,
    pub mfa_token: domain::MfaChallengeToken,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// The answer to a refresh: a new access token and, when refresh tokens
/// rotate, the session's new refresh token. Its `Debug` hides the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshedTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
}

impl fmt::Debug for LoginTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginTokens")
            .field("user_id", &self.user_id)
            .field("access_token", &"********")
            .field("refresh_token", &"********")
            .field("expires_in", &self.expires_in)
            .field("device_token", &self.device_token)
            .finish()
    }
}

impl fmt::Debug for RefreshedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshedTokens")
            .field("access_token", &"********")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "********"),
            )
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
    /// The session's rotation counter, on refresh tokens.
    pub generation: Option<u64>,
    /// Overrides `now + lifetime` (refresh tokens end with their session).
    pub expires_at: Option<DateTime<Utc>>,
    /// How the session was authenticated (written on access tokens).
    pub methods: domain::AuthMethods,
}

/// Signs a new token issued at `now`. A lifetime that overflows the
/// calendar is an error, never a panic.
pub(crate) fn issue_token(
    codec: &dyn TokenCodec,
    lifetimes: &TokenLifetimes,
    now: DateTime<Utc>,
    token: NewToken<'_>,
) -> Result<String, TokenEncodeError> {
    let expires_at = match token.expires_at {
        Some(expires_at) => expires_at,
        None => now
            .checked_add_signed(lifetimes.of(token.kind))
            .ok_or_else(|| TokenEncodeError("the token lifetime overflows the calendar".into()))?,
    };
    codec.encode(&TokenClaims {
        user_id: token.user_id,
        token_id: TokenId::new(Uuid::new_v4().simple().to_string()),
        session_id: token.session.clone(),
        kind: token.kind,
        fresh: token.fresh,
        generation: token.generation,
        methods: token.methods,
        issued_at: now,
        expires_at,
    })
}
