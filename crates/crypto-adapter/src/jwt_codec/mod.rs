use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;

use application::ports::{TokenCodec, TokenEncodeError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{SigningAlgorithm, TokenClaims, TokenKind, TokenRejection};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use verified_tokens::VerifiedTokens;

mod hmac_key;
mod settings;
mod signing_key_set;
mod verified_tokens;
mod wire;

use hmac_key::KeyedMac;
pub use settings::{JwtAlgorithm, JwtKeyError, JwtSettings};
pub use signing_key_set::SigningKeySet;
use signing_key_set::jose;
use wire::{WireClaims, WireKind, claims_from};

/// Signed JWTs that accept only the configured issuer and audience, with
/// no leeway: a token is dead the second its `exp` passes.
///
/// Two ways to sign: with the shared secret (`JWT_SECRET_KEY`, HMAC), or
/// with the active key of a [`SigningKeySet`] (ES256, EdDSA, RS256), whose
/// tokens carry its `kid`. An asymmetric codec still verifies HMAC tokens
/// when it is given the secret: an install moving from HS256 logs nobody
/// out. Each token is verified by the key its header names and only with
/// that key's algorithm (no `alg` confusion).
///
/// Every authenticated request decodes one, so HMAC tokens of this codec
/// take a short path ([`JwtCodec::decode_own`], ~4x cheaper than
/// `jsonwebtoken::decode`, which parses the header twice and the claims
/// twice and keys the HMAC anew); anything else goes through
/// jsonwebtoken, and both give the same answer for every token.
pub struct JwtCodec {
    issuer: String,
    audience: String,
    /// The shared secret's keys, when there is one.
    hmac: Option<HmacKey>,
    /// Whether new tokens are signed with the shared secret (else with the
    /// key set's active key).
    signs_with_hmac: bool,
    /// The asymmetric keys, swapped whole by [`JwtCodec::install`].
    keys: ArcSwap<SigningKeySet>,
    /// Bumped by every install, so tokens verified before it are verified
    /// again (a revoked key's tokens must stop working).
    keys_generation: AtomicU64,
    /// One `Validation` per asymmetric algorithm.
    asymmetric: [(Algorithm, Validation); 3],
    /// Tokens verified lately, so a repeated check skips the crypto.
    verified: VerifiedTokens,
}

/// The shared secret, keyed for jsonwebtoken and for the short path.
struct HmacKey {
    header: Header,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// The first segment of every HMAC token this codec signs.
    own_header: String,
    mac: KeyedMac,
}

impl HmacKey {
    fn new(secret: &SecretString, settings: &JwtSettings) -> Result<Self, JwtKeyError> {
        let secret = secret.expose_secret().as_bytes();
        let min = settings.algorithm.min_secret_bytes();
        if secret.len() < min {
            return Err(JwtKeyError::TooShort {
                min,
                algorithm: settings.algorithm,
            });
        }
        let algorithm = Algorithm::from(settings.algorithm);
        let header = Header::new(algorithm);
        let encoding = EncodingKey::from_secret(secret);
        let sample = jsonwebtoken::encode(&header, &serde_json::json!({}), &encoding)
            .map_err(|_| JwtKeyError::Unusable(settings.algorithm))?;
        let own_header = sample.split('.').next().unwrap_or_default().to_owned();
        Ok(Self {
            header,
            encoding,
            decoding: DecodingKey::from_secret(secret),
            validation: validation(algorithm, settings),
            own_header,
            mac: KeyedMac::new(settings.algorithm, secret)?,
        })
    }
}

/// jsonwebtoken's checks as this service wants them: one algorithm, no
/// leeway, `nbf` checked, one issuer, one audience, every claim required.
fn validation(algorithm: Algorithm, settings: &JwtSettings) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = 0;
    validation.validate_nbf = true;
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[&settings.audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "sub", "jti", "iss", "aud"]);
    validation
}

impl JwtCodec {
    /// Signs and verifies with the shared secret only.
    pub fn new(secret: &SecretString, settings: JwtSettings) -> Result<Self, JwtKeyError> {
        let hmac = HmacKey::new(secret, &settings)?;
        Self::build(Some(hmac), true, settings)
    }

