//! What signing and verifying one access token costs per algorithm, with
//! the server's own codec: HS256 on the shared secret, and ES256, EdDSA
//! and RS256 on an installed signing key. Every token is verified once,
//! so no decode is answered from the codec's memo of verified tokens.
//!
//! `sign_verify [tokens]` prints `ALG sign_us=... verify_us=...` lines.

use std::collections::HashMap;
use std::time::Instant;

use application::ports::TokenCodec;
use chrono::Utc;
use crypto_adapter::{JwtCodec, JwtSettings, KeyMaterial, SigningKeySet};
use domain::{
    KeyId, KeyLifecycle, KeyRing, KeyState, SessionId, SigningAlgorithm, TokenClaims, TokenId,
    TokenKind, UserId,
};
use secrecy::SecretString;

type Failure = Box<dyn std::error::Error + Send + Sync>;

const SECRET: &str = "benchmark-secret-0123456789abcdef0123456789";

fn main() -> Result<(), Failure> {
    let tokens: usize = std::env::args()
        .nth(1)
        .map_or(Ok(2_000), |raw| raw.parse())?;
    let hmac = JwtCodec::new(&SecretString::from(SECRET), JwtSettings::default())?;
    report("HS256", &hmac, tokens)?;
    for algorithm in SigningAlgorithm::ALL {
        let codec = JwtCodec::asymmetric(None, JwtSettings::default())?;
        let kid = KeyId::parse("bench")?;
        let now = Utc::now();
        let ring = KeyRing::new(vec![KeyLifecycle {
            kid: kid.clone(),
            algorithm,
            state: KeyState::Active,
            published_at: now,
            activated_at: Some(now),
            retired_at: None,
            revoked_at: None,
        }]);
        let materials = HashMap::from([(kid, KeyMaterial::generate(algorithm)?)]);
        codec.install(SigningKeySet::new(&ring, &materials)?);
        report(algorithm.as_str(), &codec, tokens)?;
    }
    Ok(())
}

/// Signs `count` distinct access tokens, then verifies each once.
fn report(name: &str, codec: &JwtCodec, count: usize) -> Result<(), Failure> {
    let now = Utc::now();
    let claims: Vec<TokenClaims> = (0..count)
        .map(|n| TokenClaims {
            user_id: UserId::new(i64::try_from(n).unwrap_or(i64::MAX)),
            token_id: TokenId::new(format!("{n:032x}")),
            session_id: SessionId::new(format!("{n:032x}")),
            kind: TokenKind::Access,
            fresh: true,
            generation: None,
            methods: domain::AuthMethods::Password,
            issued_at: now,
            expires_at: now + chrono::Duration::seconds(3600),
        })
        .collect();
    let started = Instant::now();
    let tokens: Vec<String> = claims
        .iter()
        .map(|claims| codec.encode(std::hint::black_box(claims)))
        .collect::<Result<_, _>>()?;
    let sign = started.elapsed().as_secs_f64() * 1e6 / count as f64;
    let started = Instant::now();
    for token in &tokens {
        std::hint::black_box(codec.decode(std::hint::black_box(token)))
            .map_err(|rejection| format!("{name}: our own token refused: {rejection:?}"))?;
    }
    let verify = started.elapsed().as_secs_f64() * 1e6 / count as f64;
    println!("{name} sign_us={sign:.1} verify_us={verify:.1}");
    Ok(())
}
