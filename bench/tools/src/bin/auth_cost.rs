//! What a token check costs in the API process, step by step, on one
//! thread: the JWT decode (a token first seen, one verified before, and
//! jsonwebtoken's full decode the codec replaced), and the revocation check answered from the cache
//! or, without it, by one Redis round trip.
//!
//! `auth_cost REDIS_URL [iterations]` prints `name=microseconds` lines.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use application::ports::{TokenCodec, TokenRevocations};
use chrono::Utc;
use crypto_adapter::{JwtCodec, JwtSettings};
use domain::{SessionId, TokenClaims, TokenId, TokenKind, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use redis_adapter::{
    RedisSettings, RedisTokenRevocations, RevocationCacheSettings, connect_shared,
};
use secrecy::SecretString;

type Failure = Box<dyn std::error::Error + Send + Sync>;

const SECRET: &str = "benchmark-secret-0123456789abcdef0123456789";

/// Average microseconds of `step` over `iterations` runs.
fn time(iterations: u32, mut step: impl FnMut()) -> f64 {
    let started = Instant::now();
    for _ in 0..iterations {
        step();
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
}

async fn time_async<F: Future<Output = ()>>(iterations: u32, mut step: impl FnMut() -> F) -> f64 {
    let started = Instant::now();
    for _ in 0..iterations {
        step().await;
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let redis_url = args.next().ok_or("missing REDIS_URL")?;
    let iterations: u32 = args.next().map_or(Ok(200_000), |raw| raw.parse())?;

    let codec = JwtCodec::new(
        &SecretString::from(SECRET.to_owned()),
        JwtSettings::default(),
    )?;
    let now = Utc::now();
    let claims = TokenClaims {
        user_id: UserId::new(42),
        token_id: TokenId::new("0b3d0f59-2a5c-4f57-9d43-7f7f0e6a1c21"),
        session_id: SessionId::new("7c9e6679-7425-40de-944b-e07fc1f90ae7"),
        kind: TokenKind::Access,
        fresh: true,
        generation: None,
        methods: domain::AuthMethods::Password,
        issued_at: now,
        expires_at: now + chrono::Duration::seconds(3600),
    };
    let token = codec.encode(&claims)?;
    // First sight of each token: more distinct tokens than the codec's
    // memo of verified tokens holds, taken in turn, so every decode does
    // the crypto (and files its result).
    let fresh: Vec<String> = (0..4_096)
        .map(|n| {
            codec.encode(&TokenClaims {
                token_id: TokenId::new(format!("{n:032x}")),
                ..claims.clone()
            })
        })
        .collect::<Result<_, _>>()?;
    let mut next = fresh.iter().cycle();
    let decode = time(iterations, || {
        let token = next.next().map_or("", String::as_str);
        let _ = std::hint::black_box(codec.decode(std::hint::black_box(token)));
    });
    println!("jwt_decode_us={decode:.2}");
    // A token this thread verified before: what most checks of an active
    // client cost.
    let remembered = time(iterations, || {
        let _ = std::hint::black_box(codec.decode(std::hint::black_box(&token)));
    });
    println!("jwt_decode_remembered_us={remembered:.2}");

    // What the codec ran before it had a path of its own.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_nbf = true;
    validation.set_issuer(&[JwtSettings::DEFAULT_ISSUER]);
    validation.set_audience(&[JwtSettings::DEFAULT_AUDIENCE]);
    let key = DecodingKey::from_secret(SECRET.as_bytes());
    let jsonwebtoken = time(iterations, || {
        let decoded = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation);
        let _ = std::hint::black_box(decoded);
    });
    println!("jwt_decode_jsonwebtoken_us={jsonwebtoken:.2}");

    let settings = RedisSettings::default();
    let prefix = format!("auth-cost-{}:", std::process::id());
    let cached = RedisTokenRevocations::new(
        connect_shared(&redis_url, &settings)?,
        prefix.clone(),
        settings.command_timeout,
    )
    .with_cache(
        &redis_url,
        RevocationCacheSettings::new(NonZeroUsize::MIN.saturating_add(1023), &settings),
    )?;
    // Until the tracking connection is up, checks go around the cache.
    for _ in 0..500 {
        cached.is_revoked(&claims).await?;
        if cached.cache_stats().is_some_and(|stats| stats.hits > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let hit = time_async(iterations, || async {
        let _ = std::hint::black_box(cached.is_revoked(&claims).await);
    })
    .await;
    println!("revocation_check_cached_us={hit:.2}");

    let uncached = RedisTokenRevocations::new(
        connect_shared(&redis_url, &settings)?,
        prefix,
        settings.command_timeout,
    );
    let round_trip = time_async(iterations / 20, || async {
        let _ = std::hint::black_box(uncached.is_revoked(&claims).await);
    })
    .await;
    println!("revocation_check_round_trip_us={round_trip:.2}");
    Ok(())
}