    /// Signs with the active key of the installed [`SigningKeySet`] (none
    /// until [`JwtCodec::install`]); verifies those keys' tokens, and the
    /// shared secret's when `hmac_secret` is given (`settings.algorithm`
    /// is then its algorithm).
    pub fn asymmetric(
        hmac_secret: Option<&SecretString>,
        settings: JwtSettings,
    ) -> Result<Self, JwtKeyError> {
        let hmac = hmac_secret
            .map(|secret| HmacKey::new(secret, &settings))
            .transpose()?;
        Self::build(hmac, false, settings)
    }

    fn build(
        hmac: Option<HmacKey>,
        signs_with_hmac: bool,
        settings: JwtSettings,
    ) -> Result<Self, JwtKeyError> {
        if settings.issuer.trim().is_empty() {
            return Err(JwtKeyError::EmptyIssuer);
        }
        if settings.audience.trim().is_empty() {
            return Err(JwtKeyError::EmptyAudience);
        }
        let asymmetric = SigningAlgorithm::ALL.map(|algorithm| {
            let algorithm = jose(algorithm);
            (algorithm, validation(algorithm, &settings))
        });
        Ok(Self {
            issuer: settings.issuer,
            audience: settings.audience,
            hmac,
            signs_with_hmac,
            keys: ArcSwap::from_pointee(SigningKeySet::default()),
            keys_generation: AtomicU64::new(0),
            asymmetric,
            verified: VerifiedTokens::new(),
        })
    }

    /// Makes `keys` the ones that sign and verify from now on, on every
    /// thread; tokens verified before are verified again on their next use.
    pub fn install(&self, keys: SigningKeySet) {
        self.keys.store(Arc::new(keys));
        self.keys_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The keys in use now.
    pub fn keys(&self) -> Arc<SigningKeySet> {
        self.keys.load_full()
    }

    /// The short path, for tokens whose header is exactly the one this
    /// codec writes: the HMAC keyed once, the claims parsed once, borrowed.
    /// It checks what `jsonwebtoken::decode` checks, in the same order, so
    /// the answer is the same; `None` hands the token to the general path
    /// (another header, a malformed part, a claim with escapes in it).
    fn decode_own(&self, token: &str) -> Option<Result<TokenClaims, TokenRejection>> {
        let (message, signature) = token.rsplit_once('.')?;
        let (header, payload) = message.split_once('.')?;
        let hmac = self.hmac.as_ref()?;
        if header != hmac.own_header {
            return None;
        }
        // Room for the longest tag (HS512: 64 bytes) with the decoder's
        // estimate to spare.
        let mut tag = [0_u8; 96];
        let length = URL_SAFE_NO_PAD.decode_slice(signature, &mut tag).ok()?;
        if !hmac.mac.verifies(message.as_bytes(), &tag[..length]) {
            return Some(Err(TokenRejection::Invalid));
        }
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let wire: WireClaims<&str> = serde_json::from_slice(&payload).ok()?;
        Some(self.validated(wire))
    }

    /// jsonwebtoken's checks with this codec's `Validation` (leeway 0,
    /// `nbf` checked, one issuer, one audience), in its order.
    fn validated(&self, wire: WireClaims<&str>) -> Result<TokenClaims, TokenRejection> {
        // jsonwebtoken reads `exp` and `nbf` as unsigned: a negative one
        // is a malformed claim, not an expired token.
        if wire.exp < 0 || wire.nbf < 0 {
            return Err(TokenRejection::Invalid);
        }
        let now = unix_now();
        if wire.exp < now {
            return Err(TokenRejection::Expired);
        }
        if wire.nbf > now || wire.iss != self.issuer || wire.aud != self.audience {
            return Err(TokenRejection::Invalid);
        }
        claims_from(wire)
    }

    /// The general path: whatever jsonwebtoken accepts with the key the
    /// header names (the shared secret for an HMAC `alg`, else the
    /// published key of its `kid`), with that key's own algorithm only.
    fn decode_general(&self, token: &str) -> Result<TokenClaims, TokenRejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Invalid)?;
        let keys = self.keys.load();
        let (key, validation) = match header.alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let hmac = self.hmac.as_ref().ok_or(TokenRejection::Invalid)?;
                (&hmac.decoding, &hmac.validation)
            }
            alg => {
                let kid = header.kid.as_deref().ok_or(TokenRejection::Invalid)?;
                let published = keys.published.get(kid).ok_or(TokenRejection::Invalid)?;
                if published.algorithm != alg {
                    return Err(TokenRejection::Invalid);
                }
                let (_, validation) = self
                    .asymmetric
                    .iter()
                    .find(|(algorithm, _)| *algorithm == alg)
                    .ok_or(TokenRejection::Invalid)?;
                (&published.key, validation)
            }
        };
        let data = jsonwebtoken::decode::<WireClaims<String>>(token, key, validation).map_err(
            |error| match error.kind() {
                ErrorKind::ExpiredSignature => TokenRejection::Expired,
                _ => TokenRejection::Invalid,
            },
        )?;
        let wire = data.claims;
        claims_from(WireClaims {
            iss: wire.iss.as_str(),
            aud: wire.aud.as_str(),
            sub: wire.sub.as_str(),
            iat: wire.iat,
            nbf: wire.nbf,
            exp: wire.exp,
            jti: wire.jti.as_str(),
            kind: wire.kind,
            fresh: wire.fresh,
            sid: wire.sid.as_str(),
            r#gen: wire.r#gen,
            aal: wire.aal.as_deref(),
            amr: wire
                .amr
                .as_ref()
                .map(|amr| amr.iter().map(String::as_str).collect()),
        })
    }
}

