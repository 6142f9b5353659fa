//! `aal` and `amr` on the wire: written on access tokens, read back into
//! the same methods, refused when they do not form one of ours.

use chrono::{Duration, Utc};
use domain::{AuthMethods, SessionId, TokenId, UserId};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;

fn codec() -> JwtCodec {
    JwtCodec::new(&SecretString::from("k".repeat(32)), JwtSettings::default()).unwrap()
}

fn claims(kind: TokenKind, methods: AuthMethods) -> TokenClaims {
    let now = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    TokenClaims {
        user_id: UserId::new(42),
        token_id: TokenId::new("jti"),
        session_id: SessionId::new("sid"),
        kind,
        fresh: false,
        generation: (kind == TokenKind::Refresh).then_some(0),
        methods,
        issued_at: now,
        expires_at: now + Duration::seconds(60),
    }
}

fn payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

fn access_payload(extra: Value) -> String {
    let now = Utc::now().timestamp();
    let mut claims = json!({
        "iss": JwtSettings::DEFAULT_ISSUER, "aud": JwtSettings::DEFAULT_AUDIENCE,
        "sub": "42", "iat": now, "nbf": now, "exp": now + 60,
        "jti": "jti", "type": "access", "sid": "sid",
    });
    for (name, value) in extra.as_object().unwrap() {
        claims[name] = value.clone();
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret("k".repeat(32).as_bytes()),
    )
    .unwrap()
}

#[test]
fn access_tokens_carry_aal_and_amr_and_decode_to_the_same_methods() {
    let codec = codec();
    for (methods, aal, amr) in [
        (AuthMethods::Password, "aal1", json!(["pwd"])),
        (AuthMethods::PasswordAndTotp, "aal2", json!(["pwd", "otp"])),
        (
            AuthMethods::PasswordAndRecoveryCode,
            "aal2",
            json!(["pwd", "rc"]),
        ),
    ] {
        let token = codec.encode(&claims(TokenKind::Access, methods)).unwrap();
        let wire = payload(&token);
        assert_eq!(wire["aal"], aal);
        assert_eq!(wire["amr"], amr);
        assert_eq!(codec.decode(&token).unwrap().methods, methods);
    }
}

#[test]
fn refresh_tokens_carry_neither_the_session_keeps_them() {
    let codec = codec();
    let token = codec
        .encode(&claims(TokenKind::Refresh, AuthMethods::PasswordAndTotp))
        .unwrap();
    let wire = payload(&token);
    assert!(
        wire.get("aal").is_none() && wire.get("amr").is_none(),
        "{wire}"
    );
}

#[test]
fn a_token_from_before_the_second_factor_is_a_password_login() {
    let token = access_payload(json!({}));
    assert_eq!(
        codec().decode(&token).unwrap().methods,
        AuthMethods::Password
    );
}

#[test]
fn aal_and_amr_that_do_not_agree_or_are_not_ours_are_refused() {
    for extra in [
        json!({"aal": "aal2", "amr": ["pwd"]}),
        json!({"aal": "aal1", "amr": ["pwd", "otp"]}),
        json!({"aal": "aal2", "amr": ["pwd", "sms"]}),
        json!({"aal": "aal2"}),
        json!({"amr": ["pwd", "otp"]}),
    ] {
        let token = access_payload(extra.clone());
        assert_eq!(
            codec().decode(&token),
            Err(TokenRejection::Invalid),
            "{extra}"
        );
    }
    let ok = access_payload(json!({"aal": "aal2", "amr": ["pwd", "otp"]}));
    assert_eq!(
        codec().decode(&ok).unwrap().methods,
        AuthMethods::PasswordAndTotp
    );
}
