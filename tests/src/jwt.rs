//! Reading and forging JWTs, to test what the server accepts.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use uuid::Uuid;

/// The claims of a token, read without checking the signature.
pub fn claims(token: &str) -> Value {
    part(token, 1)
}

/// The header of a token, read without checking the signature.
pub fn header(token: &str) -> Value {
    part(token, 0)
}

fn part(token: &str, index: usize) -> Value {
    let encoded = token.split('.').nth(index).expect("a JWT part");
    let raw = URL_SAFE_NO_PAD.decode(encoded).expect("base64url");
    serde_json::from_slice(&raw).expect("JSON")
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The `iss` and `aud` the test servers run with (the defaults).
pub const ISSUER: &str = "auth-service";
pub const AUDIENCE: &str = "auth-service-clients";

/// Claims shaped like the server's, for `user_id`, valid from now for
/// `ttl` seconds (negative: already expired).
pub fn valid_claims(user_id: i64, kind: &str, ttl: i64) -> Value {
    let now = now();
    let issued = if ttl < 0 { now + ttl - 60 } else { now };
    let mut claims = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user_id.to_string(),
        "iat": issued,
        "nbf": issued,
        "exp": now + ttl,
        "jti": Uuid::new_v4().simple().to_string(),
        "type": kind,
        "sid": Uuid::new_v4().simple().to_string(),
    });
    match kind {
        "access" => claims["fresh"] = json!(true),
        "refresh" => claims["gen"] = json!(0),
        _ => {}
    }
    claims
}

/// Signs `claims` with an HMAC algorithm and `secret`.
pub fn sign(claims: &Value, secret: &str, algorithm: Algorithm) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode a JWT")
}

/// An `alg: none` token: no signature at all.
pub fn unsigned(claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT"});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// `token` with its claims replaced and its signature kept.
pub fn with_claims(token: &str, claims: &Value) -> String {
    let mut parts = token.split('.');
    let header = parts.next().expect("header");
    let _ = parts.next();
    let signature = parts.next().expect("signature");
    format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}
