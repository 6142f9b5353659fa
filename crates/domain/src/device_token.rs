//! Device tokens: what a browser or app that logged in before sends back
//! with its next login, so that failed logins from elsewhere (an attacker
//! keeping the account throttled) never lock its owner out. Handed out by
//! every successful login; only their SHA-256 is stored.

use std::fmt;

use crate::one_time_secret::{OneTimeSecret, token_digest};

/// The most device tokens one account keeps: a new one pushes out the
/// least recently issued.
pub const MAX_DEVICE_TOKENS_PER_USER: i64 = 20;

/// A device token: 32 random bytes in base64url without padding (43
/// characters). Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceToken(String);

impl fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceToken(<redacted>)")
    }
}

impl DeviceToken {
    /// A new token from the randomness of a fresh one-time secret.
    pub fn from_secret(secret: &OneTimeSecret) -> Self {
        Self(secret.token().to_owned())
    }

    /// What a client sent, if it could be a token this service issued:
    /// anything else is treated as no token at all.
    pub fn parse(raw: &str) -> Option<Self> {
        let well_formed = raw.len() == OneTimeSecret::TOKEN_CHARS
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the store keeps and looks the token up by.
    pub fn digest(&self) -> [u8; 32] {
        token_digest(&self.0)
    }

    /// A short, stable name of the token for counters (the first 16 bytes
    /// of its digest in hex): never the token itself.
    pub fn counter_name(&self) -> String {
        Self::counter_name_of(&self.digest())
    }

    /// [`Self::counter_name`] from the digest alone, for a login whose
    /// token is no longer at hand (the second step knows only the digest).
    pub fn counter_name_of(digest: &[u8; 32]) -> String {
        digest[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_43_base64url_characters_parse() {
        let issued = DeviceToken::from_secret(&OneTimeSecret::from_entropy([7; 32], 1));
        assert_eq!(DeviceToken::parse(issued.as_str()), Some(issued.clone()));
        assert_eq!(DeviceToken::parse(""), None);
        assert_eq!(DeviceToken::parse(&"a".repeat(42)), None);
        assert_eq!(DeviceToken::parse(&format!("{}=", "a".repeat(42))), None);
        assert!(!format!("{issued:?}").contains(issued.as_str()));
    }

    #[test]
    fn the_counter_name_is_a_digest_prefix() {
        let token = DeviceToken::from_secret(&OneTimeSecret::from_entropy([7; 32], 1));
        let name = token.counter_name();
        assert_eq!(name.len(), 32);
        assert!(!name.contains(token.as_str()));
        assert_eq!(name, token.counter_name());
    }
}
