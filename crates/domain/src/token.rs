use std::fmt;

use chrono::{DateTime, Utc};

use crate::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Access,
    Refresh,
}

/// The unique id of one token (`jti`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenId(String);

/// The id of one login (`sid`), shared by every token that login produced.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

macro_rules! opaque_id {
    ($name:ident) => {
        impl $name {
            pub fn new(raw: impl Into<String>) -> Self {
                Self(raw.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

opaque_id!(TokenId);
opaque_id!(SessionId);

impl SessionId {
    /// A session id from a URL: 32 hexadecimal digits (a UUID without
    /// hyphens, as logins create them), in any case. Anything else names
    /// no session.
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == 32 && raw.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(raw.to_ascii_lowercase()))
    }
}

/// Why a syntactically sound, correctly signed token is still refused, or
/// why no usable token was presented at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("no bearer token was presented")]
    Missing,
    #[error("the token is malformed or its signature does not verify")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    #[error("the token has been revoked")]
    Revoked,
    #[error("the token is not fresh")]
    NotFresh,
    #[error("an access token is required")]
    AccessRequired,
    #[error("a refresh token is required")]
    RefreshRequired,
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub user_id: UserId,
    pub token_id: TokenId,
    pub session_id: SessionId,
    pub kind: TokenKind,
    /// Only access tokens made from a password login are fresh.
    pub fresh: bool,
    /// The session's rotation counter when this refresh token was issued
    /// (`gen`); `None` on access tokens.
    pub generation: Option<u64>,
    /// How the session was authenticated (`amr`, and the `aal` it gives),
    /// written on access tokens; a refresh reads the session's instead.
    pub methods: crate::AuthMethods,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl TokenClaims {
    pub fn require_kind(&self, expected: TokenKind) -> Result<(), TokenRejection> {
        match (expected, self.kind) {
            (TokenKind::Access, TokenKind::Access) | (TokenKind::Refresh, TokenKind::Refresh) => {
                Ok(())
            }
            (TokenKind::Access, TokenKind::Refresh) => Err(TokenRejection::AccessRequired),
            (TokenKind::Refresh, TokenKind::Access) => Err(TokenRejection::RefreshRequired),
        }
    }

    /// The `gen` of a refresh token; a refresh token without one is not a
    /// token this service issued.
    pub fn refresh_generation(&self) -> Result<u64, TokenRejection> {
        self.require_kind(TokenKind::Refresh)?;
        self.generation.ok_or(TokenRejection::Invalid)
    }

    pub fn require_fresh(&self) -> Result<(), TokenRejection> {
        if self.fresh {
            Ok(())
        } else {
            Err(TokenRejection::NotFresh)
        }
    }

    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// Seconds this token stays usable after `now`, at least 1 so that a
    /// revocation written for it always outlives it.
    pub fn remaining_secs(&self, now: DateTime<Utc>) -> u64 {
        let secs = (self.expires_at - now).num_seconds().max(0) as u64;
        secs + 1
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn claims(kind: TokenKind, fresh: bool) -> TokenClaims {
        let issued_at = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        TokenClaims {
            user_id: UserId::new(7),
            token_id: TokenId::new("t"),
            session_id: SessionId::new("s"),
            kind,
            fresh,
            generation: (kind == TokenKind::Refresh).then_some(0),
            methods: crate::AuthMethods::Password,
            issued_at,
            expires_at: issued_at + Duration::seconds(300),
        }
    }

    #[test]
    fn a_refresh_token_needs_its_generation() {
        let mut refresh = claims(TokenKind::Refresh, false);
        assert_eq!(refresh.refresh_generation(), Ok(0));
        refresh.generation = None;
        assert_eq!(refresh.refresh_generation(), Err(TokenRejection::Invalid));
        assert_eq!(
            claims(TokenKind::Access, true).refresh_generation(),
            Err(TokenRejection::RefreshRequired)
        );
    }

    #[test]
    fn session_ids_from_urls_are_32_hex_digits() {
        let id = "0123456789ABCDEF0123456789abcdef";
        assert_eq!(
            SessionId::parse(id).map(|s| s.as_str().to_owned()),
            Some(id.to_ascii_lowercase())
        );
        for bad in [
            "",
            "nope",
            &id[1..],
            &format!("{id}0"),
            "0123456789abcdef0123456789abcdeg",
        ] {
            assert_eq!(SessionId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn kind_mismatch_says_which_kind_was_needed() {
        let refresh = claims(TokenKind::Refresh, false);
        let access = claims(TokenKind::Access, true);
        assert_eq!(
            refresh.require_kind(TokenKind::Access),
            Err(TokenRejection::AccessRequired)
        );
        assert_eq!(
            access.require_kind(TokenKind::Refresh),
            Err(TokenRejection::RefreshRequired)
        );
        assert_eq!(access.require_kind(TokenKind::Access), Ok(()));
        assert_eq!(refresh.require_kind(TokenKind::Refresh), Ok(()));
    }

    #[test]
    fn freshness_is_required_only_when_asked() {
        assert_eq!(
            claims(TokenKind::Access, false).require_fresh(),
            Err(TokenRejection::NotFresh)
        );
        assert_eq!(claims(TokenKind::Access, true).require_fresh(), Ok(()));
    }

    #[test]
    fn expiry_is_exclusive_of_the_last_instant() {
        let c = claims(TokenKind::Access, true);
        assert!(!c.is_expired_at(c.expires_at - Duration::seconds(1)));
        assert!(c.is_expired_at(c.expires_at));
    }

    #[test]
    fn remaining_life_outlives_the_token() {
        let c = claims(TokenKind::Access, true);
        assert_eq!(c.remaining_secs(c.issued_at), 301);
        assert_eq!(c.remaining_secs(c.expires_at + Duration::seconds(5)), 1);
    }
}
