//! The claims as they travel (`docs/http-api.md#claims`), and the
//! domain's claims made from them.

use chrono::{DateTime, Utc};
use domain::{AuthMethods, SessionId, TokenClaims, TokenId, TokenKind, TokenRejection, UserId};
use serde::{Deserialize, Serialize};

/// The wire format of the claims (`docs/http-api.md#claims`). `S`
/// is `&str` when encoding and when reading our own tokens (borrowed from
/// the payload, no allocation), `String` on the general path.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct WireClaims<S> {
    pub iss: S,
    pub aud: S,
    pub sub: S,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: S,
    #[serde(rename = "type")]
    pub kind: WireKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh: Option<bool>,
    pub sid: S,
    /// The session's rotation counter, on refresh tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#gen: Option<u64>,
    /// `aal1` or `aal2`, on access tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aal: Option<S>,
    /// RFC 8176 method names (`["pwd", "otp"]`), on access tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<S>>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum WireKind {
    Access,
    Refresh,
}

/// The domain's claims from checked wire claims.
pub(super) fn claims_from(wire: WireClaims<&str>) -> Result<TokenClaims, TokenRejection> {
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
    // Tokens issued before the second factor existed carry neither: a
    // password alone. A pair that is not one of ours is refused.
    let methods = match (wire.aal, wire.amr.as_deref()) {
        (None, None) => AuthMethods::Password,
        (Some(aal), Some(amr)) => AuthMethods::from_amr(amr)
            .filter(|methods| methods.level().as_str() == aal)
            .ok_or(TokenRejection::Invalid)?,
        _ => return Err(TokenRejection::Invalid),
    };
    Ok(TokenClaims {
        user_id,
        token_id: TokenId::new(wire.jti),
        session_id: SessionId::new(wire.sid),
        kind,
        fresh: wire.fresh.unwrap_or(false),
        generation,
        methods,
        issued_at: timestamp(wire.iat)?,
        expires_at: timestamp(wire.exp)?,
    })
}

fn timestamp(secs: i64) -> Result<DateTime<Utc>, TokenRejection> {
    DateTime::from_timestamp(secs, 0).ok_or(TokenRejection::Invalid)
}
