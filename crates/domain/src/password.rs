use std::fmt;

/// How long a new password must be. The minimum is configurable
/// (`PASSWORD_MIN_LENGTH`); the maximum bounds the work a hash costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_chars: usize,
}

impl PasswordPolicy {
    pub const MAX_CHARS: usize = 128;
    pub const DEFAULT_MIN_CHARS: usize = 8;

    /// `None` when the minimum is zero or above the maximum: such a policy
    /// would accept empty passwords or none at all.
    pub fn new(min_chars: usize) -> Option<Self> {
        (1..=Self::MAX_CHARS)
            .contains(&min_chars)
            .then_some(Self { min_chars })
    }

    pub fn min_chars(&self) -> usize {
        self.min_chars
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: Self::DEFAULT_MIN_CHARS,
        }
    }
}

/// A new password that satisfies the policy. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPassword {
    #[error("Password must be at least {0} characters long.")]
    TooShort(usize),
    #[error("Password must be at most {max} characters long.", max = PasswordPolicy::MAX_CHARS)]
    TooLong,
}

impl Password {
    pub fn parse(raw: &str, policy: PasswordPolicy) -> Result<Self, InvalidPassword> {
        // Passwords are not trimmed: every character the user typed counts.
        let chars = raw.chars().count();
        if chars < policy.min_chars {
            return Err(InvalidPassword::TooShort(policy.min_chars));
        }
        if chars > PasswordPolicy::MAX_CHARS {
            return Err(InvalidPassword::TooLong);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(********)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_the_configured_minimum() {
        let policy = PasswordPolicy::new(10).unwrap();
        assert_eq!(
            Password::parse("123456789", policy),
            Err(InvalidPassword::TooShort(10))
        );
        assert!(Password::parse("1234567890", policy).is_ok());
    }

    #[test]
    fn default_minimum_is_eight() {
        let policy = PasswordPolicy::default();
        assert_eq!(
            Password::parse("1234567", policy),
            Err(InvalidPassword::TooShort(8))
        );
        assert!(Password::parse("12345678", policy).is_ok());
    }

    #[test]
    fn enforces_the_maximum_in_characters() {
        let policy = PasswordPolicy::default();
        assert!(Password::parse(&"ü".repeat(128), policy).is_ok());
        assert_eq!(
            Password::parse(&"ü".repeat(129), policy),
            Err(InvalidPassword::TooLong)
        );
    }

    #[test]
    fn keeps_whitespace() {
        let password = Password::parse("  secret  ", PasswordPolicy::default()).unwrap();
        assert_eq!(password.expose(), "  secret  ");
    }

    #[test]
    fn debug_hides_the_secret() {
        let password = Password::parse("hunter2hunter2", PasswordPolicy::default()).unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }

    #[test]
    fn policy_rejects_impossible_minimums() {
        assert!(PasswordPolicy::new(0).is_none());
        assert!(PasswordPolicy::new(129).is_none());
        assert_eq!(PasswordPolicy::new(128).unwrap().min_chars(), 128);
    }
}

/// A stored password hash in PHC string format. Opaque to the domain; its
/// `Debug` is redacted so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}
