use std::fmt;

use garde::Validate;

use crate::characters::{first_broken, no_control_characters, no_invisible_characters};

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
    #[error("Password must not contain control characters.")]
    ControlCharacter,
    #[error("Password must not contain invisible or direction-changing characters.")]
    InvisibleCharacter,
}

/// The rules of a new password, one field per rule (see `characters`).
///
/// Control and invisible characters are refused because the user cannot
/// see them and keyboards insert or drop them inconsistently: a password
/// holding one is one its owner may never type again.
#[derive(garde::Validate)]
#[garde(context(PasswordPolicy as policy))]
struct PasswordRules<'a> {
    #[garde(length(chars, min = policy.min_chars))]
    too_short: &'a str,
    #[garde(length(chars, max = PasswordPolicy::MAX_CHARS))]
    too_long: &'a str,
    #[garde(custom(no_control_characters))]
    control_characters: &'a str,
    #[garde(custom(no_invisible_characters))]
    invisible_characters: &'a str,
}

impl Password {
    /// Checks every rule once; on failure, the first broken rule of: too
    /// short, too long, control characters, invisible characters.
    pub fn parse(raw: &str, policy: PasswordPolicy) -> Result<Self, InvalidPassword> {
        // Passwords are not trimmed: every character the user typed counts.
        let priority = [
            ("too_short", InvalidPassword::TooShort(policy.min_chars)),
            ("too_long", InvalidPassword::TooLong),
            ("control_characters", InvalidPassword::ControlCharacter),
            ("invisible_characters", InvalidPassword::InvisibleCharacter),
        ];
        PasswordRules {
            too_short: raw,
            too_long: raw,
            control_characters: raw,
            invisible_characters: raw,
        }
        .validate_with(&policy)
        .map_err(|report| first_broken(&report, &priority).unwrap_or(InvalidPassword::TooLong))?;
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
    fn rejects_control_characters() {
        let policy = PasswordPolicy::default();
        for c in ['\u{0}', '\u{7}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}'] {
            assert_eq!(
                Password::parse(&format!("long enough{c}"), policy),
                Err(InvalidPassword::ControlCharacter),
                "{c:?}"
            );
        }
    }

    #[test]
    fn rejects_invisible_characters() {
        let policy = PasswordPolicy::default();
        for c in ['\u{202E}', '\u{2067}', '\u{200B}', '\u{200D}', '\u{FEFF}'] {
            assert_eq!(
                Password::parse(&format!("long enough{c}"), policy),
                Err(InvalidPassword::InvisibleCharacter),
                "{c:?}"
            );
        }
    }

    #[test]
    fn length_is_reported_before_characters() {
        assert_eq!(
            Password::parse("a\u{0}", PasswordPolicy::default()),
            Err(InvalidPassword::TooShort(8))
        );
    }

    #[test]
    fn accepts_any_visible_unicode() {
        let password = "pässwörd 密码 🔑 пароль";
        assert_eq!(
            Password::parse(password, PasswordPolicy::default())
                .unwrap()
                .expose(),
            password
        );
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
