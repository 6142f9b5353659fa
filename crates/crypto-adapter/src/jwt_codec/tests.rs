use chrono::{DateTime, Duration, Utc};
use domain::{SessionId, TokenId, UserId};

use super::*;

fn secret(raw: &str) -> SecretString {
    SecretString::from(raw.to_owned())
}

fn codec() -> JwtCodec {
    JwtCodec::new(&secret(&"k".repeat(32)), JwtSettings::default()).unwrap()
}

fn with_algorithm(algorithm: JwtAlgorithm) -> JwtSettings {
    JwtSettings {
        algorithm,
        ..JwtSettings::default()
    }
}

fn claims(kind: TokenKind, fresh: bool, lifetime: Duration) -> TokenClaims {
    let now = Utc::now();
    TokenClaims {
        user_id: UserId::new(42),
        token_id: TokenId::new("jti"),
        session_id: SessionId::new("sid"),
        kind,
        fresh,
        generation: (kind == TokenKind::Refresh).then_some(7),
        methods: domain::AuthMethods::Password,
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
fn refuses_secrets_shorter_than_the_hash_output_naming_the_variable() {
    for (algorithm, min) in [
        (JwtAlgorithm::Hs256, 32),
        (JwtAlgorithm::Hs384, 48),
        (JwtAlgorithm::Hs512, 64),
    ] {
        let short = JwtCodec::new(&secret(&"k".repeat(min - 1)), with_algorithm(algorithm));
        let message = short.err().unwrap().to_string();
        assert!(message.contains("JWT_SECRET_KEY"), "{message}");
        assert!(message.contains(&min.to_string()), "{message}");
        assert!(JwtCodec::new(&secret(&"k".repeat(min)), with_algorithm(algorithm)).is_ok());
    }
}

#[test]
fn refuses_an_empty_issuer_or_audience() {
    let key = secret(&"k".repeat(32));
    let no_issuer = JwtSettings {
        issuer: " ".into(),
        ..JwtSettings::default()
    };
    assert!(matches!(
        JwtCodec::new(&key, no_issuer),
        Err(JwtKeyError::EmptyIssuer)
    ));
    let no_audience = JwtSettings {
        audience: String::new(),
        ..JwtSettings::default()
    };
    assert!(matches!(
        JwtCodec::new(&key, no_audience),
        Err(JwtKeyError::EmptyAudience)
    ));
}

#[test]
fn rejects_tokens_of_another_issuer_or_audience() {
    let key = secret(&"k".repeat(32));
    let token = codec()
        .encode(&claims(TokenKind::Access, true, Duration::seconds(60)))
        .unwrap();
    let other_issuer = JwtCodec::new(
        &key,
        JwtSettings {
            issuer: "someone-else".into(),
            ..JwtSettings::default()
        },
    )
    .unwrap();
    assert_eq!(other_issuer.decode(&token), Err(TokenRejection::Invalid));
    let other_audience = JwtCodec::new(
        &key,
        JwtSettings {
            audience: "another-app".into(),
            ..JwtSettings::default()
        },
    )
    .unwrap();
    assert_eq!(other_audience.decode(&token), Err(TokenRejection::Invalid));
}

/// Signs `claims` (a JSON object) with the test key, as a forger who
/// knows the key but not the configured issuer and audience would.
fn signed(claims: &serde_json::Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret("k".repeat(32).as_bytes()),
    )
    .unwrap()
}

#[test]
fn a_refresh_token_carries_a_numeric_generation() {
    let now = Utc::now().timestamp();
    let refresh = |generation: Option<serde_json::Value>| {
        let mut claims = serde_json::json!({
            "iss": JwtSettings::DEFAULT_ISSUER, "aud": JwtSettings::DEFAULT_AUDIENCE,
            "sub": "42", "iat": now, "nbf": now, "exp": now + 60, "jti": "j",
            "type": "refresh", "sid": "s",
        });
        if let Some(generation) = generation {
            claims["gen"] = generation;
        }
        codec().decode(&signed(&claims))
    };
    assert_eq!(
        refresh(Some(serde_json::json!(3))).unwrap().generation,
        Some(3)
    );
    for bad in [
        None,
        Some(serde_json::json!("3")),
        Some(serde_json::json!(-1)),
        Some(serde_json::json!(1.5)),
        Some(serde_json::json!(null)),
    ] {
        assert_eq!(
            refresh(bad.clone()),
            Err(TokenRejection::Invalid),
            "{bad:?}"
        );
    }
    let encoded = codec()
        .encode(&claims(TokenKind::Refresh, false, Duration::seconds(60)))
        .unwrap();
    let payload = encoded.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let json: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json["gen"], 7);
    let access = codec()
        .encode(&claims(TokenKind::Access, true, Duration::seconds(60)))
        .unwrap();
    assert_eq!(codec().decode(&access).unwrap().generation, None);
}

