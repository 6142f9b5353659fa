//! One-time secrets sent by email (verification, password reset, email
//! change): a 32-byte token for a link and a 6-digit code for people who
//! type. Only their SHA-256 is ever stored, so a copy of the database
//! holds nothing that opens an account.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use crate::UserId;

/// What a secret is for; each has its own lifetime and its own live pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretPurpose {
    VerifyEmail,
    ResetPassword,
    ChangeEmail,
}

impl SecretPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretPurpose::VerifyEmail => "verify_email",
            SecretPurpose::ResetPassword => "reset_password",
            SecretPurpose::ChangeEmail => "change_email",
        }
    }
}

/// A wrong code is forgiven this many times; then the code is dead.
pub const MAX_CODE_ATTEMPTS: i32 = 5;

/// Wrong codes one account may enter for one purpose, over all the codes it
/// is sent: the 5 tries of each code alone would let a guesser ask for a
/// new code every minute, forever. Past this, every code of that account
/// and purpose is refused (the link token still works) until
/// [`CODE_FAILURE_WINDOW`] has passed since the first of these failures.
pub const MAX_CODE_FAILURES: i32 = 10;

/// The fixed window of [`MAX_CODE_FAILURES`]: it opens at the first wrong
/// code and is not moved by later ones, nor by a new code.
pub const CODE_FAILURE_WINDOW: TimeDelta = TimeDelta::hours(24);

/// What a guessed code opens, for the per-account budget of wrong codes:
/// a one-time secret of one purpose, or the second factor of a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodePurpose {
    Secret(SecretPurpose),
    /// The codes of an authenticator app at the second step of a login.
    SecondFactor,
}

impl CodePurpose {
    /// The stored name: for a one-time secret, its purpose's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::Secret(purpose) => purpose.as_str(),
            CodePurpose::SecondFactor => "mfa",
        }
    }
}

impl From<SecretPurpose> for CodePurpose {
    fn from(purpose: SecretPurpose) -> Self {
        CodePurpose::Secret(purpose)
    }
}

/// The wrong codes counted for one account and purpose: `failures` since
/// `window_started_at` (the first of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeFailures {
    pub failures: i32,
    pub window_started_at: DateTime<Utc>,
}

impl CodeFailures {
    /// Whether the window is still open at `now`; once it is over, the
    /// count starts again at the next failure.
    pub fn window_open(&self, now: DateTime<Utc>) -> bool {
        self.window_started_at
            .checked_add_signed(CODE_FAILURE_WINDOW)
            .is_none_or(|end| now < end)
    }

    /// Whether every code of this account and purpose is refused at `now`.
    pub fn exhausted(&self, now: DateTime<Utc>) -> bool {
        self.failures >= MAX_CODE_FAILURES && self.window_open(now)
    }
}

/// A freshly made secret, as it goes into an email. Its `Debug` hides both
/// parts.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeSecret {
    token: String,
    code: String,
}

impl fmt::Debug for OneTimeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeSecret(<redacted>)")
    }
}

/// The SHA-256 digests the store keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretDigests {
    pub token: [u8; 32],
    pub code: [u8; 32],
}

impl OneTimeSecret {
    /// The token length: 32 bytes in base64url without padding.
    pub const TOKEN_CHARS: usize = 43;

    /// From 32 random bytes (the token) and a random number (the code).
    /// The code is `seed mod 10^6`: with a 64-bit seed the bias is below
    /// 10^-13.
    pub fn from_entropy(token_bytes: [u8; 32], code_seed: u64) -> Self {
        Self {
            token: URL_SAFE_NO_PAD.encode(token_bytes),
            code: format!("{:06}", code_seed % 1_000_000),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    /// What the store keeps for this secret of `user`.
    pub fn digests(&self, user: UserId) -> SecretDigests {
        SecretDigests {
            token: token_digest(&self.token),
            code: code_digest(user, &self.code),
        }
    }
}

/// The digest a link's token is looked up by.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The digest of a code, salted with its user so equal codes differ.
pub fn code_digest(user: UserId, code: &str) -> [u8; 32] {
    Sha256::digest(format!("{user}:{code}").as_bytes()).into()
}

/// How a request proves it holds a secret: the link's token, or the
/// account's email with the code.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretProof {
    Token(String),
    Code { email: String, code: String },
}

impl fmt::Debug for SecretProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretProof::Token(_) => f.write_str("SecretProof::Token(<redacted>)"),
            SecretProof::Code { .. } => f.write_str("SecretProof::Code(<redacted>)"),
        }
    }
}

