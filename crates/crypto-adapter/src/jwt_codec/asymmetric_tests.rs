//! The codec with asymmetric keys: which key signs, which verify, and the
//! move from a shared secret without logging anyone out.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{
    KeyId, KeyLifecycle, KeyRing, KeyState, SessionId, SigningAlgorithm, TokenClaims, TokenId,
    TokenKind, TokenRejection, UserId,
};
use secrecy::SecretString;

use super::*;
use crate::signing_keys::KeyMaterial;

fn secret() -> SecretString {
    SecretString::from("k".repeat(32))
}

/// One set of claims for the whole run: a test compares what it decoded
/// with `claims()` again, which must not move if a second ticks between.
fn claims() -> TokenClaims {
    static CLAIMS: std::sync::OnceLock<TokenClaims> = std::sync::OnceLock::new();
    CLAIMS
        .get_or_init(|| {
            let now = Utc::now().timestamp();
            TokenClaims {
                user_id: UserId::new(7),
                token_id: TokenId::new("jti"),
                session_id: SessionId::new("sid"),
                kind: TokenKind::Access,
                fresh: true,
                generation: None,
                methods: domain::AuthMethods::Password,
                issued_at: DateTime::from_timestamp(now, 0).expect("now"),
                expires_at: DateTime::from_timestamp(now + 3_600, 0).expect("later"),
            }
        })
        .clone()
}

fn lifecycle(kid: &str, algorithm: SigningAlgorithm, state: KeyState) -> KeyLifecycle {
    let at = Utc
        .timestamp_opt(1_700_000_000, 0)
        .single()
        .expect("an instant");
    KeyLifecycle {
        kid: KeyId::parse(kid).expect("a kid"),
        algorithm,
        state,
        published_at: at,
        activated_at: (state == KeyState::Active).then_some(at),
        retired_at: None,
        revoked_at: None,
    }
}

/// Keys by kid, made once per test.
struct Keys(HashMap<KeyId, KeyMaterial>);

impl Keys {
    fn new(specs: &[(&str, SigningAlgorithm)]) -> Self {
        Self(
            specs
                .iter()
                .map(|(kid, algorithm)| {
                    (
                        KeyId::parse(kid).expect("a kid"),
                        KeyMaterial::generate(*algorithm).expect("a key"),
                    )
                })
                .collect(),
        )
    }

    /// The set for these (kid, state) pairs.
    fn set(&self, states: &[(&str, KeyState)]) -> SigningKeySet {
        let ring = KeyRing::new(
            states
                .iter()
                .map(|(kid, state)| {
                    let kid = KeyId::parse(kid).expect("a kid");
                    lifecycle(kid.as_str(), self.0[&kid].algorithm(), *state)
                })
                .collect(),
        );
        SigningKeySet::new(&ring, &self.0).expect("a usable set")
    }
}

fn header(token: &str) -> jsonwebtoken::Header {
    jsonwebtoken::decode_header(token).expect("a header")
}

#[test]
fn each_algorithm_signs_with_the_active_key_and_names_it() {
    for algorithm in SigningAlgorithm::ALL {
        let keys = Keys::new(&[("a", algorithm)]);
        let codec = JwtCodec::asymmetric(None, JwtSettings::default()).expect("a codec");
        codec.install(keys.set(&[("a", KeyState::Active)]));
        let token = codec.encode(&claims()).expect("signs");
        assert_eq!(header(&token).kid.as_deref(), Some("a"));
        assert_eq!(header(&token).alg, jose(algorithm));
        assert_eq!(codec.decode(&token), Ok(claims()), "{algorithm}");
    }
}

#[test]
fn without_an_active_key_nothing_is_signed() {
    let codec = JwtCodec::asymmetric(None, JwtSettings::default()).expect("a codec");
    assert!(codec.encode(&claims()).is_err());
    let keys = Keys::new(&[("s", SigningAlgorithm::Es256)]);
    codec.install(keys.set(&[("s", KeyState::Standby)]));
    assert!(codec.encode(&claims()).is_err());
}

