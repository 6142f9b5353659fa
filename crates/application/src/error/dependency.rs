//! The dependency a use case failed on: its role, and whether retrying
//! later may help. Every use-case error holds one as its `Dependency`
//! variant, with the port's error as the source.

use crate::ports::{
    AuditLogError, HashError, RepositoryError, RevocationError, SecondFactorCryptoError,
    SecondFactorStoreError, SecretStoreError, SessionStoreError, TokenEncodeError,
};

use super::BoxError;

/// The role of the outside dependency that failed, for logs and for the
/// decision between `503` and `500`. Names the role, not the technology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    UserStore,
    SessionStore,
    SecretStore,
    RevocationStore,
    PasswordHasher,
    TokenSigner,
    SecondFactorStore,
    SecondFactorCrypto,
    AuditLog,
}

impl Dependency {
    pub fn as_str(self) -> &'static str {
        match self {
            Dependency::UserStore => "user store",
            Dependency::SessionStore => "session store",
            Dependency::SecretStore => "secret store",
            Dependency::RevocationStore => "revocation store",
            Dependency::PasswordHasher => "password hasher",
            Dependency::TokenSigner => "token signer",
            Dependency::SecondFactorStore => "second-factor store",
            Dependency::SecondFactorCrypto => "second-factor cryptography",
            Dependency::AuditLog => "audit log",
        }
    }
}

impl std::fmt::Display for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A port failed. `Unavailable` means retrying later may work (`503`);
/// `Failed` is a bug or corrupt data (`500`). The port's error is the source.
#[derive(Debug, thiserror::Error)]
pub enum DependencyError {
    #[error("the {0} is unavailable")]
    Unavailable(Dependency, #[source] BoxError),
    #[error("the {0} failed")]
    Failed(Dependency, #[source] BoxError),
}

impl DependencyError {
    pub fn dependency(&self) -> Dependency {
        match self {
            DependencyError::Unavailable(dependency, _)
            | DependencyError::Failed(dependency, _) => *dependency,
        }
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, DependencyError::Unavailable(..))
    }
}

impl From<RepositoryError> for DependencyError {
    fn from(error: RepositoryError) -> Self {
        let role = Dependency::UserStore;
        match error {
            RepositoryError::Unavailable(_) => DependencyError::Unavailable(role, error.into()),
            // `EmailTaken` and `InvalidInput` reach here only from operations
            // that cannot cause them: a bug, reported as such.
            _ => DependencyError::Failed(role, error.into()),
        }
    }
}

/// `From` for the port errors of the common shape: `Unavailable` (retry
/// later: `503`) or `Unexpected` (a bug: `500`), each for its role.
macro_rules! store_failures {
    ($($port:ident => $role:ident),+ $(,)?) => {
        $(impl From<$port> for DependencyError {
            fn from(error: $port) -> Self {
                let role = Dependency::$role;
                match error {
                    $port::Unavailable(_) => DependencyError::Unavailable(role, error.into()),
                    $port::Unexpected(_) => DependencyError::Failed(role, error.into()),
                }
            }
        })+
    };
}

store_failures!(
    SessionStoreError => SessionStore,
    SecretStoreError => SecretStore,
    RevocationError => RevocationStore,
    SecondFactorStoreError => SecondFactorStore,
    AuditLogError => AuditLog,
);

impl From<HashError> for DependencyError {
    fn from(error: HashError) -> Self {
        let role = Dependency::PasswordHasher;
        match error {
            HashError::Busy => DependencyError::Unavailable(role, error.into()),
            HashError::Unexpected(_) => DependencyError::Failed(role, error.into()),
        }
    }
}

impl From<TokenEncodeError> for DependencyError {
    fn from(error: TokenEncodeError) -> Self {
        DependencyError::Failed(Dependency::TokenSigner, error.into())
    }
}

/// A secret that does not open is data this instance cannot read (a key
/// it does not hold, or altered rows): a failure, never a retry.
impl From<SecondFactorCryptoError> for DependencyError {
    fn from(error: SecondFactorCryptoError) -> Self {
        DependencyError::Failed(Dependency::SecondFactorCrypto, error.into())
    }
}
