use domain::{KeyId, SigningAlgorithm};
use jsonwebtoken::{Algorithm, Header, Validation};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::*;

fn kid(text: &str) -> KeyId {
    KeyId::parse(text).expect("a valid kid")
}

fn vault(byte: u8) -> KeyVault {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    KeyVault::from_base64(&SecretString::from(encoded)).expect("32 bytes")
}

fn jose(algorithm: SigningAlgorithm) -> Algorithm {
    match algorithm {
        SigningAlgorithm::Es256 => Algorithm::ES256,
        SigningAlgorithm::EdDsa => Algorithm::EdDSA,
        SigningAlgorithm::Rs256 => Algorithm::RS256,
    }
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Claims {
    sub: String,
    exp: u64,
}

#[test]
fn each_algorithm_makes_a_key_that_signs_and_verifies_with_its_public_half() {
    for algorithm in SigningAlgorithm::ALL {
        let key = KeyMaterial::generate(algorithm).expect("a new key");
        let claims = Claims {
            sub: "42".into(),
            exp: 4_000_000_000,
        };
        let mut header = Header::new(jose(algorithm));
        header.kid = Some("k1".into());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding_key().expect("signs"))
            .expect("encodes");
        let decoded = jsonwebtoken::decode::<Claims>(
            &token,
            &key.decoding_key().expect("verifies"),
            &Validation::new(jose(algorithm)),
        )
        .expect("its own signature verifies");
        assert_eq!(decoded.claims, claims, "{algorithm}");
        assert_eq!(decoded.header.kid.as_deref(), Some("k1"));

        // Another key of the same algorithm does not verify it.
        let other = KeyMaterial::generate(algorithm).expect("a new key");
        assert!(
            jsonwebtoken::decode::<Claims>(
                &token,
                &other.decoding_key().expect("verifies"),
                &Validation::new(jose(algorithm)),
            )
            .is_err(),
            "{algorithm}"
        );
    }
}

#[test]
fn the_public_jwk_carries_kid_alg_use_and_only_public_parameters() {
    for (algorithm, kty, public) in [
        (SigningAlgorithm::Es256, "EC", &["crv", "x", "y"][..]),
        (SigningAlgorithm::EdDsa, "OKP", &["crv", "x"][..]),
        (SigningAlgorithm::Rs256, "RSA", &["n", "e"][..]),
    ] {
        let key = KeyMaterial::generate(algorithm).expect("a new key");
        let jwk = key.public_jwk(&kid("key-1")).expect("a JWK");
        assert_eq!(jwk["kid"], "key-1");
        assert_eq!(jwk["alg"], algorithm.as_str());
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kty"], kty);
        let mut fields: Vec<_> = jwk
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        let mut expected = vec!["alg", "kid", "kty", "use"];
        expected.extend_from_slice(public);
        expected.sort_unstable();
        // No "d", "p", "q"...: nothing private.
        assert_eq!(fields, expected, "{algorithm}");
        // jsonwebtoken reads it back as a verifying key.
        let parsed: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk).expect("a valid JWK");
        assert!(jsonwebtoken::DecodingKey::from_jwk(&parsed).is_ok());
    }
}

#[test]
fn a_sealed_key_opens_only_with_its_encryption_key_kid_and_algorithm() {
    let key = KeyMaterial::generate(SigningAlgorithm::Es256).expect("a new key");
    let sealed = vault(1).seal(&kid("a"), &key).expect("seals");
    assert_eq!(sealed.nonce.len(), 12);
    assert!(
        !sealed
            .ciphertext
            .windows(16)
            .any(|w| key.pkcs8_der().windows(16).any(|k| k == w)),
        "the ciphertext holds no run of the key"
    );
    let opened = vault(1)
        .open(&kid("a"), SigningAlgorithm::Es256, &sealed)
        .expect("opens");
    assert_eq!(
        opened.public_jwk(&kid("a")).expect("jwk"),
        key.public_jwk(&kid("a")).expect("jwk")
    );
    for (vault, kid, algorithm) in [
        (vault(2), kid("a"), SigningAlgorithm::Es256),
        (vault(1), kid("b"), SigningAlgorithm::Es256),
        (vault(1), kid("a"), SigningAlgorithm::EdDsa),
    ] {
        assert!(matches!(
            vault.open(&kid, algorithm, &sealed),
            Err(VaultError::DoesNotOpen)
        ));
    }
    let mut altered = sealed.clone();
    altered.ciphertext[0] ^= 1;
    assert!(matches!(
        vault(1).open(&kid("a"), SigningAlgorithm::Es256, &altered),
        Err(VaultError::DoesNotOpen)
    ));
}

#[test]
fn two_seals_of_one_key_use_two_nonces() {
    let key = KeyMaterial::generate(SigningAlgorithm::EdDsa).expect("a new key");
    let first = vault(1).seal(&kid("a"), &key).expect("seals");
    let second = vault(1).seal(&kid("a"), &key).expect("seals");
    assert_ne!(first.nonce, second.nonce);
    assert_ne!(first.ciphertext, second.ciphertext);
}

#[test]
fn the_encryption_key_is_exactly_32_bytes_of_base64() {
    use base64::Engine;
    for bad in [
        "".to_owned(),
        "not base64!".to_owned(),
        base64::engine::general_purpose::STANDARD.encode([0u8; 31]),
        base64::engine::general_purpose::STANDARD.encode([0u8; 33]),
    ] {
        assert!(matches!(
            KeyVault::from_base64(&SecretString::from(bad.clone())),
            Err(VaultError::BadEncryptionKey)
        ));
    }
}

