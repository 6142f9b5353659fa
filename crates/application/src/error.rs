//! The errors of the use cases: one enum per operation, each listing only
//! what that operation can fail with. A failing port keeps its cause as the
//! error's source, so the HTTP edge can log the whole chain once.

use domain::TokenRejection;

use crate::ports::{
    HashError, MarkQueueError, OutboxError, QueueError, RepositoryError, RevocationError,
    SecondFactorStoreError, SecretStoreError, SessionStoreError, TokenEncodeError,
};
use crate::rate_limits::RateLimited;

// Defined beside the ports, whose errors hold it; re-exported here, where
// it has always been exported from.
pub use crate::ports::BoxError;

mod dependency;

pub use dependency::{Dependency, DependencyError};
pub use second_factor::{
    CompleteLoginError, ConfirmTotpError, DisableTotpError, EnrolTotpError,
    ReplaceRecoveryCodesError, SecondFactorStatusError,
};
pub use security_events::{AuditTrailError, SecurityEventsError};

/// Implements `From<port error>` for a use-case error through its
/// `Dependency` variant.
macro_rules! dependency_failures {
    ($error:ty: $($port:ty),+) => {
        $(impl From<$port> for $error {
            fn from(error: $port) -> Self {
                Self::Dependency(DependencyError::from(error))
            }
        })+
    };
}

// After the macro, which they use.
mod admin_actions;
mod second_factor;
mod security_events;
mod user_administration;

pub use admin_actions::{AdminUserActionError, BanUserError, CreateUserError, UpdateUserError};
pub use user_administration::SearchUsersError;

