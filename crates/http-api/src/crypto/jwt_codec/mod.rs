use std::fmt;
use std::str::FromStr;

use application::ports::{TokenCodec, TokenEncodeError};
use chrono::{DateTime, Utc};
use domain::{SessionId, TokenClaims, TokenId, TokenKind, TokenRejection, UserId};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

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

impl From<JwtAlgorithm> for Algorithm {
    fn from(value: JwtAlgorithm) -> Self {
        match value {
            JwtAlgorithm::Hs256 => Algorithm::HS256,
            JwtAlgorithm::Hs384 => Algorithm::HS384,
            JwtAlgorithm::Hs512 => Algorithm::HS512,
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
}

/// The wire format of the claims (see the contract's Tokens section).
#[derive(Debug, Serialize, Deserialize)]
struct WireClaims {
    iss: String,
    aud: String,
    sub: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    #[serde(rename = "type")]
    kind: WireKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fresh: Option<bool>,
    sid: String,
    /// The session's rotation counter, on refresh tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r#gen: Option<u64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum WireKind {
    Access,
    Refresh,
}

/// HMAC-signed JWTs that accept only the configured algorithm, issuer and
/// audience, with no leeway: a token is dead the second its `exp` passes.
pub struct JwtCodec {
    issuer: String,
    audience: String,
    header: Header,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtCodec {
    pub fn new(secret: &SecretString, settings: JwtSettings) -> Result<Self, JwtKeyError> {
        let secret = secret.expose_secret().as_bytes();
        let min = settings.algorithm.min_secret_bytes();
        if secret.len() < min {
            return Err(JwtKeyError::TooShort {
                min,
                algorithm: settings.algorithm,
            });
        }
        if settings.issuer.trim().is_empty() {
            return Err(JwtKeyError::EmptyIssuer);
        }
        if settings.audience.trim().is_empty() {
            return Err(JwtKeyError::EmptyAudience);
        }
        let algorithm = Algorithm::from(settings.algorithm);
        let mut validation = Validation::new(algorithm);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "sub", "jti", "iss", "aud"]);
        Ok(Self {
            issuer: settings.issuer,
            audience: settings.audience,
            header: Header::new(algorithm),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }
}

fn timestamp(secs: i64) -> Result<DateTime<Utc>, TokenRejection> {
    DateTime::from_timestamp(secs, 0).ok_or(TokenRejection::Invalid)
}

impl TokenCodec for JwtCodec {
    fn encode(&self, claims: &TokenClaims) -> Result<String, TokenEncodeError> {
        let wire = WireClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: claims.user_id.to_string(),
            iat: claims.issued_at.timestamp(),
            nbf: claims.issued_at.timestamp(),
            exp: claims.expires_at.timestamp(),
            jti: claims.token_id.as_str().to_owned(),
            kind: match claims.kind {
                TokenKind::Access => WireKind::Access,
                TokenKind::Refresh => WireKind::Refresh,
            },
            fresh: (claims.kind == TokenKind::Access).then_some(claims.fresh),
            sid: claims.session_id.as_str().to_owned(),
            r#gen: match claims.kind {
                TokenKind::Access => None,
                TokenKind::Refresh => claims.generation,
            },
        };
        jsonwebtoken::encode(&self.header, &wire, &self.encoding)
            .map_err(|error| TokenEncodeError(error.into()))
    }

    fn decode(&self, token: &str) -> Result<TokenClaims, TokenRejection> {
        let data = jsonwebtoken::decode::<WireClaims>(token, &self.decoding, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => TokenRejection::Expired,
                _ => TokenRejection::Invalid,
            })?;
        let wire = data.claims;
        let user_id = wire
            .sub
            .parse::<UserId>()
            .map_err(|_| TokenRejection::Invalid)?;
        let (kind, generation) = match wire.kind {
            WireKind::Access => (TokenKind::Access, None),
            // A refresh token without its generation (one issued before
            // rotation existed, or forged) is not one of ours.
            WireKind::Refresh => (
                TokenKind::Refresh,
                Some(wire.r#gen.ok_or(TokenRejection::Invalid)?),
            ),
        };
        Ok(TokenClaims {
            user_id,
            token_id: TokenId::new(wire.jti),
            session_id: SessionId::new(wire.sid),
            kind,
            fresh: wire.fresh.unwrap_or(false),
            generation,
            issued_at: timestamp(wire.iat)?,
            expires_at: timestamp(wire.exp)?,
        })
    }
}

#[cfg(test)]
mod tests;
