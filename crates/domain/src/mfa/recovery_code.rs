//! Recovery codes: the second factor of someone who lost the app. Ten at
//! a time, each 16 characters of `[a-z0-9]` (82 bits, so guessing one
//! needs no budget beyond the failed-login throttle), shown as
//! `xxxx-xxxx-xxxx-xxxx`, taken back ignoring case, spaces and hyphens.
//! Only a digest salted with the user is stored; each works once.

use std::fmt;

use crate::UserId;
use crate::one_time_secret::code_digest;

/// Codes handed out at once; a new set replaces the old one whole.
pub const RECOVERY_CODE_COUNT: usize = 10;

const CHARS: usize = 16;
const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([redacted])")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a recovery code is 16 letters and digits")]
pub struct InvalidRecoveryCode;

impl RecoveryCode {
    /// A code from 128 random bits: their value in base 36, 16 digits
    /// (36^16 < 2^83, so the bias of the reduction is below 10^-13).
    pub fn from_entropy(seed: u128) -> Self {
        let mut value = seed;
        let mut code = String::with_capacity(CHARS);
        for _ in 0..CHARS {
            code.push(char::from(ALPHABET[(value % 36) as usize]));
            value /= 36;
        }
        Self(code)
    }

    /// A code as a person typed it: case, spaces and hyphens do not matter.
    pub fn parse(text: &str) -> Result<Self, InvalidRecoveryCode> {
        let code: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if code.len() == CHARS && code.bytes().all(|b| ALPHABET.contains(&b)) {
            Ok(Self(code))
        } else {
            Err(InvalidRecoveryCode)
        }
    }

    /// `xxxx-xxxx-xxxx-xxxx`, as the user is shown it.
    pub fn display(&self) -> String {
        let groups: Vec<&str> = (0..CHARS / 4).map(|i| &self.0[i * 4..i * 4 + 4]).collect();
        groups.join("-")
    }

    /// What the store keeps, salted with the owner so equal codes differ.
    pub fn digest(&self, user: UserId) -> [u8; 32] {
        code_digest(user, &self.0)
    }
}
