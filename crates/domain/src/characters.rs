//! Characters no text field may hold, and the garde plumbing the parsers
//! share.
//!
//! Each parser states its rules with garde on a private struct that has one
//! field per rule, every field holding the text the rule looks at. garde
//! reports errors by field, so the field's name says which rule broke and
//! maps straight to the parser's error variant: no message matching, and
//! the rules run once.

/// C0 controls (U+0000..U+001F), DEL, C1 controls (U+0080..U+009F), and
/// the Unicode line and paragraph separators (U+2028, U+2029): those break
/// a line wherever the text is shown (an email, a log, a JSON consumer's
/// page) just like a newline.
pub(crate) fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Marks and embeddings that reorder how text is displayed (Trojan Source,
/// CVE-2021-42574): a name or address could show as something it is not.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' // ARABIC LETTER MARK
            | '\u{200E}' | '\u{200F}' // LEFT-TO-RIGHT / RIGHT-TO-LEFT MARK
            | '\u{202A}'..='\u{202E}' // embeddings and overrides
            | '\u{2066}'..='\u{2069}' // isolates
    )
}

/// Characters that take no space: two names that look identical could
/// differ by one of them.
pub(crate) fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'
            ..='\u{200D}' // ZERO WIDTH SPACE, NON-JOINER, JOINER
            | '\u{2060}' // WORD JOINER
            | '\u{FEFF}' // ZERO WIDTH NO-BREAK SPACE (byte order mark)
    )
}

/// Invisible or direction-changing: what a reader cannot see.
pub(crate) fn is_invisible(c: char) -> bool {
    is_bidi_control(c) || is_zero_width(c)
}

/// Every character [`is_control`] or [`is_invisible`] refuses, as
/// inclusive ranges: what a schema (an OpenAPI `pattern`) states of a
/// field, derived from the same rule rather than written twice.
const REFUSED_RANGES: [(char, char); 9] = [
    ('\u{0000}', '\u{001F}'),
    ('\u{007F}', '\u{009F}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2060}'),
    ('\u{2066}', '\u{2069}'),
    ('\u{FEFF}', '\u{FEFF}'),
];

/// The refused characters as the inside of a regex character class
/// (`\u0000-\u001f...`), for `[^...]` in a JSON Schema `pattern`.
pub fn refused_character_class() -> String {
    REFUSED_RANGES
        .iter()
        .map(|&(first, last)| {
            if first == last {
                format!("\\u{:04x}", u32::from(first))
            } else {
                format!("\\u{:04x}-\\u{:04x}", u32::from(first), u32::from(last))
            }
        })
        .collect()
}

/// garde rule: no C0 or C1 control character.
pub(crate) fn no_control_characters<C: ?Sized>(value: &str, _: &C) -> garde::Result {
    refuse_any(value, is_control, "contains a control character")
}

/// garde rule: no bidi control and no zero-width character.
pub(crate) fn no_invisible_characters<C: ?Sized>(value: &str, _: &C) -> garde::Result {
    refuse_any(
        value,
        is_invisible,
        "contains an invisible or direction-changing character",
    )
}

fn refuse_any(value: &str, refused: fn(char) -> bool, message: &'static str) -> garde::Result {
    if value.chars().any(refused) {
        Err(garde::Error::new(message))
    } else {
        Ok(())
    }
}

/// The first rule of `priority` that `report` names, as the parser's error.
///
/// garde runs every rule and reports in field-name order; the parser's
/// order decides which failure it reports. `None` only if the report names
/// no rule of the list (a rule struct and its list out of step).
pub(crate) fn first_broken<E: Clone>(report: &garde::Report, priority: &[(&str, E)]) -> Option<E> {
    priority
        .iter()
        .find(|(rule, _)| {
            report
                .iter()
                .any(|(path, _)| path.to_string().as_str() == *rule)
        })
        .map(|(_, error)| error.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_c0_del_c1_and_the_line_and_paragraph_separators() {
        for c in [
            '\u{0}', '\u{1f}', '\u{7f}', '\u{80}', '\u{85}', '\u{9f}', '\u{2028}', '\u{2029}',
        ] {
            assert!(is_control(c), "{c:?}");
        }
        for c in [' ', 'a', '\u{a0}', 'é', '\u{2027}', '\u{202F}'] {
            assert!(!is_control(c), "{c:?}");
        }
    }

    #[test]
    fn invisible_covers_bidi_controls_and_zero_width_characters() {
        for c in [
            '\u{061C}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}',
            '\u{202E}', '\u{2060}', '\u{2066}', '\u{2069}', '\u{FEFF}',
        ] {
            assert!(is_invisible(c), "{c:?}");
        }
        for c in ['a', ' ', '\u{2065}', '\u{2061}', '\u{202F}', 'ا'] {
            assert!(!is_invisible(c), "{c:?}");
        }
    }

    #[derive(garde::Validate)]
    struct Rules<'a> {
        #[garde(custom(no_control_characters))]
        control: &'a str,
        #[garde(custom(no_invisible_characters))]
        invisible: &'a str,
    }

    #[test]
    fn the_first_broken_rule_follows_the_priority_not_garde_order() {
        use garde::Validate;
        let text = "a\u{0}\u{200B}";
        let report = Rules {
            control: text,
            invisible: text,
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            first_broken(&report, &[("invisible", 1), ("control", 2)]),
            Some(1)
        );
        assert_eq!(
            first_broken(&report, &[("control", 2), ("invisible", 1)]),
            Some(2)
        );
        assert_eq!(first_broken(&report, &[("other", 3)]), None);
    }
}

#[cfg(test)]
mod refused_class_tests {
    use super::*;

    #[test]
    fn the_ranges_are_exactly_what_the_rules_refuse() {
        for code in 0..=0xFFFF_u32 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let in_ranges = REFUSED_RANGES
                .iter()
                .any(|&(first, last)| (first..=last).contains(&c));
            assert_eq!(in_ranges, is_control(c) || is_invisible(c), "U+{code:04X}");
        }
    }

    #[test]
    fn the_class_is_written_as_a_regex_escape() {
        let class = refused_character_class();
        assert!(
            class.starts_with(r"\u0000-\u001f\u007f-\u009f\u061c"),
            "{class}"
        );
        assert!(class.ends_with(r"\ufeff"), "{class}");
    }
}
