//! TOTP secrets at rest: AES-256-GCM under `MFA_ENCRYPTION_KEY`, a fresh
//! random 96-bit nonce per seal, and the user and key id as associated
//! data, so a ciphertext copied to another user's row does not open. Each
//! ciphertext names its key by a non-secret id, so after a rotation the
//! key before (`MFA_ENCRYPTION_KEY_PREVIOUS`) still opens what it sealed.

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use application::ports::{SealedTotpSecret, SecondFactorCryptoError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::{TotpSecret, UserId};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::setup_error::SecondFactorSetupError;

const CURRENT_VARIABLE: &str = "MFA_ENCRYPTION_KEY";
const PREVIOUS_VARIABLE: &str = "MFA_ENCRYPTION_KEY_PREVIOUS";

/// Keeps key ids of different uses apart: the same bytes used as another
/// key elsewhere get another id.
const KEY_ID_LABEL: &[u8] = b"auth-service mfa-encryption-key-id v1\0";

/// One encryption key and the id its ciphertexts carry.
struct SealingKey {
    id: String,
    cipher: Aes256Gcm,
}

impl SealingKey {
    fn from_base64(
        encoded: &SecretString,
        variable: &'static str,
    ) -> Result<Self, SecondFactorSetupError> {
        // The decode error is dropped, not wrapped: base64's errors quote
        // the offending byte, which is part of the key.
        let malformed = || SecondFactorSetupError::MalformedKey { variable };
        let bytes = Zeroizing::new(
            STANDARD
                .decode(encoded.expose_secret().trim())
                .map_err(|_| malformed())?,
        );
        let key: Zeroizing<[u8; 32]> =
            Zeroizing::new(bytes.as_slice().try_into().map_err(|_| malformed())?);
        Ok(Self {
            id: key_id(&key),
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)),
        })
    }
}

/// First 8 bytes of SHA-256 over a label and the key, in hex: enough to
/// tell a handful of keys apart, and nothing an attacker can use (the key
/// has 256 random bits).
fn key_id(key: &[u8; 32]) -> String {
    let digest = Sha256::new()
        .chain_update(KEY_ID_LABEL)
        .chain_update(key)
        .finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The keys that seal and open TOTP secrets: the current one seals, it
/// and the previous one (during a rotation) open.
pub struct MfaEncryptionKeys {
    current: SealingKey,
    previous: Option<SealingKey>,
}

impl std::fmt::Debug for MfaEncryptionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaEncryptionKeys")
            .field("current_key_id", &self.current.id)
            .field("previous_key_id", &self.previous.as_ref().map(|k| &k.id))
            .finish_non_exhaustive()
    }
}

impl MfaEncryptionKeys {
    /// From the settings' values: `MFA_ENCRYPTION_KEY` and, during a
    /// rotation, `MFA_ENCRYPTION_KEY_PREVIOUS`, each 32 bytes in standard
    /// base64. A blank previous key counts as none, since env files list
    /// the variable empty until a rotation.
    pub fn from_base64(
        current: &SecretString,
        previous: Option<&SecretString>,
    ) -> Result<Self, SecondFactorSetupError> {
        let current = SealingKey::from_base64(current, CURRENT_VARIABLE)?;
        let previous = previous
            .filter(|encoded| !encoded.expose_secret().trim().is_empty())
            .map(|encoded| SealingKey::from_base64(encoded, PREVIOUS_VARIABLE))
            .transpose()?;
        Ok(Self { current, previous })
    }

    /// The id new ciphertexts carry.
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// The id of the key before, if one is held.
    pub fn previous_key_id(&self) -> Option<&str> {
        self.previous.as_ref().map(|key| key.id.as_str())
    }

    pub(super) fn seal(
        &self,
        user: UserId,
        secret: &TotpSecret,
    ) -> Result<SealedTotpSecret, SecondFactorCryptoError> {
        let key = &self.current;
        let nonce =
            Nonce::try_generate().map_err(|err| SecondFactorCryptoError::Failed(Box::new(err)))?;
        let aad = associated_data(user, &key.id);
        let ciphertext = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|err| SecondFactorCryptoError::Failed(Box::new(err)))?;
        Ok(SealedTotpSecret {
            key_id: key.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    pub(super) fn open(
        &self,
        user: UserId,
        sealed: &SealedTotpSecret,
    ) -> Result<TotpSecret, SecondFactorCryptoError> {
        let key = self
            .key(&sealed.key_id)
            .ok_or_else(|| SecondFactorCryptoError::UnknownKey(sealed.key_id.clone()))?;
        let nonce: [u8; 12] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| SecondFactorCryptoError::DoesNotOpen)?;
        let aad = associated_data(user, &key.id);
        let plain = Zeroizing::new(
            key.cipher
                .decrypt(
                    &Nonce::from(nonce),
                    Payload {
                        msg: &sealed.ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| SecondFactorCryptoError::DoesNotOpen)?,
        );
        // Authentic but not 20 bytes: sealed by something else holding the
        // key, a fault to look into rather than a tampered row.
        TotpSecret::from_slice(&plain)
            .ok_or_else(|| SecondFactorCryptoError::Failed(Box::new(WrongLength(plain.len()))))
    }

    fn key(&self, id: &str) -> Option<&SealingKey> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|key| key.id == id)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the opened TOTP secret is {0} bytes, not {len}", len = TotpSecret::BYTES)]
struct WrongLength(usize);

fn associated_data(user: UserId, key_id: &str) -> Vec<u8> {
    format!("totp:{user}:{key_id}").into_bytes()
}