#[test]
fn rejects_tokens_without_issuer_or_audience() {
    let now = Utc::now().timestamp();
    let full = serde_json::json!({
        "iss": JwtSettings::DEFAULT_ISSUER, "aud": JwtSettings::DEFAULT_AUDIENCE,
        "sub": "42", "iat": now, "nbf": now, "exp": now + 60, "jti": "j",
        "type": "access", "fresh": true, "sid": "s",
    });
    assert!(codec().decode(&signed(&full)).is_ok());
    for claim in ["iss", "aud"] {
        let mut partial = full.clone();
        partial.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            codec().decode(&signed(&partial)),
            Err(TokenRejection::Invalid),
            "without {claim}"
        );
    }
}

#[test]
fn rejects_another_key_and_garbage() {
    let token = codec()
        .encode(&claims(TokenKind::Access, true, Duration::seconds(60)))
        .unwrap();
    let other = JwtCodec::new(&secret(&"x".repeat(32)), JwtSettings::default()).unwrap();
    assert_eq!(other.decode(&token), Err(TokenRejection::Invalid));
    assert_eq!(codec().decode("garbage"), Err(TokenRejection::Invalid));
    assert_eq!(codec().decode(""), Err(TokenRejection::Invalid));
}

#[test]
fn rejects_other_algorithms_even_with_the_right_key() {
    let key = secret(&"k".repeat(64));
    let hs512 = JwtCodec::new(&key, with_algorithm(JwtAlgorithm::Hs512)).unwrap();
    let hs256 = JwtCodec::new(&key, JwtSettings::default()).unwrap();
    let token = hs512
        .encode(&claims(TokenKind::Access, true, Duration::seconds(60)))
        .unwrap();
    assert!(hs512.decode(&token).is_ok());
    assert_eq!(hs256.decode(&token), Err(TokenRejection::Invalid));
}

