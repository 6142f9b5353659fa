//! Where signing keys are kept (the store), and the cryptography that
//! makes, seals and puts them to use (the key workshop). The lifecycle's
//! rules are the domain's (`domain::KeyRing`).

use async_trait::async_trait;
use domain::{KeyChange, KeyId, KeyLifecycle, SigningAlgorithm};

use super::BoxError;

/// A private key as stored: encrypted, with its nonce. Opaque here.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedPrivateKey {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedPrivateKey([sealed])")
    }
}

/// One key as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    pub lifecycle: KeyLifecycle,
    /// The public JWK, as JSON text: the JWKS is served without opening
    /// any private key.
    pub public_jwk: String,
    pub sealed: SealedPrivateKey,
}

/// A key just made (or imported) and sealed, not stored yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgedKey {
    pub public_jwk: String,
    pub sealed: SealedPrivateKey,
}

#[derive(Debug, thiserror::Error)]
pub enum SigningKeyStoreError {
    /// A change was decided on a snapshot another change has overtaken.
    #[error("the signing keys changed meanwhile")]
    Conflict,
    #[error("a key with this kid exists already")]
    DuplicateKid,
    #[error("the signing key store is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the signing key store failed")]
    Unexpected(#[source] BoxError),
}

/// Signing keys in durable storage, shared by every instance.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Every key, revoked ones included, oldest first.
    async fn all(&self) -> Result<Vec<StoredSigningKey>, SigningKeyStoreError>;

    /// A value that changes whenever any key changes: instances poll it.
    async fn version(&self) -> Result<i64, SigningKeyStoreError>;

    async fn insert(&self, key: StoredSigningKey) -> Result<(), SigningKeyStoreError>;

    /// Inserts `key` only while the store holds no key at all, atomically
    /// across instances; `false` when another key was there first.
    async fn insert_first(&self, key: StoredSigningKey) -> Result<bool, SigningKeyStoreError>;

    /// Applies the changes in one transaction, each only if its key is
    /// still in the change's `from` state; else nothing and
    /// [`SigningKeyStoreError::Conflict`].
    async fn apply(&self, changes: Vec<KeyChange>) -> Result<(), SigningKeyStoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum KeyWorkshopError {
    /// An imported key that is not a valid key of its algorithm.
    #[error("the key is not usable: {0}")]
    InvalidKey(String),
    /// A stored key that does not open (another encryption key, or altered).
    #[error("signing key {0} does not open with SIGNING_KEYS_ENCRYPTION_KEY")]
    DoesNotOpen(KeyId),
    #[error("the key could not be made")]
    Failed(#[source] BoxError),
}

/// The cryptography of signing keys. Pure computation: not async.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait KeyWorkshop: Send + Sync {
    /// A new, random kid.
    fn new_kid(&self) -> KeyId;

    /// A new key of `algorithm`, sealed for the store under `kid`.
    fn generate(
        &self,
        kid: &KeyId,
        algorithm: SigningAlgorithm,
    ) -> Result<ForgedKey, KeyWorkshopError>;

    /// A key from a PKCS#8 PEM, checked, sealed for the store under `kid`.
    fn import(
        &self,
        kid: &KeyId,
        algorithm: SigningAlgorithm,
        pem: &str,
    ) -> Result<ForgedKey, KeyWorkshopError>;

    /// Opens the keys and makes them the ones tokens are signed and
    /// verified with, on every thread of this instance.
    fn put_in_use(&self, keys: &[StoredSigningKey]) -> Result<(), KeyWorkshopError>;
}