impl SecretProof {
    /// Whether the proof could be one this service issued: a token of 43
    /// base64url characters, a code of 6 digits. Anything else is simply a
    /// failed proof (the same answer as a wrong one), never sent to the
    /// store.
    pub fn is_well_formed(&self) -> bool {
        match self {
            SecretProof::Token(token) => {
                token.len() == OneTimeSecret::TOKEN_CHARS
                    && token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }
            SecretProof::Code { code, .. } => {
                code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_base64url_characters_and_codes_six_digits() {
        let secret = OneTimeSecret::from_entropy([0xfb; 32], 42);
        assert_eq!(secret.token().len(), OneTimeSecret::TOKEN_CHARS);
        assert!(!secret.token().contains(['+', '/', '=']));
        assert_eq!(secret.code(), "000042");
        assert_eq!(
            OneTimeSecret::from_entropy([0; 32], 123_999_999).code(),
            "999999"
        );
        assert!(SecretProof::Token(secret.token().to_owned()).is_well_formed());
    }

    #[test]
    fn digests_are_sha256_and_codes_are_salted_by_user() {
        let secret = OneTimeSecret::from_entropy([7; 32], 123_456);
        let a = secret.digests(UserId::new(1));
        let b = secret.digests(UserId::new(2));
        assert_eq!(a.token, b.token);
        assert_ne!(a.code, b.code);
        assert_eq!(a.token, token_digest(secret.token()));
        assert_eq!(a.code, code_digest(UserId::new(1), "123456"));
        // SHA-256("abc"), the FIPS 180-2 example.
        assert_eq!(token_digest("abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
    }

    #[test]
    fn malformed_proofs_are_recognised_without_a_store() {
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}=", "a".repeat(42)),
        ] {
            assert!(
                !SecretProof::Token(bad.to_owned()).is_well_formed(),
                "{bad}"
            );
        }
        for bad in ["12345", "1234567", "12a456", " 123456"] {
            let proof = SecretProof::Code {
                email: "a@b.io".into(),
                code: bad.into(),
            };
            assert!(!proof.is_well_formed(), "{bad}");
        }
    }

    #[test]
    fn the_code_budget_is_a_fixed_window_from_the_first_failure() {
        let start = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(20_000);
        let nine = CodeFailures {
            failures: MAX_CODE_FAILURES - 1,
            window_started_at: start,
        };
        assert!(!nine.exhausted(start));
        let ten = CodeFailures {
            failures: MAX_CODE_FAILURES,
            ..nine
        };
        assert!(ten.exhausted(start));
        let last_second = start + CODE_FAILURE_WINDOW - TimeDelta::seconds(1);
        assert!(ten.exhausted(last_second));
        assert!(!ten.exhausted(start + CODE_FAILURE_WINDOW));
        assert!(!ten.window_open(start + CODE_FAILURE_WINDOW));
        assert_eq!(CODE_FAILURE_WINDOW, TimeDelta::hours(24));
    }

    #[test]
    fn a_secret_counts_its_codes_under_its_own_purpose() {
        for purpose in [
            SecretPurpose::VerifyEmail,
            SecretPurpose::ResetPassword,
            SecretPurpose::ChangeEmail,
        ] {
            assert_eq!(CodePurpose::from(purpose).as_str(), purpose.as_str());
        }
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let secret = OneTimeSecret::from_entropy([9; 32], 654_321);
        assert!(!format!("{secret:?}").contains("654321"));
        let proof = SecretProof::Code {
            email: "a@b.io".into(),
            code: "654321".into(),
        };
        assert!(!format!("{proof:?}").contains("654321"));
    }
}
