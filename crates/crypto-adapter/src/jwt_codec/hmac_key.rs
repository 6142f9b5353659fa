//! The keyed HMAC the short decode path verifies with.

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

use super::settings::{JwtAlgorithm, JwtKeyError};

/// The HMAC of the configured algorithm with the key already absorbed (its
/// inner and outer pads hashed once, not per token), cloned per check.
#[derive(Clone)]
pub(super) enum KeyedMac {
    Hs256(Hmac<Sha256>),
    Hs384(Hmac<Sha384>),
    Hs512(Hmac<Sha512>),
}

impl KeyedMac {
    pub(super) fn new(algorithm: JwtAlgorithm, secret: &[u8]) -> Result<Self, JwtKeyError> {
        let unusable = |_| JwtKeyError::Unusable(algorithm);
        Ok(match algorithm {
            JwtAlgorithm::Hs256 => Self::Hs256(Hmac::new_from_slice(secret).map_err(unusable)?),
            JwtAlgorithm::Hs384 => Self::Hs384(Hmac::new_from_slice(secret).map_err(unusable)?),
            JwtAlgorithm::Hs512 => Self::Hs512(Hmac::new_from_slice(secret).map_err(unusable)?),
        })
    }

    /// Whether `tag` is the MAC of `message`, compared in constant time.
    pub(super) fn verifies(&self, message: &[u8], tag: &[u8]) -> bool {
        fn check<M: Mac + Clone>(mac: &M, message: &[u8], tag: &[u8]) -> bool {
            let mut mac = mac.clone();
            mac.update(message);
            mac.verify_slice(tag).is_ok()
        }
        match self {
            Self::Hs256(mac) => check(mac, message, tag),
            Self::Hs384(mac) => check(mac, message, tag),
            Self::Hs512(mac) => check(mac, message, tag),
        }
    }
}
