//! Asymmetric signing keys: making them, reading imported ones, their
//! public JWK, the jsonwebtoken keys that sign and verify with them, and
//! their encryption at rest ([`vault`]). Every step is the RustCrypto
//! crates' own; nothing here does arithmetic.

mod material;
mod vault;
mod workshop;

pub use material::{KeyMaterial, KeyMaterialError};
pub use vault::{KeyVault, SealedKey, VaultError};
pub use workshop::CryptoKeyWorkshop;

#[cfg(test)]
mod tests;