/// Seconds since the epoch, as the `exp` and `nbf` claims count.
fn unix_now() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    i64::try_from(now).unwrap_or(i64::MAX)
}

fn no_signing_key() -> TokenEncodeError {
    TokenEncodeError("no active signing key".into())
}

impl TokenCodec for JwtCodec {
    fn encode(&self, claims: &TokenClaims) -> Result<String, TokenEncodeError> {
        let user_id = claims.user_id.to_string();
        let wire = WireClaims {
            iss: self.issuer.as_str(),
            aud: self.audience.as_str(),
            sub: user_id.as_str(),
            iat: claims.issued_at.timestamp(),
            nbf: claims.issued_at.timestamp(),
            exp: claims.expires_at.timestamp(),
            jti: claims.token_id.as_str(),
            kind: match claims.kind {
                TokenKind::Access => WireKind::Access,
                TokenKind::Refresh => WireKind::Refresh,
            },
            fresh: (claims.kind == TokenKind::Access).then_some(claims.fresh),
            sid: claims.session_id.as_str(),
            r#gen: match claims.kind {
                TokenKind::Access => None,
                TokenKind::Refresh => claims.generation,
            },
            aal: (claims.kind == TokenKind::Access).then(|| claims.methods.level().as_str()),
            amr: (claims.kind == TokenKind::Access).then(|| claims.methods.amr().to_vec()),
        };
        if self.signs_with_hmac {
            let hmac = self.hmac.as_ref().ok_or_else(no_signing_key)?;
            return jsonwebtoken::encode(&hmac.header, &wire, &hmac.encoding)
                .map_err(|error| TokenEncodeError(error.into()));
        }
        let keys = self.keys.load();
        let active = keys.active.as_ref().ok_or_else(no_signing_key)?;
        jsonwebtoken::encode(&active.header, &wire, &active.key)
            .map_err(|error| TokenEncodeError(error.into()))
    }

    fn decode(&self, token: &str) -> Result<TokenClaims, TokenRejection> {
        // Read before the decode: an install during it makes the memo
        // entry stale at once rather than let it outlive a revoked key.
        let generation = self.keys_generation.load(Ordering::SeqCst);
        if let Some(claims) = self.verified.recall(token, unix_now(), generation) {
            return Ok(claims);
        }
        let decoded = self
            .decode_own(token)
            .unwrap_or_else(|| self.decode_general(token));
        if let Ok(claims) = &decoded {
            self.verified.remember(token, claims, generation);
        }
        decoded
    }
}

#[cfg(test)]
mod assurance_tests;
#[cfg(test)]
mod asymmetric_tests;
#[cfg(test)]
mod tests;
