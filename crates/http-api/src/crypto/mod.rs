//! The compute-only adapters the HTTP side needs: password hashing and
//! token signing. They have no I/O, so they live with their only user.

mod argon2_hasher;
mod jwt_codec;

pub use argon2_hasher::{Argon2Hasher, HasherSettings};
pub use jwt_codec::{JwtAlgorithm, JwtCodec, JwtKeyError, JwtSettings};
