//! The [`KeyWorkshop`] port: keys made and sealed with [`KeyMaterial`] and
//! [`KeyVault`], and put in use in a [`JwtCodec`].

use std::collections::HashMap;
use std::sync::Arc;

use application::ports::{
    ForgedKey, KeyWorkshop, KeyWorkshopError, SealedPrivateKey, StoredSigningKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{KeyId, KeyRing, SigningAlgorithm};

use super::{KeyMaterial, KeyMaterialError, KeyVault, SealedKey, VaultError};
use crate::jwt_codec::{JwtCodec, SigningKeySet};

/// Makes keys under one encryption key and installs them in one codec.
pub struct CryptoKeyWorkshop {
    vault: KeyVault,
    codec: Arc<JwtCodec>,
}

impl CryptoKeyWorkshop {
    pub fn new(vault: KeyVault, codec: Arc<JwtCodec>) -> Self {
        Self { vault, codec }
    }

    fn forge(&self, kid: &KeyId, key: &KeyMaterial) -> Result<ForgedKey, KeyWorkshopError> {
        let public_jwk = key.public_jwk(kid).map_err(failed)?.to_string();
        let sealed = self.vault.seal(kid, key).map_err(failed)?;
        Ok(ForgedKey {
            public_jwk,
            sealed: SealedPrivateKey {
                nonce: sealed.nonce,
                ciphertext: sealed.ciphertext,
            },
        })
    }
}

fn failed(error: impl std::error::Error + Send + Sync + 'static) -> KeyWorkshopError {
    KeyWorkshopError::Failed(Box::new(error))
}

impl KeyWorkshop for CryptoKeyWorkshop {
    /// 128 random bits, base64url: 22 characters.
    fn new_kid(&self) -> KeyId {
        let bytes: [u8; 16] = rand::random();
        let text = URL_SAFE_NO_PAD.encode(bytes);
        // Base64url of 16 bytes is always a valid kid.
        KeyId::parse(&text).unwrap_or_else(|_| unreachable!("22 base64url characters"))
    }

    fn generate(
        &self,
        kid: &KeyId,
        algorithm: SigningAlgorithm,
    ) -> Result<ForgedKey, KeyWorkshopError> {
        let key = KeyMaterial::generate(algorithm).map_err(failed)?;
        self.forge(kid, &key)
    }

    fn import(
        &self,
        kid: &KeyId,
        algorithm: SigningAlgorithm,
        pem: &str,
    ) -> Result<ForgedKey, KeyWorkshopError> {
        let key = KeyMaterial::from_pkcs8_pem(algorithm, pem).map_err(|error| match error {
            KeyMaterialError::NotPkcs8 { .. } | KeyMaterialError::RsaTooShort(_) => {
                KeyWorkshopError::InvalidKey(error.to_string())
            }
            other => failed(other),
        })?;
        self.forge(kid, &key)
    }

    fn put_in_use(&self, keys: &[StoredSigningKey]) -> Result<(), KeyWorkshopError> {
        let mut materials = HashMap::new();
        for key in keys.iter().filter(|key| key.lifecycle.state.is_published()) {
            let kid = &key.lifecycle.kid;
            let sealed = SealedKey {
                nonce: key.sealed.nonce.clone(),
                ciphertext: key.sealed.ciphertext.clone(),
            };
            let material = self
                .vault
                .open(kid, key.lifecycle.algorithm, &sealed)
                .map_err(|error| match error {
                    VaultError::DoesNotOpen | VaultError::Material(_) => {
                        KeyWorkshopError::DoesNotOpen(kid.clone())
                    }
                    other => failed(other),
                })?;
            materials.insert(kid.clone(), material);
        }
        let ring = KeyRing::new(keys.iter().map(|key| key.lifecycle.clone()).collect());
        let set = SigningKeySet::new(&ring, &materials).map_err(failed)?;
        self.codec.install(set);
        Ok(())
    }
}
