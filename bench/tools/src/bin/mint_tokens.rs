//! Access tokens for many distinct users, signed as the server signs them,
//! so `/protected` can be loaded with tokens no thread has verified before
//! (logging 10,000 users in would cost 10,000 password hashes).
//!
//! `mint_tokens COUNT HS256 SECRET` signs with the shared secret;
//! `mint_tokens COUNT ES256|EdDSA|RS256 KEY.pem KID` with a key the server
//! holds (imported with `api-server keys import`). Prints one token a line,
//! for users 1..=COUNT, each with a session of its own.

use std::collections::HashMap;

use application::ports::TokenCodec;
use chrono::Utc;
use crypto_adapter::{JwtCodec, JwtSettings, KeyMaterial, SigningKeySet};
use domain::{
    KeyId, KeyLifecycle, KeyRing, KeyState, SessionId, SigningAlgorithm, TokenClaims, TokenId,
    TokenKind, UserId,
};
use secrecy::SecretString;

type Failure = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "usage: mint_tokens COUNT HS256 SECRET | mint_tokens COUNT ALG KEY.pem KID";

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (count, algorithm) = match args.as_slice() {
        [count, algorithm, ..] => (count.parse::<i64>()?, algorithm.as_str()),
        _ => return Err(USAGE.into()),
    };
    let codec = match (algorithm, &args[2..]) {
        ("HS256", [secret]) => {
            JwtCodec::new(&SecretString::from(secret.as_str()), JwtSettings::default())?
        }
        (name, [pem_file, kid]) => {
            let algorithm = SigningAlgorithm::ALL
                .into_iter()
                .find(|candidate| candidate.as_str() == name)
                .ok_or_else(|| format!("unknown algorithm {name}; {USAGE}"))?;
            asymmetric_codec(algorithm, &std::fs::read_to_string(pem_file)?, kid)?
        }
        _ => return Err(USAGE.into()),
    };
    let now = Utc::now();
    let mut out = String::new();
    for user in 1..=count {
        let claims = TokenClaims {
            user_id: UserId::new(user),
            token_id: TokenId::new(format!("{user:032x}")),
            session_id: SessionId::new(format!("{user:032x}")),
            kind: TokenKind::Access,
            fresh: false,
            generation: None,
            methods: domain::AuthMethods::Password,
            issued_at: now,
            expires_at: now + chrono::Duration::seconds(3600),
        };
        out.push_str(&codec.encode(&claims)?);
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}

/// A codec whose only key is `kid`, active, read from a PKCS#8 PEM.
fn asymmetric_codec(
    algorithm: SigningAlgorithm,
    pem: &str,
    kid: &str,
) -> Result<JwtCodec, Failure> {
    let kid = KeyId::parse(kid)?;
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
    let materials = HashMap::from([(kid, KeyMaterial::from_pkcs8_pem(algorithm, pem)?)]);
    let codec = JwtCodec::asymmetric(None, JwtSettings::default())?;
    codec.install(SigningKeySet::new(&ring, &materials)?);
    Ok(codec)
}
