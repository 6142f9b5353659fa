//! What a codec is built from: the shared-secret algorithm, the issuer
//! and audience, and why they can be refused.

use std::fmt;
use std::str::FromStr;

use jsonwebtoken::Algorithm;

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

/// How tokens are signed and whom they are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    pub algorithm: JwtAlgorithm,
    /// The `iss` claim written into every token and required on decode.
    pub issuer: String,
    /// The `aud` claim written into every token and required on decode.
    pub audience: String,
}

impl JwtSettings {
    pub const DEFAULT_ISSUER: &str = "auth-service";
    pub const DEFAULT_AUDIENCE: &str = "auth-service-clients";
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            algorithm: JwtAlgorithm::default(),
            issuer: Self::DEFAULT_ISSUER.to_owned(),
            audience: Self::DEFAULT_AUDIENCE.to_owned(),
        }
    }
}

/// Why the codec refuses its settings; each message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum JwtKeyError {
    #[error("JWT_SECRET_KEY must be at least {min} bytes long for {algorithm}")]
    TooShort { min: usize, algorithm: JwtAlgorithm },
    #[error("JWT_ISSUER must not be empty")]
    EmptyIssuer,
    #[error("JWT_AUDIENCE must not be empty")]
    EmptyAudience,
    /// Cannot happen with HMAC, which takes keys of any length.
    #[error("JWT_SECRET_KEY cannot key {0}")]
    Unusable(JwtAlgorithm),
}
