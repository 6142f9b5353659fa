use std::fmt;

/// An email address, trimmed, at most 254 characters, syntactically valid.
///
/// Accounts are matched case-insensitively: [`EmailAddress::normalized`] is
/// the key that identifies an account, while [`EmailAddress::as_str`] keeps
/// the spelling the user typed, for display and delivery.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEmail {
    #[error("Not a valid email address.")]
    Syntax,
    #[error("Email must be at most {max} characters long.", max = EmailAddress::MAX_CHARS)]
    TooLong,
}

impl EmailAddress {
    pub const MAX_CHARS: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(InvalidEmail::TooLong);
        }
        // Display names ("Ada <ada@x.io>") and IP-literal domains are valid
        // RFC 5322 but not something a sign-up form should accept.
        let options = email_address::Options::default()
            .without_display_text()
            .without_domain_literal();
        email_address::EmailAddress::parse_with_options(trimmed, options)
            .map_err(|_| InvalidEmail::Syntax)?;
        // The crate accepts a dot-less domain ("a@localhost"); a sign-up
        // address must be deliverable on the public internet.
        let domain = trimmed.rsplit_once('@').map_or("", |(_, domain)| domain);
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(InvalidEmail::Syntax);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive identity of the account behind this address.
    pub fn normalized(&self) -> String {
        Self::normalize(&self.0)
    }

    /// Normalises any input the way stored addresses are normalised, so a
    /// lookup by untrusted input (a login form) needs no validation first.
    pub fn normalize(raw: &str) -> String {
        raw.trim().to_lowercase()
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_trims_a_plain_address() {
        let email = EmailAddress::parse("  Ada.Lovelace+x@Example.io ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace+x@Example.io");
        assert_eq!(email.normalized(), "ada.lovelace+x@example.io");
    }

    #[test]
    fn different_case_is_the_same_account() {
        let a = EmailAddress::parse("A@X.io").unwrap();
        let b = EmailAddress::parse("a@x.io").unwrap();
        assert_eq!(a.normalized(), b.normalized());
        assert_eq!(EmailAddress::normalize(" A@X.IO "), a.normalized());
    }

    #[test]
    fn rejects_malformed_addresses() {
        for raw in [
            "",
            "plainaddress",
            "@x.io",
            "a@",
            "a@@x.io",
            "a b@x.io",
            "Ada <ada@x.io>",
            "a@[127.0.0.1]",
            "a@localhost",
            "a@x.io.",
        ] {
            assert_eq!(
                EmailAddress::parse(raw),
                Err(InvalidEmail::Syntax),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn rejects_addresses_over_254_characters() {
        let local = "a".repeat(64);
        let label = "b".repeat(60);
        let long = format!("{local}@{label}.{label}.{label}.{label}.io");
        assert!(long.len() > 254);
        assert_eq!(EmailAddress::parse(&long), Err(InvalidEmail::TooLong));
    }
}
