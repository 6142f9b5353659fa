//! Tokens this thread verified lately: a token check that hits skips the
//! HMAC, the base64 and the JSON of its decode (2.3 µs on the bench
//! machine, the largest cost of a check once revocation marks are cached).
//!
//! Kept per thread (actix runs one worker per thread), so no lock; per
//! codec, because one process may hold codecs with other keys (tests do):
//! a token verified by one must never count as verified by another. An
//! entry is the whole token as presented, so only the exact bytes a codec
//! verified find it. Expiry is checked on every hit, against the clock, as
//! the decode does; revocation is not this module's concern (the check
//! reads it after the decode, hit or not).

use std::cell::RefCell;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};

use domain::TokenClaims;
use lru::LruCache;

/// Entries per codec and thread. A token is about 350 bytes and its claims
/// about 120: ~300 KiB a thread when full, LRU past that.
const CAPACITY: NonZeroUsize = NonZeroUsize::new(512).expect("512 is not zero");

/// Longer tokens are verified every time rather than kept: memory stays
/// bounded whatever a client sends (this service's tokens are ~350 bytes).
const MAX_TOKEN_BYTES: usize = 1_024;

static NEXT_CODEC: AtomicU64 = AtomicU64::new(1);

/// A verified token and its claims, filed under its signature: hashing the
/// 43 characters of an HS256 tag instead of the whole ~350-byte token. The
/// whole token is compared on every hit.
struct Verified {
    token: Box<str>,
    claims: TokenClaims,
    /// The codec's key generation when it was verified.
    generation: u64,
}

type Memo = LruCache<Box<str>, Verified>;

thread_local! {
    static VERIFIED: RefCell<HashMap<u64, Memo>> = RefCell::new(HashMap::new());
}

/// The signature segment of a compact JWS, or the whole text.
fn signature(token: &str) -> &str {
    token
        .rsplit_once('.')
        .map_or(token, |(_, signature)| signature)
}

/// The memo of one codec.
#[derive(Debug)]
pub(super) struct VerifiedTokens {
    codec: u64,
}

impl VerifiedTokens {
    pub(super) fn new() -> Self {
        Self {
            codec: NEXT_CODEC.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The claims of `token` if this thread verified it for this codec
    /// with the keys of `generation`, still unexpired at `now` (unix
    /// seconds). An expired one, or one of older keys, is dropped.
    pub(super) fn recall(&self, token: &str, now: i64, generation: u64) -> Option<TokenClaims> {
        VERIFIED.with_borrow_mut(|codecs| {
            let memo = codecs.get_mut(&self.codec)?;
            let key = signature(token);
            let verified = memo.get(key)?;
            if *verified.token != *token {
                return None;
            }
            if verified.claims.expires_at.timestamp() < now || verified.generation != generation {
                memo.pop(key);
                return None;
            }
            Some(verified.claims.clone())
        })
    }

    /// Keeps `claims`, which this codec has just verified for `token` with
    /// the keys of `generation`.
    pub(super) fn remember(&self, token: &str, claims: &TokenClaims, generation: u64) {
        if token.len() > MAX_TOKEN_BYTES {
            return;
        }
        VERIFIED.with_borrow_mut(|codecs| {
            codecs
                .entry(self.codec)
                .or_insert_with(|| LruCache::new(CAPACITY))
                .put(
                    Box::from(signature(token)),
                    Verified {
                        token: Box::from(token),
                        claims: claims.clone(),
                        generation,
                    },
                );
        });
    }
}

impl Drop for VerifiedTokens {
    /// Frees this thread's entries (other threads' go when they end).
    fn drop(&mut self) {
        // `try_with`: at thread exit the map may already be gone.
        let _ = VERIFIED.try_with(|codecs| {
            if let Ok(mut codecs) = codecs.try_borrow_mut() {
                codecs.remove(&self.codec);
            }
        });
    }
}
