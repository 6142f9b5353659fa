use std::fmt;

use garde::Validate;
use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::characters::{first_broken, no_control_characters, no_invisible_characters};

/// An email address as real providers accept it: a dot-atom local part
/// (RFC 5322 atext plus letters, digits and marks of any script, RFC 6531)
/// in Unicode NFC, `@`, and a public domain name that passes IDNA (UTS 46)
/// with at least one dot. No quoted local parts, display names, comments or
/// IP literals; no control, bidi or zero-width character anywhere; at most
/// 254 characters once trimmed.
///
/// Two spellings, both fixed at parse time:
/// - [`EmailAddress::as_str`], for display and delivery: what the user
///   typed after trimming, the local part in NFC. An all-ASCII domain keeps
///   its spelling (DNS ignores case, and stored v1 addresses read as they
///   always did); any other domain (Unicode, full-width, or punycode
///   `xn--` labels) becomes its UTS 46 Unicode form, e.g. `münchen.de`:
///   readable, and the form Mailgun's Messages API takes for an
///   internationalised domain (it converts it to punycode itself, and
///   documents sending to a punycode domain as unsupported).
/// - [`EmailAddress::normalized`], the one key that identifies an account:
///   the local part in NFC and lower case, the domain as UTS 46 Unicode in
///   lower case. For an ASCII address that is exactly the v1 key (trimmed,
///   lower-cased), so existing rows still match. `\u{212A}ate@x.io` (Kelvin
///   sign) and `kate@x.io` are one account; so are `a@münchen.de` and
///   `a@xn--mnchen-3ya.de`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress {
    address: String,
    normalized: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEmail {
    #[error("Not a valid email address.")]
    Syntax,
    #[error("Email must be at most {max} characters long.", max = EmailAddress::MAX_CHARS)]
    TooLong,
}

/// The rules of an address, one field per rule (see `characters`). The
/// domain went through IDNA first; its rule checks the outcome.
#[derive(Validate)]
struct EmailRules<'a> {
    #[garde(length(chars, max = EmailAddress::MAX_CHARS))]
    length: &'a str,
    #[garde(custom(no_control_characters), custom(no_invisible_characters))]
    visible_characters: &'a str,
    #[garde(custom(dot_atom), length(bytes, max = EmailAddress::MAX_LOCAL_PART_OCTETS))]
    local_part: &'a str,
    #[garde(custom(public_domain))]
    domain: &'a Option<Domain>,
    /// RFC 5321 caps a path at 254 octets: the local part and the domain's
    /// ASCII form (which is longer than its Unicode form).
    #[garde(range(max = EmailAddress::MAX_CHARS))]
    smtp_octets: usize,
}

/// Which error a broken rule reports, the first listed winning.
const PRIORITY: [(&str, InvalidEmail); 5] = [
    ("length", InvalidEmail::TooLong),
    ("visible_characters", InvalidEmail::Syntax),
    ("local_part", InvalidEmail::Syntax),
    ("domain", InvalidEmail::Syntax),
    ("smtp_octets", InvalidEmail::Syntax),
];

impl EmailAddress {
    pub const MAX_CHARS: usize = 254;
    pub const MAX_LOCAL_PART_OCTETS: usize = 64;

