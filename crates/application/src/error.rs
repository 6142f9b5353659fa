use domain::TokenRejection;

use crate::ports::{
    HashError, OutboxError, QueueError, RepositoryError, RevocationError, TokenEncodeError,
};

/// Which outside dependency failed, for operators and for `503` bodies
/// that must not reveal addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    Postgres,
    Redis,
    PasswordHashing,
}

impl Dependency {
    pub fn as_str(self) -> &'static str {
        match self {
            Dependency::Postgres => "postgres",
            Dependency::Redis => "redis",
            Dependency::PasswordHashing => "password hashing",
        }
    }
}

/// Everything a use case can fail with. The HTTP edge maps each variant to
/// exactly one status and error code.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("a user with that email already exists")]
    EmailTaken,
    #[error("token refused: {0}")]
    Token(#[from] TokenRejection),
    #[error("the caller may not act on this user")]
    Forbidden,
    #[error("user not found")]
    UserNotFound,
    /// A dependency is down or too slow; retrying later may work.
    #[error("{} unavailable: {detail}", dependency.as_str())]
    Unavailable {
        dependency: Dependency,
        detail: String,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl AuthError {
    fn unavailable(dependency: Dependency, detail: String) -> Self {
        AuthError::Unavailable { dependency, detail }
    }
}

impl From<RepositoryError> for AuthError {
    fn from(error: RepositoryError) -> Self {
        match error {
            RepositoryError::EmailTaken => AuthError::EmailTaken,
            RepositoryError::Unavailable(detail) => {
                AuthError::unavailable(Dependency::Postgres, detail)
            }
            RepositoryError::Unexpected(detail) => AuthError::Internal(detail),
        }
    }
}

impl From<RevocationError> for AuthError {
    fn from(error: RevocationError) -> Self {
        match error {
            RevocationError::Unavailable(detail) => {
                AuthError::unavailable(Dependency::Redis, detail)
            }
            RevocationError::Unexpected(detail) => AuthError::Internal(detail),
        }
    }
}

impl From<HashError> for AuthError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => {
                AuthError::unavailable(Dependency::PasswordHashing, "too many hashes queued".into())
            }
            HashError::Unexpected(detail) => AuthError::Internal(detail),
        }
    }
}

impl From<TokenEncodeError> for AuthError {
    fn from(error: TokenEncodeError) -> Self {
        AuthError::Internal(error.to_string())
    }
}

/// Errors of the outbox relay, which has no HTTP caller: they are logged.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}
