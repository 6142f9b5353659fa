//! The `mfa_token` of a login waiting for its second factor: proof that
//! the password was right, worth nothing without a code. Only its SHA-256
//! is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;

use crate::one_time_secret::token_digest;

/// How long a login waits for its second factor (`expires_in`).
pub const MFA_CHALLENGE_LIFETIME: TimeDelta = TimeDelta::seconds(300);

/// Wrong codes one `mfa_token` takes; the next wrong one kills it.
pub const MFA_CHALLENGE_TRIES: i32 = 5;

/// A 43-character token (32 random bytes, base64url).
#[derive(Clone, PartialEq, Eq)]
pub struct MfaChallengeToken(String);

impl std::fmt::Debug for MfaChallengeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaChallengeToken([redacted])")
    }
}

impl MfaChallengeToken {
    pub const CHARS: usize = 43;

    pub fn from_entropy(bytes: [u8; 32]) -> Self {
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A token as a client sent it back, if it has the shape of one:
    /// anything else cannot be ours and needs no lookup.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == Self::CHARS
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the store finds it by.
    pub fn digest(&self) -> [u8; 32] {
        token_digest(&self.0)
    }
}
