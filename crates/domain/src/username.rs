use std::fmt;

/// A display name: 3 to 80 characters once trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidUsername {
    #[error("Username must be between {min} and {max} characters long.", min = Username::MIN_CHARS, max = Username::MAX_CHARS)]
    Length,
    #[error("Username must not contain control characters.")]
    ControlCharacter,
}

impl Username {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 80;

    pub fn parse(raw: &str) -> Result<Self, InvalidUsername> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(InvalidUsername::Length);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidUsername::ControlCharacter);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_surrounding_whitespace() {
        assert_eq!(Username::parse("  ada  ").unwrap().as_str(), "ada");
    }

    #[test]
    fn counts_characters_not_bytes() {
        // Three characters, nine bytes.
        assert!(Username::parse("日本語").is_ok());
        assert_eq!(
            Username::parse(&"é".repeat(80))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            80
        );
        assert_eq!(
            Username::parse(&"é".repeat(81)),
            Err(InvalidUsername::Length)
        );
    }

    #[test]
    fn rejects_too_short_after_trimming() {
        assert_eq!(Username::parse("  ab   "), Err(InvalidUsername::Length));
        assert_eq!(Username::parse(""), Err(InvalidUsername::Length));
        assert_eq!(Username::parse("     "), Err(InvalidUsername::Length));
    }

    #[test]
    fn rejects_control_characters_inside() {
        assert_eq!(
            Username::parse("ad\u{0}a"),
            Err(InvalidUsername::ControlCharacter)
        );
        assert_eq!(
            Username::parse("ad\na"),
            Err(InvalidUsername::ControlCharacter)
        );
        assert_eq!(
            Username::parse("ad\u{7f}a"),
            Err(InvalidUsername::ControlCharacter)
        );
    }

    #[test]
    fn bounds_are_inclusive() {
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse(&"a".repeat(80)).is_ok());
        assert_eq!(
            Username::parse(&"a".repeat(81)),
            Err(InvalidUsername::Length)
        );
    }
}