#[test]
fn standby_and_retired_keys_verify_and_a_revoked_or_unknown_kid_does_not() {
    let keys = Keys::new(&[
        ("old", SigningAlgorithm::Es256),
        ("new", SigningAlgorithm::EdDsa),
    ]);
    let signer = JwtCodec::asymmetric(None, JwtSettings::default()).expect("a codec");
    let verifier = JwtCodec::asymmetric(None, JwtSettings::default()).expect("a codec");

    // Another instance activated "new" a moment ago; this one still sees
    // it as standby, and must accept its tokens all the same.
    signer.install(keys.set(&[("old", KeyState::Retired), ("new", KeyState::Active)]));
    verifier.install(keys.set(&[("old", KeyState::Active), ("new", KeyState::Standby)]));
    let by_new = signer.encode(&claims()).expect("signs");
    assert_eq!(verifier.decode(&by_new), Ok(claims()));

    signer.install(keys.set(&[("old", KeyState::Active), ("new", KeyState::Standby)]));
    let by_old = signer.encode(&claims()).expect("signs");
    verifier.install(keys.set(&[("old", KeyState::Retired), ("new", KeyState::Active)]));
    assert_eq!(verifier.decode(&by_old), Ok(claims()));

    // Revoked: refused at once, although this thread verified it before.
    verifier.install(keys.set(&[("old", KeyState::Revoked), ("new", KeyState::Active)]));
    assert_eq!(verifier.decode(&by_old), Err(TokenRejection::Invalid));
    // Unknown to this instance altogether.
    verifier.install(keys.set(&[("old", KeyState::Active)]));
    assert_eq!(verifier.decode(&by_new), Err(TokenRejection::Invalid));
}

#[test]
fn a_token_naming_a_key_with_another_algorithm_is_refused() {
    let keys = Keys::new(&[("e", SigningAlgorithm::Es256)]);
    let codec = JwtCodec::asymmetric(Some(&secret()), JwtSettings::default()).expect("a codec");
    codec.install(keys.set(&[("e", KeyState::Active)]));
    let token = codec.encode(&claims()).expect("signs");
    let (_, rest) = token.split_once('.').expect("three parts");
    use base64::Engine;
    for alg in ["RS256", "EdDSA", "HS256"] {
        let forged_header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!(r#"{{"alg":"{alg}","kid":"e","typ":"JWT"}}"#));
        let forged = format!("{forged_header}.{rest}");
        assert_eq!(codec.decode(&forged), Err(TokenRejection::Invalid), "{alg}");
    }
    // HS256 keyed with the public key's JWK text: the classic confusion.
    let public = keys.0[&KeyId::parse("e").expect("kid")]
        .public_jwk(&KeyId::parse("e").expect("kid"))
        .expect("jwk")
        .to_string();
    let confused = JwtCodec::new(&SecretString::from(public), JwtSettings::default())
        .expect("a codec")
        .encode(&claims())
        .expect("signs");
    assert_eq!(codec.decode(&confused), Err(TokenRejection::Invalid));
}

#[test]
fn moving_from_a_shared_secret_keeps_its_tokens_valid_while_the_secret_is_set() {
    let before = JwtCodec::new(&secret(), JwtSettings::default()).expect("HS256");
    let old_token = before.encode(&claims()).expect("signs");

    let keys = Keys::new(&[("a", SigningAlgorithm::Es256)]);
    let after = JwtCodec::asymmetric(Some(&secret()), JwtSettings::default()).expect("a codec");
    after.install(keys.set(&[("a", KeyState::Active)]));
    assert_eq!(after.decode(&old_token), Ok(claims()));
    let new_token = after.encode(&claims()).expect("signs");
    assert_eq!(header(&new_token).alg, jsonwebtoken::Algorithm::ES256);
    // The old instance does not know the new key.
    assert_eq!(before.decode(&new_token), Err(TokenRejection::Invalid));

    // Once the secret is removed, its tokens are refused.
    let without = JwtCodec::asymmetric(None, JwtSettings::default()).expect("a codec");
    without.install(keys.set(&[("a", KeyState::Active)]));
    assert_eq!(without.decode(&old_token), Err(TokenRejection::Invalid));
    assert_eq!(without.decode(&new_token), Ok(claims()));
}

#[test]
fn expiry_issuer_and_audience_are_checked_for_asymmetric_tokens_too() {
    let keys = Keys::new(&[("a", SigningAlgorithm::EdDsa)]);
    let codec = JwtCodec::asymmetric(None, JwtSettings::default()).expect("a codec");
    codec.install(keys.set(&[("a", KeyState::Active)]));
    let mut expired = claims();
    expired.issued_at -= Duration::seconds(3_720);
    expired.expires_at = expired.issued_at + Duration::seconds(60);
    let token = codec.encode(&expired).expect("signs");
    assert_eq!(codec.decode(&token), Err(TokenRejection::Expired));

    let foreign = JwtCodec::asymmetric(
        None,
        JwtSettings {
            audience: "someone-else".into(),
            ..JwtSettings::default()
        },
    )
    .expect("a codec");
    foreign.install(keys.set(&[("a", KeyState::Active)]));
    let token = foreign.encode(&claims()).expect("signs");
    assert_eq!(codec.decode(&token), Err(TokenRejection::Invalid));
}
