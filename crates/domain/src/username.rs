use std::fmt;

use garde::Validate;

use crate::characters::{first_broken, no_control_characters, no_invisible_characters};

/// A display name: 3 to 80 characters once trimmed, no control characters,
/// nothing invisible or direction-changing (a name must read as what it is).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidUsername {
    #[error("Username must be between {min} and {max} characters long.", min = Username::MIN_CHARS, max = Username::MAX_CHARS)]
    Length,
    #[error("Username must not contain control characters.")]
    ControlCharacter,
    #[error("Username must not contain invisible or direction-changing characters.")]
    InvisibleCharacter,
}

/// The rules of a username, one field per rule (see `characters`).
#[derive(Validate)]
struct UsernameRules<'a> {
    #[garde(length(chars, min = Username::MIN_CHARS, max = Username::MAX_CHARS))]
    length: &'a str,
    #[garde(custom(no_control_characters))]
    control_characters: &'a str,
    #[garde(custom(no_invisible_characters))]
    invisible_characters: &'a str,
}

/// Which error a broken rule reports, the first listed winning.
const PRIORITY: [(&str, InvalidUsername); 3] = [
    ("length", InvalidUsername::Length),
    ("control_characters", InvalidUsername::ControlCharacter),
    ("invisible_characters", InvalidUsername::InvisibleCharacter),
];

impl Username {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 80;

    /// Trims, then checks every rule once; on failure, the first broken
    /// rule of: length, control characters, invisible characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidUsername> {
        let trimmed = raw.trim();
        UsernameRules {
            length: trimmed,
            control_characters: trimmed,
            invisible_characters: trimmed,
        }
        .validate()
        .map_err(|report| first_broken(&report, &PRIORITY).unwrap_or(InvalidUsername::Length))?;
        Ok(Self(trimmed.to_owned()))
    }

    /// A username read back from storage. It passed the rules in force when
    /// it was written; a rule added since (no invisible characters, no line
    /// or paragraph separator) must not lock that account out, so only the
    /// rules usernames have always had (length, no C0/C1 control) are
    /// checked here. New input always goes through [`Self::parse`].
    pub fn from_storage(stored: &str) -> Result<Self, InvalidUsername> {
        match Self::parse(stored) {
            Err(InvalidUsername::InvisibleCharacter) => Ok(Self(stored.trim().to_owned())),
            Err(InvalidUsername::ControlCharacter) if !stored.chars().any(char::is_control) => {
                Ok(Self(stored.trim().to_owned()))
            }
            parsed => parsed,
        }
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
    fn storage_keeps_names_written_before_the_invisible_character_rule() {
        let stored = "ad\u{200B}a";
        assert_eq!(
            Username::parse(stored),
            Err(InvalidUsername::InvisibleCharacter)
        );
        assert_eq!(Username::from_storage(stored).unwrap().as_str(), stored);
        // Rules usernames always had still hold.
        assert_eq!(Username::from_storage("x"), Err(InvalidUsername::Length));
        assert_eq!(
            Username::from_storage("ad\u{0}a"),
            Err(InvalidUsername::ControlCharacter)
        );
    }

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

    #[test]
    fn rejects_c1_controls() {
        assert_eq!(
            Username::parse("ad\u{85}a"),
            Err(InvalidUsername::ControlCharacter)
        );
        assert_eq!(
            Username::parse("ad\u{9b}a"),
            Err(InvalidUsername::ControlCharacter)
        );
    }

    #[test]
    fn rejects_line_and_paragraph_separators_but_storage_keeps_older_names() {
        for c in ['\u{2028}', '\u{2029}'] {
            let name = format!("ad{c}min");
            assert_eq!(
                Username::parse(&name),
                Err(InvalidUsername::ControlCharacter),
                "{c:?}"
            );
            assert_eq!(Username::from_storage(&name).unwrap().as_str(), name);
        }
        // With an invisible character too, an older name still loads.
        let both = "a\u{2028}d\u{202E}a";
        assert_eq!(Username::from_storage(both).unwrap().as_str(), both);
    }

    #[test]
    fn rejects_bidi_controls_and_zero_width_characters() {
        for c in [
            '\u{202E}', '\u{202A}', '\u{2066}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}',
        ] {
            assert_eq!(
                Username::parse(&format!("ad{c}min")),
                Err(InvalidUsername::InvisibleCharacter),
                "{c:?}"
            );
        }
        assert_eq!(
            InvalidUsername::InvisibleCharacter.to_string(),
            "Username must not contain invisible or direction-changing characters."
        );
    }

    #[test]
    fn reports_the_first_broken_rule() {
        // Too short, a control and an invisible character at once.
        assert_eq!(
            Username::parse("\u{0}\u{200B}"),
            Err(InvalidUsername::Length)
        );
        assert_eq!(
            Username::parse("ada\u{0}\u{200B}"),
            Err(InvalidUsername::ControlCharacter)
        );
    }

    #[test]
    fn keeps_right_to_left_scripts() {
        assert_eq!(Username::parse("مريم").unwrap().as_str(), "مريم");
        assert_eq!(Username::parse("דוד כהן").unwrap().as_str(), "דוד כהן");
    }

    #[test]
    fn messages_are_the_contract_s() {
        assert_eq!(
            InvalidUsername::Length.to_string(),
            "Username must be between 3 and 80 characters long."
        );
        assert_eq!(
            InvalidUsername::ControlCharacter.to_string(),
            "Username must not contain control characters."
        );
    }
}
