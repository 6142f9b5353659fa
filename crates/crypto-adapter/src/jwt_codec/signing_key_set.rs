//! The asymmetric keys a codec signs and verifies with, as one snapshot
//! the server swaps whole when the keys change (`JwtCodec::install`).

use std::collections::HashMap;

use domain::{KeyId, KeyRing, SigningAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};

use crate::signing_keys::{KeyMaterial, KeyMaterialError};

pub(super) fn jose(algorithm: SigningAlgorithm) -> Algorithm {
    match algorithm {
        SigningAlgorithm::Es256 => Algorithm::ES256,
        SigningAlgorithm::EdDsa => Algorithm::EdDSA,
        SigningAlgorithm::Rs256 => Algorithm::RS256,
    }
}

/// The key that signs: its header (with `kid`) made once.
pub(super) struct ActiveKey {
    pub kid: KeyId,
    pub header: Header,
    pub key: EncodingKey,
}

/// A key that verifies (standby, active or retired): its public half.
pub(super) struct PublishedKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// The keys of one moment: which signs, and which verify, by `kid`.
#[derive(Default)]
pub struct SigningKeySet {
    pub(super) active: Option<ActiveKey>,
    pub(super) published: HashMap<String, PublishedKey>,
}

impl std::fmt::Debug for SigningKeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut published: Vec<_> = self.published.keys().collect();
        published.sort_unstable();
        f.debug_struct("SigningKeySet")
            .field("active", &self.active.as_ref().map(|key| &key.kid))
            .field("published", &published)
            .finish()
    }
}

impl SigningKeySet {
    /// The ring's published keys verify and its active key signs; a key
    /// without material in `materials` is left out (it cannot be used).
    pub fn new(
        ring: &KeyRing,
        materials: &HashMap<KeyId, KeyMaterial>,
    ) -> Result<Self, KeyMaterialError> {
        let mut published = HashMap::new();
        for key in ring.published() {
            let Some(material) = materials.get(&key.kid) else {
                continue;
            };
            published.insert(
                key.kid.as_str().to_owned(),
                PublishedKey {
                    algorithm: jose(material.algorithm()),
                    key: material.decoding_key()?,
                },
            );
        }
        let active = match ring.active() {
            Some(key) => match materials.get(&key.kid) {
                Some(material) => {
                    let mut header = Header::new(jose(material.algorithm()));
                    header.kid = Some(key.kid.as_str().to_owned());
                    Some(ActiveKey {
                        kid: key.kid.clone(),
                        header,
                        key: material.encoding_key()?,
                    })
                }
                None => None,
            },
            None => None,
        };
        Ok(Self { active, published })
    }

    /// The kid new tokens are signed with.
    pub fn active_kid(&self) -> Option<&KeyId> {
        self.active.as_ref().map(|key| &key.kid)
    }

    /// How many keys verify.
    pub fn published_count(&self) -> usize {
        self.published.len()
    }
}
