//! TOTP by RFC 6238 as authenticator apps implement it: HMAC-SHA-1 over
//! 30-second steps, 6 digits, the step before and after now accepted for
//! clocks that drift. The arithmetic is `totp-rs`'s; which step a code
//! may be accepted for (once, and never an earlier one) is ours.

use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq as _;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Seconds a code lives.
const STEP_SECONDS: i64 = 30;
const DIGITS: u8 = 6;
/// Steps either side of now whose codes are still taken.
const SKEW: i64 = 1;

/// A 30-second window since the Unix epoch; its code is the one shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeStep(i64);

impl TimeStep {
    pub const fn new(step: i64) -> Self {
        Self(step)
    }

    /// The step `at` falls in.
    pub fn at(at: DateTime<Utc>) -> Self {
        Self(at.timestamp().div_euclid(STEP_SECONDS))
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    /// Whether a code for this step may be taken now that `last` (if any)
    /// was: a step is used once, and none before it ever again, which is
    /// what the store's one atomic update enforces under concurrency.
    pub fn follows(self, last: Option<TimeStep>) -> bool {
        last.is_none_or(|last| self > last)
    }
}

/// Six digits as typed; spaces (as apps group them, `123 456`) are
/// dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl std::fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpCode([redacted])")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a code is 6 digits")]
pub struct InvalidTotpCode;

impl TotpCode {
    pub fn parse(text: &str) -> Result<Self, InvalidTotpCode> {
        let digits: String = text.chars().filter(|c| *c != ' ').collect();
        if digits.len() == usize::from(DIGITS) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(InvalidTotpCode)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The shared secret of an authenticator: 20 random bytes (160 bits, the
/// size RFC 4226 recommends for HMAC-SHA-1).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; TotpSecret::BYTES]);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

impl TotpSecret {
    pub const BYTES: usize = 20;

    pub fn from_bytes(bytes: [u8; Self::BYTES]) -> Self {
        Self(bytes)
    }

    /// The secret from its stored form; `None` unless it is 20 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; Self::BYTES]>::try_from(bytes).ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; Self::BYTES] {
        &self.0
    }

    /// RFC 4648 base32 without padding: what a person types into an app.
    pub fn base32(&self) -> String {
        Secret::from(self.0).to_base32()
    }

    /// The code an app shows during `step`.
    pub fn code_at(&self, step: TimeStep) -> String {
        self.totp().generate(step_start(step)).to_string()
    }

    /// The step whose code `code` is, among now and one step either side;
    /// the latest when two match. Every candidate is compared in full.
    pub fn matching_step(&self, code: &TotpCode, now: DateTime<Utc>) -> Option<TimeStep> {
        let current = TimeStep::at(now);
        let mut found = None;
        for offset in -SKEW..=SKEW {
            let step = TimeStep(current.0 + offset);
            if bool::from(
                self.code_at(step)
                    .as_bytes()
                    .ct_eq(code.as_str().as_bytes()),
            ) {
                found = Some(step);
            }
        }
        found
    }

    fn totp(&self) -> Totp {
        // Valid parameters by construction: 6 digits, 30 s, a 160-bit
        // secret; the skew is applied by `matching_step`, which must know
        // the step that matched.
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_skew(0)
            .with_step_duration(STEP_SECONDS.unsigned_abs())
            .with_secret(self.0)
            .build_noncompliant()
    }
}

/// The first second of `step`, as `totp-rs` takes time (never negative
/// for a step of a real clock).
fn step_start(step: TimeStep) -> u64 {
    u64::try_from(step.0.saturating_mul(STEP_SECONDS)).unwrap_or(0)
}
