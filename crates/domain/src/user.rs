use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::{EmailAddress, Username};

/// The database identity of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(i64);

impl UserId {
    pub const fn new(raw: i64) -> Self {
        Self(raw)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for UserId {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(pub String);

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered user. It never carries the password hash: code that only
/// shows or authorises a user cannot leak it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub email: EmailAddress,
    pub role: Role,
    /// The user proved it receives mail at `email`.
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

impl User {
    /// Users may read and delete themselves; admins may act on anyone.
    pub fn may_manage(&self, target: UserId) -> bool {
        self.id == target || self.role == Role::Admin
    }
}

/// A user about to be stored: valid fields plus the hash of its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: Username,
    pub email: EmailAddress,
    pub password_hash: crate::password::PasswordHash,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, role: Role) -> User {
        User {
            id: UserId::new(id),
            username: Username::parse("someone").unwrap(),
            email: EmailAddress::parse("someone@example.io").unwrap(),
            role,
            email_verified: false,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_user_manages_only_itself() {
        let me = user(1, Role::User);
        assert!(me.may_manage(UserId::new(1)));
        assert!(!me.may_manage(UserId::new(2)));
    }

    #[test]
    fn an_admin_manages_everyone() {
        let admin = user(1, Role::Admin);
        assert!(admin.may_manage(UserId::new(1)));
        assert!(admin.may_manage(UserId::new(42)));
    }

    #[test]
    fn roles_round_trip_through_text() {
        for role in [Role::User, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn user_ids_parse_only_integers() {
        assert_eq!("17".parse::<UserId>().unwrap(), UserId::new(17));
        assert!("abc".parse::<UserId>().is_err());
        assert!("1.5".parse::<UserId>().is_err());
    }
}
