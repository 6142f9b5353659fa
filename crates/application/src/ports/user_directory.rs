//! The admins' view of the user base: a search over every account, one
//! page at a time in id order.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Role, User, UserId};

use super::RepositoryError;

/// Whether an account may sign in, as the search shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Active,
    /// `banned_until` is still in the future.
    Banned,
}

impl UserStatus {
    /// A ban ends by itself at `banned_until`: no job has to lift it.
    pub fn of(banned_until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        match banned_until {
            Some(until) if until > now => UserStatus::Banned,
            _ => UserStatus::Active,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Banned => "banned",
        }
    }

    /// `None` for anything but `active` and `banned`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(UserStatus::Active),
            "banned" => Some(UserStatus::Banned),
            _ => None,
        }
    }
}

/// What an indefinite ban is stored as: a far-future `banned_until`
/// (9999-12-31T23:59:59Z), so that "banned" stays one comparison.
pub fn indefinite_ban() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `banned_until` as the API shows it: `None` for an indefinite ban (the
/// status says `banned`), the end of a ban otherwise.
pub fn shown_ban_end(banned_until: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    banned_until.filter(|until| *until < indefinite_ban())
}

/// One page's question. Every filter given must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSearch {
    /// The start of the email or the username, matched case-insensitively
    /// and literally (`%` and `_` are characters, not wildcards).
    pub prefix: Option<String>,
    pub role: Option<Role>,
    pub status: Option<UserStatus>,
    /// Only users with a greater id: the last id of the previous page.
    pub after: Option<UserId>,
    /// At most this many, in id order.
    pub limit: u32,
}

/// A user as the search lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserSummary {
    pub user: User,
    /// At the search's `now`, the same instant its status filter used.
    pub status: UserStatus,
    /// When a ban ends; `None` when not banned or banned indefinitely
    /// (see [`shown_ban_end`]).
    pub banned_until: Option<DateTime<Utc>>,
    /// The start of the user's newest session still stored, if any.
    pub last_sign_in_at: Option<DateTime<Utc>>,
    /// An enabled (not merely pending) TOTP factor.
    pub mfa_enabled: bool,
}

/// Kept apart from [`super::UserRepository`], whose many mocks need not
/// learn of it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// The users matching `search`, in increasing id order; `now` decides
    /// who is banned.
    async fn search(
        &self,
        search: &UserSearch,
        now: DateTime<Utc>,
    ) -> Result<Vec<UserSummary>, RepositoryError>;
}