#[test]
fn imported_pem_keys_are_checked_against_their_algorithm() {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    let ed = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let pem = ed
        .to_pkcs8_pem(pkcs8::LineEnding::LF)
        .expect("pem")
        .to_string();
    let key = KeyMaterial::from_pkcs8_pem(SigningAlgorithm::EdDsa, &pem).expect("an Ed25519 key");
    assert_eq!(key.algorithm(), SigningAlgorithm::EdDsa);
    assert!(matches!(
        KeyMaterial::from_pkcs8_pem(SigningAlgorithm::Es256, &pem),
        Err(KeyMaterialError::NotPkcs8 { .. })
    ));
    assert!(KeyMaterial::from_pkcs8_pem(SigningAlgorithm::EdDsa, "garbage").is_err());
}

#[test]
fn an_rsa_key_shorter_than_2048_bits_is_refused() {
    use rsa::pkcs8::EncodePrivateKey as _;
    let short = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).expect("a short key");
    let der = short.to_pkcs8_der().expect("der").as_bytes().to_vec();
    assert!(matches!(
        KeyMaterial::from_pkcs8_der(SigningAlgorithm::Rs256, der),
        Err(KeyMaterialError::RsaTooShort(1024))
    ));
}

#[test]
fn debug_output_never_shows_key_material() {
    let key = KeyMaterial::generate(SigningAlgorithm::Es256).expect("a new key");
    assert!(format!("{key:?}").contains("redacted"));
    assert_eq!(format!("{:?}", vault(1)), "KeyVault([redacted])");
}

mod workshop {
    use std::sync::Arc;

    use application::ports::{KeyWorkshop, KeyWorkshopError, StoredSigningKey, TokenCodec};
    use chrono::Utc;
    use domain::{
        KeyLifecycle, KeyState, SessionId, SigningAlgorithm, TokenClaims, TokenId, TokenKind,
        UserId,
    };

    use super::{kid, vault};
    use crate::JwtSettings;
    use crate::jwt_codec::JwtCodec;
    use crate::signing_keys::CryptoKeyWorkshop;

    fn codec() -> Arc<JwtCodec> {
        Arc::new(JwtCodec::asymmetric(None, JwtSettings::default()).expect("a codec"))
    }

    fn stored(
        workshop: &CryptoKeyWorkshop,
        name: &str,
        algorithm: SigningAlgorithm,
        state: KeyState,
    ) -> StoredSigningKey {
        let forged = workshop.generate(&kid(name), algorithm).expect("a key");
        StoredSigningKey {
            lifecycle: KeyLifecycle {
                kid: kid(name),
                algorithm,
                state,
                published_at: Utc::now(),
                activated_at: (state == KeyState::Active).then(Utc::now),
                retired_at: None,
                revoked_at: None,
            },
            public_jwk: forged.public_jwk,
            sealed: forged.sealed,
        }
    }

    fn claims() -> TokenClaims {
        let now = Utc::now().timestamp();
        TokenClaims {
            user_id: UserId::new(1),
            token_id: TokenId::new("j"),
            session_id: SessionId::new("s"),
            kind: TokenKind::Access,
            fresh: false,
            generation: None,
            methods: domain::AuthMethods::Password,
            issued_at: chrono::DateTime::from_timestamp(now, 0).expect("now"),
            expires_at: chrono::DateTime::from_timestamp(now + 60, 0).expect("later"),
        }
    }

    #[test]
    fn kids_are_22_random_url_safe_characters() {
        let workshop = CryptoKeyWorkshop::new(vault(1), codec());
        let (a, b) = (workshop.new_kid(), workshop.new_kid());
        assert_eq!(a.as_str().len(), 22);
        assert_ne!(a, b);
    }

    #[test]
    fn stored_keys_put_in_use_sign_with_the_active_one() {
        let codec = codec();
        let workshop = CryptoKeyWorkshop::new(vault(1), codec.clone());
        let keys = vec![
            stored(&workshop, "a", SigningAlgorithm::Es256, KeyState::Retired),
            stored(&workshop, "b", SigningAlgorithm::Rs256, KeyState::Active),
            stored(&workshop, "c", SigningAlgorithm::EdDsa, KeyState::Revoked),
        ];
        workshop.put_in_use(&keys).expect("opens");
        assert_eq!(codec.keys().active_kid(), Some(&kid("b")));
        assert_eq!(codec.keys().published_count(), 2);
        // One value: a second may tick between two calls of `claims()`.
        let claims = claims();
        let token = codec.encode(&claims).expect("signs");
        assert_eq!(
            jsonwebtoken::decode_header(&token)
                .expect("header")
                .kid
                .as_deref(),
            Some("b")
        );
        assert_eq!(codec.decode(&token), Ok(claims));
    }

    #[test]
    fn keys_sealed_under_another_encryption_key_do_not_go_in_use() {
        let codec = codec();
        let made_by = CryptoKeyWorkshop::new(vault(1), codec.clone());
        let keys = vec![stored(
            &made_by,
            "a",
            SigningAlgorithm::Es256,
            KeyState::Active,
        )];
        let other = CryptoKeyWorkshop::new(vault(2), codec.clone());
        assert!(matches!(
            other.put_in_use(&keys),
            Err(KeyWorkshopError::DoesNotOpen(kid)) if kid.as_str() == "a"
        ));
        assert_eq!(codec.keys().active_kid(), None);
    }

    #[test]
    fn an_imported_pem_of_the_wrong_algorithm_is_an_invalid_key() {
        let workshop = CryptoKeyWorkshop::new(vault(1), codec());
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\n-----END PRIVATE KEY-----\n";
        assert!(
            workshop
                .import(&kid("i"), SigningAlgorithm::EdDsa, pem)
                .is_ok()
        );
        assert!(matches!(
            workshop.import(&kid("i"), SigningAlgorithm::Es256, pem),
            Err(KeyWorkshopError::InvalidKey(_))
        ));
    }
}
