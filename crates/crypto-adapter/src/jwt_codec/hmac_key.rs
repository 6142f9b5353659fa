//! The shared-secret algorithms (`JWT_SECRET_KEY`) and the keyed HMAC
//! the short decode path verifies with.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use jsonwebtoken::Algorithm;
use sha2::{Sha256, Sha384, Sha512};

use super::JwtKeyError;

/// The HMAC algorithms a shared secret can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JwtAlgorithm {
    #[default]
    Hs256,
    Hs384,
    Hs512,
}

impl FromStr for JwtAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "HS256" => Ok(Self::Hs256),
            "HS384" => Ok(Self::Hs384),
            "HS512" => Ok(Self::Hs512),
            other => Err(format!(
                "unsupported algorithm {other:?} (use HS256, HS384 or HS512)"
            )),
        }
    }
}

impl JwtAlgorithm {
    /// The shortest key that gives the algorithm its full strength: the
    /// size of its hash output (RFC 7518, section 3.2).
    pub fn min_secret_bytes(self) -> usize {
        match self {
            JwtAlgorithm::Hs256 => 32,
            JwtAlgorithm::Hs384 => 48,
            JwtAlgorithm::Hs512 => 64,
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JwtAlgorithm::Hs256 => "HS256",
            JwtAlgorithm::Hs384 => "HS384",
            JwtAlgorithm::Hs512 => "HS512",
        })
    }
}

impl From<JwtAlgorithm> for Algorithm {
    fn from(value: JwtAlgorithm) -> Self {
        match value {
            JwtAlgorithm::Hs256 => Algorithm::HS256,
            JwtAlgorithm::Hs384 => Algorithm::HS384,
            JwtAlgorithm::Hs512 => Algorithm::HS512,
        }
    }
}

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
