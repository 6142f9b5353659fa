//! The errors of the second factor's operations
//! ([`crate::SecondFactor`], and the second step of a login).

use domain::TokenRejection;

use super::DependencyError;
use crate::ports::{
    RepositoryError, RevocationError, SecondFactorCryptoError, SecondFactorStoreError,
    SessionStoreError, TokenEncodeError,
};
use crate::rate_limits::RateLimited;

/// `SecondFactor::enrol`.
#[derive(Debug, thiserror::Error)]
pub enum EnrolTotpError {
    #[error("two-factor authentication is already enabled")]
    AlreadyEnabled,
    /// The token's user is gone.
    #[error("token refused: {0}")]
    Token(TokenRejection),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(EnrolTotpError: RepositoryError, SecondFactorStoreError, SecondFactorCryptoError);

/// `SecondFactor::confirm`.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmTotpError {
    /// No enrolment waits, the code is wrong, or its step was used.
    #[error("the code is invalid or has expired")]
    InvalidOrExpired,
    #[error("two-factor authentication is already enabled")]
    AlreadyEnabled,
    #[error("token refused: {0}")]
    Token(TokenRejection),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(ConfirmTotpError: RepositoryError, SecondFactorStoreError, SecondFactorCryptoError);

/// `SecondFactor::status`.
#[derive(Debug, thiserror::Error)]
pub enum SecondFactorStatusError {
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(SecondFactorStatusError: SecondFactorStoreError);

/// `SecondFactor::replace_recovery_codes`.
#[derive(Debug, thiserror::Error)]
pub enum ReplaceRecoveryCodesError {
    #[error("two-factor authentication is not enabled")]
    NotEnabled,
    #[error("token refused: {0}")]
    Token(TokenRejection),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(ReplaceRecoveryCodesError: RepositoryError, SecondFactorStoreError);

/// `SecondFactor::disable`.
#[derive(Debug, thiserror::Error)]
pub enum DisableTotpError {
    #[error("two-factor authentication is not enabled")]
    NotEnabled,
    #[error("token refused: {0}")]
    Token(TokenRejection),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(DisableTotpError: RepositoryError, SecondFactorStoreError);

/// `Authentication::complete_login`: the second step of a login.
#[derive(Debug, thiserror::Error)]
pub enum CompleteLoginError {
    /// A wrong, replayed or budget-refused code or recovery code; an
    /// unknown, dead or expired `mfa_token`; a throttled client: one
    /// answer for all, so a guesser learns nothing.
    #[error("the code or mfa_token is invalid or has expired")]
    InvalidOrExpired,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

dependency_failures!(CompleteLoginError: RepositoryError, SecondFactorStoreError, SecondFactorCryptoError, SessionStoreError, TokenEncodeError, RevocationError);

impl From<RateLimited> for CompleteLoginError {
    /// A throttled client gets the answer of a wrong code.
    fn from(_: RateLimited) -> Self {
        CompleteLoginError::InvalidOrExpired
    }
}