    /// Trims, then checks every rule once; on failure, `TooLong` when the
    /// address is over 254 characters, else `Syntax`.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let trimmed = raw.trim();
        // The last `@` splits: an `@` in the local part is only legal
        // quoted, and quoted local parts are refused anyway.
        let (typed_local, typed_domain) = trimmed.rsplit_once('@').unwrap_or((trimmed, ""));
        let local: String = typed_local.nfc().collect();
        let domain = Domain::process(typed_domain);
        let smtp_octets = local.len() + 1 + domain.as_ref().map_or(0, |d| d.ascii.len());
        let rules = EmailRules {
            length: trimmed,
            visible_characters: trimmed,
            local_part: &local,
            domain: &domain,
            smtp_octets,
        };
        rules
            .validate()
            .map_err(|report| first_broken(&report, &PRIORITY).unwrap_or(InvalidEmail::Syntax))?;
        // Always `Some` once the rules passed; no panic if they ever drift.
        let domain = domain.ok_or(InvalidEmail::Syntax)?;
        let delivery_domain = if typed_domain.is_ascii() && !has_punycode_label(typed_domain) {
            typed_domain
        } else {
            &domain.unicode
        };
        let normalized_local: String = local.to_lowercase().nfc().collect();
        Ok(Self {
            address: format!("{local}@{delivery_domain}"),
            normalized: format!("{normalized_local}@{}", domain.unicode.to_lowercase()),
        })
    }

    /// The address for display and delivery (see the type's docs).
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The identity of the account behind this address (see the type's
    /// docs).
    pub fn normalized(&self) -> String {
        self.normalized.clone()
    }

    /// An address read back from storage. It passed the rules in force when
    /// it was written (v1 accepted quoted local parts, say); rules only got
    /// stricter, and an account stored under older ones must keep working,
    /// so only what every address always had is checked: one `@` splitting
    /// two non-empty parts, at most 254 characters, no control character.
    /// New input always goes through [`Self::parse`].
    pub fn from_storage(stored: &str) -> Result<Self, InvalidEmail> {
        if let Ok(email) = Self::parse(stored) {
            return Ok(email);
        }
        let stored = stored.trim();
        if stored.chars().count() > Self::MAX_CHARS {
            return Err(InvalidEmail::TooLong);
        }
        let well_formed = stored
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
        if !well_formed || stored.chars().any(char::is_control) {
            return Err(InvalidEmail::Syntax);
        }
        Ok(Self {
            address: stored.to_owned(),
            normalized: Self::normalize(stored),
        })
    }

    /// Normalises untrusted input (a login form) the way stored addresses
    /// are normalised, so a lookup needs no validation first: a valid
    /// address gets [`EmailAddress::normalized`]; anything else is only
    /// trimmed and lower-cased (it matches no account then, as no account
    /// holds an invalid address). Idempotent.
    pub fn normalize(raw: &str) -> String {
        Self::parse(raw).map_or_else(|_| raw.trim().to_lowercase(), |email| email.normalized)
    }
}

/// A domain that passed UTS 46 processing: host-name characters only
/// (STD3), no hyphen at either end of a label, labels of 1 to 63 octets,
/// at most 253 octets in all.
#[derive(Debug)]
struct Domain {
    /// The form DNS uses: lower case, punycode for Unicode labels.
    ascii: String,
    /// The same name with Unicode labels, lower case.
    unicode: String,
}

impl Domain {
    fn process(typed: &str) -> Option<Self> {
        let uts46 = Uts46::new();
        let ascii = uts46
            .to_ascii(
                typed.as_bytes(),
                AsciiDenyList::STD3,
                Hyphens::CheckFirstLast,
                DnsLength::Verify,
            )
            .ok()?
            .into_owned();
        let (unicode, errors) = uts46.to_unicode(
            ascii.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
        );
        errors.ok()?;
        Some(Self {
            unicode: unicode.into_owned(),
            ascii,
        })
    }
}

fn has_punycode_label(domain: &str) -> bool {
    domain.split('.').any(|label| {
        label
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
    })
}

/// garde rule: a dot-atom, atoms of atext joined by single dots.
fn dot_atom(local: &str, _: &()) -> garde::Result {
    let well_formed = local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(is_atext));
    if well_formed {
        Ok(())
    } else {
        Err(garde::Error::new("not a dot-atom"))
    }
}

/// RFC 5322 atext, plus letters, digits and combining marks of any script
/// (RFC 6531 allows any non-ASCII UTF-8; symbols, spaces, controls and
/// format characters are refused, as providers do).
fn is_atext(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
    } else {
        c.is_alphanumeric() || is_combining_mark(c)
    }
}

/// garde rule: the domain passed IDNA, has at least two labels, and its
/// top-level label is not numeric (so `1.2.3.4` is no address either).
fn public_domain(domain: &Option<Domain>, _: &()) -> garde::Result {
    let public = domain.as_ref().is_some_and(|domain| {
        domain
            .ascii
            .rsplit_once('.')
            .is_some_and(|(_, tld)| !tld.bytes().all(|b| b.is_ascii_digit()))
    });
    if public {
        Ok(())
    } else {
        Err(garde::Error::new("not a public domain name"))
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.address
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

#[cfg(test)]
mod tests;