#[test]
fn rejects_unsigned_tokens() {
    use base64::Engine;
    let encode = |raw: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let header = encode(r#"{"alg":"none","typ":"JWT"}"#);
    let now = Utc::now().timestamp();
    let body = encode(&format!(
        r#"{{"iss":"auth-service","aud":"auth-service-clients","sub":"42","iat":{now},"nbf":{now},"exp":{},"jti":"j","type":"access","fresh":true,"sid":"s"}}"#,
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

#[test]
fn own_tokens_take_the_short_path_with_every_algorithm() {
    let key = secret(&"k".repeat(64));
    for algorithm in [
        JwtAlgorithm::Hs256,
        JwtAlgorithm::Hs384,
        JwtAlgorithm::Hs512,
    ] {
        let codec = JwtCodec::new(&key, with_algorithm(algorithm)).unwrap();
        let original = claims(TokenKind::Access, true, Duration::seconds(60));
        let token = codec.encode(&original).unwrap();
        assert_eq!(codec.decode_own(&token), Some(Ok(original)), "{algorithm}");
    }
}

/// Every token the short path answers, it answers as jsonwebtoken does.
#[test]
fn the_short_and_the_general_path_agree() {
    let now = Utc::now().timestamp();
    let base = serde_json::json!({
        "iss": JwtSettings::DEFAULT_ISSUER, "aud": JwtSettings::DEFAULT_AUDIENCE,
        "sub": "42", "iat": now, "nbf": now, "exp": now + 60, "jti": "j",
        "type": "access", "fresh": true, "sid": "s",
    });
    let with = |changes: serde_json::Value| {
        let mut claims = base.clone();
        for (key, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(key);
            } else {
                claims[key] = value.clone();
            }
        }
        signed(&claims)
    };
    let valid = signed(&base);
    let (message, _) = valid.rsplit_once('.').unwrap();
    let foreign = JwtCodec::new(&secret(&"x".repeat(32)), JwtSettings::default())
        .unwrap()
        .encode(&claims(TokenKind::Access, true, Duration::seconds(60)))
        .unwrap();
    let tokens = [
        valid.clone(),
        with(serde_json::json!({"type": "refresh", "fresh": null, "gen": 3})),
        with(serde_json::json!({"type": "refresh", "fresh": null})),
        with(serde_json::json!({"exp": now - 1})),
        with(serde_json::json!({"exp": now})),
        with(serde_json::json!({"exp": -5})),
        with(serde_json::json!({"nbf": now + 30})),
        with(serde_json::json!({"nbf": -1})),
        with(serde_json::json!({"exp": now - 1, "iss": "other"})),
        with(serde_json::json!({"iss": "other"})),
        with(serde_json::json!({"aud": "other"})),
        with(serde_json::json!({"aud": ["auth-service-clients"]})),
        with(serde_json::json!({"sub": "not-a-number"})),
        with(serde_json::json!({"exp": null})),
        with(serde_json::json!({"jti": null})),
        with(serde_json::json!({"exp": 1.5e9})),
        with(serde_json::json!({"type": "other"})),
        with(serde_json::json!({"extra": {"nested": [1, 2]}})),
        format!("{message}.AAAA"),
        format!("{message}."),
        message.to_owned(),
        format!("{message}.{}", "A".repeat(200)),
        valid.replacen('.', ".x", 1),
        foreign,
    ];
    let codec = codec();
    let mut short = 0;
    for token in &tokens {
        if let Some(answer) = codec.decode_own(token) {
            short += 1;
            assert_eq!(answer, codec.decode_general(token), "{token}");
        }
    }
    assert!(short >= 15, "only {short} tokens took the short path");
}

#[test]
fn a_token_the_short_path_passes_over_is_still_decoded() {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let encode = |raw: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let now = Utc::now().timestamp();
    let body = |jti: &str| {
        serde_json::json!({
            "iss": JwtSettings::DEFAULT_ISSUER, "aud": JwtSettings::DEFAULT_AUDIENCE,
            "sub": "42", "iat": now, "nbf": now, "exp": now + 60, "jti": jti,
            "type": "access", "fresh": false, "sid": "s",
        })
        .to_string()
    };
    let sign = |header: &str, body: &str| {
        let message = format!("{}.{}", encode(header.as_bytes()), encode(body.as_bytes()));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice("k".repeat(32).as_bytes()).unwrap();
        mac.update(message.as_bytes());
        format!("{message}.{}", encode(&mac.finalize().into_bytes()))
    };
    let codec = codec();
    // The same header, its fields the other way round.
    let reordered = sign(r#"{"alg":"HS256","typ":"JWT"}"#, &body("j"));
    assert_eq!(codec.decode_own(&reordered), None);
    assert_eq!(
        codec.decode(&reordered).unwrap().token_id,
        TokenId::new("j")
    );
    // A claim with an escape cannot be borrowed from the payload.
    let escaped = sign(
        &String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&codec.hmac.as_ref().unwrap().own_header)
                .unwrap(),
        )
        .unwrap(),
        &body("a\"b"),
    );
    assert_eq!(codec.decode_own(&escaped), None);
    assert_eq!(
        codec.decode(&escaped).unwrap().token_id,
        TokenId::new("a\"b")
    );
}

#[test]
fn a_token_verified_once_decodes_again_from_the_memo_with_the_same_claims() {
    let codec = codec();
    let original = claims(TokenKind::Access, true, Duration::seconds(60));
    let token = codec.encode(&original).unwrap();
    assert!(codec.verified.recall(&token, unix_now(), 0).is_none());
    assert_eq!(codec.decode(&token).unwrap(), original);
    assert_eq!(
        codec.verified.recall(&token, unix_now(), 0),
        Some(original.clone())
    );
    assert_eq!(codec.decode(&token).unwrap(), original);
}

#[test]
fn a_token_verified_by_one_codec_is_never_taken_from_the_memo_by_another() {
    let signer = codec();
    let token = signer
        .encode(&claims(TokenKind::Access, true, Duration::seconds(60)))
        .unwrap();
    assert!(signer.decode(&token).is_ok());
    // Same thread, another key: the memo of the first codec is not its own.
    let other = JwtCodec::new(&secret(&"o".repeat(32)), JwtSettings::default()).unwrap();
    assert_eq!(other.decode(&token), Err(TokenRejection::Invalid));
    assert!(other.verified.recall(&token, unix_now(), 0).is_none());
}

#[test]
fn an_altered_token_is_not_found_in_the_memo() {
    let codec = codec();
    let token = codec
        .encode(&claims(TokenKind::Access, true, Duration::seconds(60)))
        .unwrap();
    assert!(codec.decode(&token).is_ok());
    let mut altered = token.clone();
    altered.push('A');
    assert_eq!(codec.decode(&altered), Err(TokenRejection::Invalid));
}

#[test]
fn a_remembered_token_past_its_expiry_is_dropped_and_refused() {
    let codec = codec();
    let original = claims(TokenKind::Access, true, Duration::seconds(60));
    let token = codec.encode(&original).unwrap();
    assert!(codec.decode(&token).is_ok());
    let later = original.expires_at.timestamp() + 1;
    assert!(codec.verified.recall(&token, later, 0).is_none());
    // Dropped: not even the present finds it any more.
    assert!(codec.verified.recall(&token, unix_now(), 0).is_none());
}
