//! What the user store and the one-time secret store share inside their
//! transactions: the user row and how it loads, the unique constraint
//! behind "email taken", the NUL guard on lookup keys, and voiding a
//! user's pending secrets. A leaf: both stores use it, it uses neither.

use application::ports::RepositoryError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::connection::PgConn;
use domain::{EmailAddress, Role, SecretPurpose, User, UserId, Username};

use crate::schema::{one_time_secrets, users};

/// The name of the unique constraint behind "email taken" (migration 1).
pub(crate) const EMAIL_UNIQUE: &str = "users_email_normalized_key";

// QueryableByName too: the admin search reads it out of raw SQL.
#[derive(Queryable, QueryableByName, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub(crate) struct UserRow {
    pub(crate) id: i64,
    username: String,
    email: String,
    role: String,
    email_verified: bool,
    created_at: DateTime<Utc>,
}

impl UserRow {
    pub(crate) fn user(self) -> Result<User, RepositoryError> {
        self.into_user()
    }

    /// Stored text is re-validated with the rules it was written under
    /// (`from_storage`: a rule added later does not lock an account out); a
    /// row that breaks even those is a bug or a manual edit, reported as
    /// Unexpected.
    pub(crate) fn into_user(self) -> Result<User, RepositoryError> {
        let id = self.id;
        let corrupt = move |field: &'static str| {
            move |error: Box<dyn std::error::Error + Send + Sync>| {
                RepositoryError::Unexpected(Box::new(CorruptRow { id, field, error }))
            }
        };
        Ok(User {
            id: UserId::new(self.id),
            username: Username::from_storage(&self.username)
                .map_err(|e| corrupt("username")(e.into()))?,
            email: EmailAddress::from_storage(&self.email)
                .map_err(|e| corrupt("email")(e.into()))?,
            role: self
                .role
                .parse::<Role>()
                .map_err(|e| corrupt("role")(e.into()))?,
            email_verified: self.email_verified,
            created_at: self.created_at,
        })
    }
}

/// A stored row that no longer satisfies the domain rules.
#[derive(Debug, thiserror::Error)]
#[error("user {id} has an invalid {field}")]
struct CorruptRow {
    id: i64,
    field: &'static str,
    #[source]
    error: Box<dyn std::error::Error + Send + Sync>,
}

/// PostgreSQL text cannot hold a NUL character: no stored value contains
/// one, so a lookup key with one matches nothing and is not sent at all.
pub(crate) fn storable(text: &str) -> bool {
    !text.contains('\0')
}

/// Kills `user`'s live secrets of these purposes, inside the caller's
/// transaction. A change of password or address must not leave behind a
/// link that undoes it: a pending email change an intruder asked for
/// outliving the reset that threw them out, or a reset link sent to the
/// address the account just left.
pub(crate) async fn void_secrets(
    conn: &mut PgConn,
    user: UserId,
    purposes: &[SecretPurpose],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let purposes: Vec<&str> = purposes.iter().map(|purpose| purpose.as_str()).collect();
    diesel::update(
        one_time_secrets::table
            .filter(one_time_secrets::user_id.eq(user.get()))
            .filter(one_time_secrets::purpose.eq_any(purposes))
            .filter(one_time_secrets::used_at.is_null()),
    )
    .set(one_time_secrets::used_at.eq(now))
    .execute(conn)
    .await?;
    Ok(())
}