/// `UserAccounts::register`.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("a user with that email already exists")]
    EmailTaken,
    /// The store cannot hold a value the domain accepted (a NUL byte, say).
    #[error("the user store refused the input")]
    InvalidInput(#[source] RepositoryError),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

impl From<RepositoryError> for RegisterError {
    fn from(error: RepositoryError) -> Self {
        match error {
            RepositoryError::EmailTaken => RegisterError::EmailTaken,
            RepositoryError::InvalidInput(_) => RegisterError::InvalidInput(error),
            other => RegisterError::Dependency(other.into()),
        }
    }
}

dependency_failures!(RegisterError: HashError);

/// `Authentication::login`.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown email, malformed email or wrong password: the same answer.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The right password, but `REQUIRE_VERIFIED_EMAIL` holds and the
    /// address is unverified (a new verification email is on its way).
    #[error("the email address is not verified")]
    EmailNotVerified,
    /// The right password, but an admin banned the account (until a time
    /// still to come, or indefinitely).
    #[error("the account is suspended")]
    Banned,
    /// Too many failed logins of this account from this client (or, for a
    /// client without a device token, from everywhere): no password was
    /// checked.
    #[error(transparent)]
    Throttled(#[from] RateLimited),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(LoginError: RepositoryError, SessionStoreError, SecretStoreError, HashError, TokenEncodeError, SecondFactorStoreError);

/// `EmailVerification::verify`.
#[derive(Debug, thiserror::Error)]
pub enum VerifyEmailError {
    /// Unknown, expired, used, too many tries or a wrong code: one answer.
    #[error("the link or code is invalid or has expired")]
    InvalidOrExpired,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(VerifyEmailError: SecretStoreError);

/// `EmailVerification::resend`: only an outage can fail it.
#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(ResendError: RepositoryError);

/// `PasswordReset::forgot`: only an outage can fail it.
#[derive(Debug, thiserror::Error)]
pub enum ForgotPasswordError {
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(ForgotPasswordError: RepositoryError);

/// `PasswordReset::reset`.
#[derive(Debug, thiserror::Error)]
pub enum ResetPasswordError {
    /// Unknown, expired, used, too many tries or a wrong code: one answer.
    #[error("the link or code is invalid or has expired")]
    InvalidOrExpired,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(ResetPasswordError: SecretStoreError, HashError);

/// `PasswordChange::change`.
#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    /// The caller's account is gone.
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    #[error("the current password is incorrect")]
    InvalidCurrentPassword,
    /// The new password is the current one.
    #[error("the new password is the current one")]
    SamePassword,
    /// The account is throttled after failed password checks.
    #[error("too many failed password checks")]
    RateLimited(#[from] RateLimited),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(ChangePasswordError: RepositoryError, HashError);

/// `EmailChange::request`.
#[derive(Debug, thiserror::Error)]
pub enum RequestEmailChangeError {
    /// The caller's account is gone, or the token is not fresh.
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    #[error("the current password is incorrect")]
    InvalidCurrentPassword,
    /// The account is throttled after failed password checks.
    #[error("too many failed password checks")]
    RateLimited(#[from] RateLimited),
    /// The new address is the account's current one.
    #[error("the new address is the current one")]
    SameAddress,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(RequestEmailChangeError: RepositoryError, SecretStoreError, HashError);

/// `EmailChange::confirm`.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmEmailChangeError {
    /// Unknown, expired, used, too many tries or a wrong code: one answer.
    #[error("the link or code is invalid or has expired")]
    InvalidOrExpired,
    /// Another account took the address after the change was requested.
    #[error("a user with that email already exists")]
    EmailTaken,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(ConfirmEmailChangeError: SecretStoreError);

/// `EmailChange::undo`.
#[derive(Debug, thiserror::Error)]
pub enum UndoEmailChangeError {
    /// Unknown, expired or used: one answer.
    #[error("the link is invalid or has expired")]
    InvalidOrExpired,
    /// Another account registered the old address after the change.
    #[error("a user with that email already exists")]
    EmailTaken,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(UndoEmailChangeError: SecretStoreError);

/// `Authentication::authenticate`: checking a bearer token for a route.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    /// The user has a second factor, and the token comes from a login
    /// that did not pass it (`aal1`): the route changes the account.
    #[error("the action needs a login with the second factor")]
    SecondFactorRequired,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(AuthenticateError: RevocationError, SessionStoreError, SecondFactorStoreError);

/// `Authentication::refresh`.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    /// A superseded refresh token came back: its whole session was revoked.
    #[error("the refresh token was already used; the session has been revoked")]
    Reused,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(RefreshError: SessionStoreError, RevocationError, TokenEncodeError);

/// `Authentication::logout`.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(LogoutError: SessionStoreError, RevocationError);

/// `UserAccounts::current_user`, `get_user` and `delete_user`.
#[derive(Debug, thiserror::Error)]
pub enum UserAccessError {
    /// The caller's own account is gone (revoked) or the token is not fresh.
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    #[error("the caller may not act on this user")]
    Forbidden,
    #[error("user not found")]
    UserNotFound,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(UserAccessError: RepositoryError, RevocationError);

/// `Administration::promote_to_admin`.
#[derive(Debug, thiserror::Error)]
pub enum PromoteToAdminError {
    /// The address as given (trimmed): no account has it.
    #[error("no user has the email {0}")]
    NoSuchUser(String),
    /// Anyone can register any address: an unverified one proves nothing.
    #[error("{0} has not verified its email address")]
    Unverified(String),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(PromoteToAdminError: RepositoryError);

/// `SessionManagement`: listing and revoking sessions.
#[derive(Debug, thiserror::Error)]
pub enum SessionAccessError {
    /// The caller's own account is gone (revoked) or the token is not fresh.
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    #[error("the caller may not act on this user")]
    Forbidden,
    #[error("user not found")]
    UserNotFound,
    /// Not one of the caller's live sessions (someone else's included).
    #[error("session not found")]
    SessionNotFound,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(SessionAccessError: RepositoryError, SessionStoreError, RevocationError);

/// Errors of the revocation mark replay, which has no HTTP caller: they
/// are logged.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the revocation mark queue failed")]
    Queue(#[from] MarkQueueError),
    #[error("the revocation store failed")]
    Revocations(#[from] RevocationError),
    /// Nothing was taken: the revocation store does not answer.
    #[error("the revocation store does not answer")]
    StoreDown(#[source] crate::ports::ProbeError),
}

/// Errors of the outbox relay, which has no HTTP caller: they are logged.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("the email outbox failed")]
    Outbox(#[from] OutboxError),
    #[error("the email queue failed")]
    Queue(#[from] QueueError),
}
