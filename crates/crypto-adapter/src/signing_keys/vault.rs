//! Private keys at rest: AES-256-GCM under `SIGNING_KEYS_ENCRYPTION_KEY`,
//! a fresh random 96-bit nonce per key stored beside the ciphertext, and
//! the key's `kid` and algorithm as associated data, so a ciphertext moved
//! to another row (or relabelled with another algorithm) does not open.

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::{KeyId, SigningAlgorithm};
use secrecy::{ExposeSecret, SecretString};

use super::{KeyMaterial, KeyMaterialError};

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the encryption key must be 32 bytes in base64 (44 characters); this one is not")]
    BadEncryptionKey,
    #[error("the stored key does not open with this encryption key (another key, or altered)")]
    DoesNotOpen,
    #[error("sealing the key failed")]
    Seal,
    #[error("the stored key opened but is not a valid key")]
    Material(#[source] KeyMaterialError),
}

/// A private key as stored: nonce and ciphertext (with its GCM tag).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedKey {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedKey")
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// Seals and opens private keys.
pub struct KeyVault {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyVault([redacted])")
    }
}

impl KeyVault {
    /// From the setting's value: 32 bytes, standard base64.
    pub fn from_base64(encoded: &SecretString) -> Result<Self, VaultError> {
        let bytes = STANDARD
            .decode(encoded.expose_secret().trim())
            .map_err(|_| VaultError::BadEncryptionKey)?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::BadEncryptionKey)?;
        Ok(Self {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(key)),
        })
    }

    pub fn seal(&self, kid: &KeyId, key: &KeyMaterial) -> Result<SealedKey, VaultError> {
        let nonce = Nonce::try_generate().map_err(|_| VaultError::Seal)?;
        let aad = associated_data(kid, key.algorithm());
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: key.pkcs8_der(),
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Seal)?;
        Ok(SealedKey {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    pub fn open(
        &self,
        kid: &KeyId,
        algorithm: SigningAlgorithm,
        sealed: &SealedKey,
    ) -> Result<KeyMaterial, VaultError> {
        let nonce: [u8; 12] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::DoesNotOpen)?;
        let aad = associated_data(kid, algorithm);
        let der = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::DoesNotOpen)?;
        KeyMaterial::from_pkcs8_der(algorithm, der).map_err(VaultError::Material)
    }
}

fn associated_data(kid: &KeyId, algorithm: SigningAlgorithm) -> Vec<u8> {
    format!("signing-key:{}:{}", algorithm.as_str(), kid.as_str()).into_bytes()
}
