//! The compute-only adapters the HTTP side needs: password hashing, token
//! signing and one-time secrets. They have no I/O beyond the OS's random
//! numbers, so they live with their only user.

mod argon2_hasher;
mod jwt_codec;
mod random_secrets;

pub use argon2_hasher::{Argon2Hasher, HasherSettings};
pub use jwt_codec::{JwtAlgorithm, JwtCodec, JwtKeyError, JwtSettings};
pub use random_secrets::RandomSecrets;
