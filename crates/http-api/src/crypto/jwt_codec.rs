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

impl From<JwtAlgorithm> for Algorithm {
    fn from(value: JwtAlgorithm) -> Self {
        match value {
            JwtAlgorithm::Hs256 => Algorithm::HS256,
            JwtAlgorithm::Hs384 => Algorithm::HS384,
            JwtAlgorithm::Hs512 => Algorithm::HS512,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JwtKeyError {
    #[error("JWT_SECRET_KEY must be at least {min} bytes long")]
    TooShort { min: usize },
}

/// The wire format of the claims (see the contract's Tokens section).
#[derive(Debug, Serialize, Deserialize)]
struct WireClaims {
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
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum WireKind {
    Access,
    Refresh,
}

/// HMAC-signed JWTs that accept only the configured algorithm, with no
/// leeway: a token is dead the second its `exp` passes.
pub struct JwtCodec {
    header: Header,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtCodec {
    pub const MIN_SECRET_BYTES: usize = 32;

    pub fn new(secret: &SecretString, algorithm: JwtAlgorithm) -> Result<Self, JwtKeyError> {
        let secret = secret.expose_secret().as_bytes();
        if secret.len() < Self::MIN_SECRET_BYTES {
            return Err(JwtKeyError::TooShort {
                min: Self::MIN_SECRET_BYTES,
            });
        }
        let algorithm = Algorithm::from(algorithm);
        let mut validation = Validation::new(algorithm);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "sub", "jti"]);
        Ok(Self {
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
        };
        jsonwebtoken::encode(&self.header, &wire, &self.encoding)
            .map_err(|error| TokenEncodeError(error.to_string()))
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
        Ok(TokenClaims {
            user_id,
            token_id: TokenId::new(wire.jti),
            session_id: SessionId::new(wire.sid),
            kind: match wire.kind {
                WireKind::Access => TokenKind::Access,
                WireKind::Refresh => TokenKind::Refresh,
            },
            fresh: wire.fresh.unwrap_or(false),
            issued_at: timestamp(wire.iat)?,
            expires_at: timestamp(wire.exp)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn secret(raw: &str) -> SecretString {
        SecretString::from(raw.to_owned())
    }

    fn codec() -> JwtCodec {
        JwtCodec::new(&secret(&"k".repeat(32)), JwtAlgorithm::Hs256).unwrap()
    }

    fn claims(kind: TokenKind, fresh: bool, lifetime: Duration) -> TokenClaims {
        let now = Utc::now();
        TokenClaims {
            user_id: UserId::new(42),
            token_id: TokenId::new("jti"),
            session_id: SessionId::new("sid"),
            kind,
            fresh,
            issued_at: DateTime::from_timestamp(now.timestamp(), 0).unwrap(),
            expires_at: DateTime::from_timestamp((now + lifetime).timestamp(), 0).unwrap(),
        }
    }

    #[test]
    fn round_trips_every_claim() {
        let codec = codec();
        for (kind, fresh) in [
            (TokenKind::Access, true),
            (TokenKind::Access, false),
            (TokenKind::Refresh, false),
        ] {
            let original = claims(kind, fresh, Duration::seconds(60));
            let token = codec.encode(&original).unwrap();
            assert_eq!(codec.decode(&token).unwrap(), original);
        }
    }

    #[test]
    fn refuses_short_secrets() {
        assert!(JwtCodec::new(&secret(&"k".repeat(31)), JwtAlgorithm::Hs256).is_err());
    }

    #[test]
    fn rejects_another_key_and_garbage() {
        let token = codec()
            .encode(&claims(TokenKind::Access, true, Duration::seconds(60)))
            .unwrap();
        let other = JwtCodec::new(&secret(&"x".repeat(32)), JwtAlgorithm::Hs256).unwrap();
        assert_eq!(other.decode(&token), Err(TokenRejection::Invalid));
        assert_eq!(codec().decode("garbage"), Err(TokenRejection::Invalid));
        assert_eq!(codec().decode(""), Err(TokenRejection::Invalid));
    }

    #[test]
    fn rejects_other_algorithms_even_with_the_right_key() {
        let key = "k".repeat(32);
        let hs512 = JwtCodec::new(&secret(&key), JwtAlgorithm::Hs512).unwrap();
        let token = hs512
            .encode(&claims(TokenKind::Access, true, Duration::seconds(60)))
            .unwrap();
        assert_eq!(codec().decode(&token), Err(TokenRejection::Invalid));
    }

    #[test]
    fn rejects_unsigned_tokens() {
        use base64::Engine;
        let encode = |raw: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let header = encode(r#"{"alg":"none","typ":"JWT"}"#);
        let now = Utc::now().timestamp();
        let body = encode(&format!(
            r#"{{"sub":"42","iat":{now},"nbf":{now},"exp":{},"jti":"j","type":"access","fresh":true,"sid":"s"}}"#,
            now + 60
        ));
        assert_eq!(
            codec().decode(&format!("{header}.{body}.")),
            Err(TokenRejection::Invalid)
        );
    }

    #[test]
    fn reports_expiry_separately() {
        let token = codec()
            .encode(&claims(TokenKind::Access, true, Duration::seconds(-5)))
            .unwrap();
        assert_eq!(codec().decode(&token), Err(TokenRejection::Expired));
    }
}
