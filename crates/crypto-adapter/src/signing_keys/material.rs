//! One key pair, held as its PKCS#8 private key (which also yields the
//! public half).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{KeyId, SigningAlgorithm};
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::rand_core::OsRng;
use rsa::traits::PublicKeyParts as _;
use secrecy::{ExposeSecret, SecretBox};
use serde_json::{Value, json};

/// RSA keys are made at this size, and imported ones must be at least it.
const RSA_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyMaterialError {
    #[error("the key is not a PKCS#8 {algorithm} private key")]
    NotPkcs8 {
        algorithm: SigningAlgorithm,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("an RS256 key needs at least {RSA_BITS} bits; this one has {0}")]
    RsaTooShort(usize),
    #[error("making a {algorithm} key failed")]
    Generation {
        algorithm: SigningAlgorithm,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl KeyMaterialError {
    fn not_pkcs8(
        algorithm: SigningAlgorithm,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::NotPkcs8 {
            algorithm,
            source: Box::new(source),
        }
    }
}

/// A private key, checked to be a valid key of its algorithm.
pub struct KeyMaterial {
    algorithm: SigningAlgorithm,
    /// PKCS#8 DER: what `vault` encrypts and jsonwebtoken signs with.
    pkcs8: SecretBox<Vec<u8>>,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("algorithm", &self.algorithm)
            .field("pkcs8", &"[redacted]")
            .finish()
    }
}

impl KeyMaterial {
    /// A new key from the operating system's random source.
    pub fn generate(algorithm: SigningAlgorithm) -> Result<Self, KeyMaterialError> {
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| {
            KeyMaterialError::Generation { algorithm, source }
        };
        let der = match algorithm {
            SigningAlgorithm::Es256 => p256::SecretKey::random(&mut OsRng)
                .to_pkcs8_der()
                .map_err(|e| failed(Box::new(e)))?,
            SigningAlgorithm::EdDsa => ed25519_dalek::SigningKey::generate(&mut OsRng)
                .to_pkcs8_der()
                .map_err(|e| failed(Box::new(e)))?,
            SigningAlgorithm::Rs256 => {
                use rsa::pkcs8::EncodePrivateKey as _;
                rsa::RsaPrivateKey::new(&mut OsRng, RSA_BITS)
                    .map_err(|e| failed(Box::new(e)))?
                    .to_pkcs8_der()
                    .map_err(|e| failed(Box::new(e)))?
            }
        };
        Ok(Self {
            algorithm,
            pkcs8: SecretBox::new(Box::new(der.as_bytes().to_vec())),
        })
    }

    /// A key from PKCS#8 DER (as the vault gives it back), checked.
    pub fn from_pkcs8_der(
        algorithm: SigningAlgorithm,
        der: Vec<u8>,
    ) -> Result<Self, KeyMaterialError> {
        let material = Self {
            algorithm,
            pkcs8: SecretBox::new(Box::new(der)),
        };
        material.check()?;
        Ok(material)
    }

    /// A key from a PEM file (`keys import`): `-----BEGIN PRIVATE KEY-----`.
    pub fn from_pkcs8_pem(
        algorithm: SigningAlgorithm,
        pem: &str,
    ) -> Result<Self, KeyMaterialError> {
        let (label, document) = pkcs8::SecretDocument::from_pem(pem)
            .map_err(|e| KeyMaterialError::not_pkcs8(algorithm, e))?;
        if label != "PRIVATE KEY" {
            return Err(KeyMaterialError::not_pkcs8(
                algorithm,
                pkcs8::Error::KeyMalformed,
            ));
        }
        Self::from_pkcs8_der(algorithm, document.as_bytes().to_vec())
    }

    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The PKCS#8 DER, for the vault only.
    pub(crate) fn pkcs8_der(&self) -> &[u8] {
        self.pkcs8.expose_secret()
    }

    /// Parses the key as its algorithm's, and refuses short RSA keys.
    fn check(&self) -> Result<(), KeyMaterialError> {
        let der = self.pkcs8_der();
        let algorithm = self.algorithm;
        match algorithm {
            SigningAlgorithm::Es256 => {
                p256::SecretKey::from_pkcs8_der(der)
                    .map_err(|e| KeyMaterialError::not_pkcs8(algorithm, e))?;
            }
            SigningAlgorithm::EdDsa => {
                ed25519_dalek::SigningKey::from_pkcs8_der(der)
                    .map_err(|e| KeyMaterialError::not_pkcs8(algorithm, e))?;
            }
            SigningAlgorithm::Rs256 => {
                let bits = rsa_key(der)?.size() * 8;
                if bits < RSA_BITS {
                    return Err(KeyMaterialError::RsaTooShort(bits));
                }
            }
        }
        Ok(())
    }

    /// The public JWK (RFC 7517) the JWKS publishes for this key.
    pub fn public_jwk(&self, kid: &KeyId) -> Result<Value, KeyMaterialError> {
        let mut jwk = match self.public_half()? {
            PublicHalf::Ec { x, y } => json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
            PublicHalf::Ed { x } => json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
            PublicHalf::Rsa { n, e } => json!({"kty": "RSA", "n": n, "e": e}),
        };
        jwk["kid"] = json!(kid.as_str());
        jwk["alg"] = json!(self.algorithm.as_str());
        jwk["use"] = json!("sig");
        Ok(jwk)
    }

    /// The public parameters, base64url as JWKs spell them.
    fn public_half(&self) -> Result<PublicHalf, KeyMaterialError> {
        let der = self.pkcs8_der();
        let algorithm = self.algorithm;
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        Ok(match algorithm {
            SigningAlgorithm::Es256 => {
                use p256::elliptic_curve::sec1::ToEncodedPoint as _;
                let public = p256::SecretKey::from_pkcs8_der(der)
                    .map_err(|e| KeyMaterialError::not_pkcs8(algorithm, e))?
                    .public_key();
                let point = public.to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err(KeyMaterialError::not_pkcs8(
                        algorithm,
                        pkcs8::Error::KeyMalformed,
                    ));
                };
                PublicHalf::Ec {
                    x: b64(x),
                    y: b64(y),
                }
            }
            SigningAlgorithm::EdDsa => {
                let public = ed25519_dalek::SigningKey::from_pkcs8_der(der)
                    .map_err(|e| KeyMaterialError::not_pkcs8(algorithm, e))?
                    .verifying_key();
                PublicHalf::Ed {
                    x: b64(public.as_bytes()),
                }
            }
            SigningAlgorithm::Rs256 => {
                let key = rsa_key(der)?;
                PublicHalf::Rsa {
                    n: b64(&key.n().to_bytes_be()),
                    e: b64(&key.e().to_bytes_be()),
                }
            }
        })
    }

    /// What jsonwebtoken signs with.
    pub fn encoding_key(&self) -> Result<EncodingKey, KeyMaterialError> {
        let der = self.pkcs8_der();
        Ok(match self.algorithm {
            SigningAlgorithm::Es256 => EncodingKey::from_ec_der(der),
            SigningAlgorithm::EdDsa => EncodingKey::from_ed_der(der),
            SigningAlgorithm::Rs256 => {
                // jsonwebtoken reads RSA keys as PKCS#1.
                use rsa::pkcs1::EncodeRsaPrivateKey as _;
                let pkcs1 = rsa_key(der)?
                    .to_pkcs1_der()
                    .map_err(|e| KeyMaterialError::not_pkcs8(self.algorithm, e))?;
                EncodingKey::from_rsa_der(pkcs1.as_bytes())
            }
        })
    }

    /// What jsonwebtoken verifies with: the public half only.
    pub fn decoding_key(&self) -> Result<DecodingKey, KeyMaterialError> {
        let algorithm = self.algorithm;
        let key = match self.public_half()? {
            PublicHalf::Ec { x, y } => DecodingKey::from_ec_components(&x, &y),
            PublicHalf::Ed { x } => DecodingKey::from_ed_components(&x),
            PublicHalf::Rsa { n, e } => DecodingKey::from_rsa_components(&n, &e),
        };
        key.map_err(|e| KeyMaterialError::not_pkcs8(algorithm, e))
    }
}

enum PublicHalf {
    Ec { x: String, y: String },
    Ed { x: String },
    Rsa { n: String, e: String },
}

fn rsa_key(der: &[u8]) -> Result<rsa::RsaPrivateKey, KeyMaterialError> {
    use rsa::pkcs8::DecodePrivateKey as _;
    rsa::RsaPrivateKey::from_pkcs8_der(der)
        .map_err(|e| KeyMaterialError::not_pkcs8(SigningAlgorithm::Rs256, e))
}
