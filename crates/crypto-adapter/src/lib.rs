//! The compute-only adapters: password hashing ([`Argon2Hasher`], Argon2id
//! on a small thread pool of its own), token signing ([`JwtCodec`], HMAC
//! JWTs with a per-thread memo of tokens it verified lately) and one-time
//! secrets ([`RandomSecrets`]), and asymmetric signing keys with their
//! encryption at rest ([`KeyMaterial`], [`KeyVault`]), and the second
//! factor's secrets, their sealing at rest and enrolment QR codes
//! ([`CryptoSecondFactor`], [`MfaEncryptionKeys`]). They implement
//! `application`'s `PasswordHasher`, `TokenCodec`, `SecretGenerator` and
//! `SecondFactorCrypto` ports and do no I/O beyond the OS's random
//! numbers. The API server wires them; the bench tools time the codec as
//! the server runs it.

mod argon2_hasher;
mod jwt_codec;
mod random_secrets;
mod second_factor;
mod signing_keys;

pub use argon2_hasher::{Argon2Hasher, HasherSettings};
pub use jwt_codec::{JwtAlgorithm, JwtCodec, JwtKeyError, JwtSettings, SigningKeySet};
pub use random_secrets::RandomSecrets;
pub use second_factor::{CryptoSecondFactor, MfaEncryptionKeys, SecondFactorSetupError};
pub use signing_keys::{
    CryptoKeyWorkshop, KeyMaterial, KeyMaterialError, KeyVault, SealedKey, VaultError,
};
