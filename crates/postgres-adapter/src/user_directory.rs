//! [`UserDirectory`] on PostgreSQL: the admin user search.
//!
//! One statement per page. The filters given become `WHERE` clauses (none
//! is written as `$n IS NULL OR ...`, which would keep the planner off the
//! prefix indexes of migration 60); the last sign-in is a LATERAL lookup on
//! `sessions_user_idx`, one index probe per listed user.

use application::ports::{
    RepositoryError, UserDirectory, UserSearch, UserStatus, UserSummary, shown_ban_end,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use crate::account_steps::{UserRow, storable};
use crate::error::Failure;
use crate::pool::{Db, PgPool, PgSettings};

/// [`UserDirectory`] on `users`, `sessions` and `totp_factors`.
#[derive(Clone)]
pub struct PgUserDirectory {
    db: Db,
}

impl PgUserDirectory {
    pub fn new(pool: PgPool, settings: PgSettings) -> Self {
        Self {
            db: Db::new(pool, settings),
        }
    }
}

const SELECT: &str = "\
SELECT u.id, u.username, u.email, u.role, u.email_verified, u.created_at, u.banned_until,
       last_session.created_at AS last_sign_in_at,
       EXISTS (SELECT 1 FROM totp_factors t
               WHERE t.user_id = u.id AND t.enabled_at IS NOT NULL) AS mfa_enabled
FROM users u
LEFT JOIN LATERAL (
    SELECT s.created_at FROM sessions s
    WHERE s.user_id = u.id ORDER BY s.created_at DESC LIMIT 1
) last_session ON true
WHERE true";

#[derive(QueryableByName)]
struct SummaryRow {
    #[diesel(embed)]
    user: UserRow,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    banned_until: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_sign_in_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Bool)]
    mfa_enabled: bool,
}

impl SummaryRow {
    fn summary(self, now: DateTime<Utc>) -> Result<UserSummary, RepositoryError> {
        Ok(UserSummary {
            user: self.user.into_user()?,
            status: UserStatus::of(self.banned_until, now),
            banned_until: shown_ban_end(self.banned_until),
            last_sign_in_at: self.last_sign_in_at,
            mfa_enabled: self.mfa_enabled,
        })
    }
}

/// `text` as a LIKE pattern matching itself literally: the client's `%`
/// and `_` are characters of an address, not wildcards.
fn literal_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn directory_error(failure: Failure) -> RepositoryError {
    match failure {
        Failure::Unavailable(_) => RepositoryError::Unavailable(failure.into()),
        Failure::InvalidInput(_) => RepositoryError::InvalidInput(failure.into()),
        _ => RepositoryError::Unexpected(failure.into()),
    }
}

#[async_trait]
impl UserDirectory for PgUserDirectory {
    #[tracing::instrument(level = "debug", name = "postgres.search_users", skip_all)]
    async fn search(
        &self,
        search: &UserSearch,
        now: DateTime<Utc>,
    ) -> Result<Vec<UserSummary>, RepositoryError> {
        // No stored address or name holds a NUL, and PostgreSQL refuses
        // one in text: nothing can match.
        if search
            .prefix
            .as_deref()
            .is_some_and(|prefix| !storable(prefix))
        {
            return Ok(Vec::new());
        }
        let mut sql = String::from(SELECT);
        let mut query = diesel::sql_query("").into_boxed::<diesel::pg::Pg>();
        let mut n = 0;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        if let Some(after) = search.after {
            sql += &format!(" AND u.id > {}", param());
            query = query.bind::<BigInt, _>(after.get());
        }
        if let Some(prefix) = &search.prefix {
            // Addresses are stored lower-cased (`email_normalized`), so the
            // prefix is lowered the same way, in Rust; usernames keep their
            // case and are lowered by PostgreSQL on both sides.
            let (email, name) = (param(), param());
            sql += &format!(
                " AND (u.email_normalized LIKE {email} || '%' ESCAPE '\\' \
                 OR lower(u.username) LIKE lower({name}) || '%' ESCAPE '\\')"
            );
            let pattern = literal_like(prefix);
            query = query
                .bind::<Text, _>(pattern.to_lowercase())
                .bind::<Text, _>(pattern);
        }
        if let Some(role) = search.role {
            sql += &format!(" AND u.role = {}", param());
            query = query.bind::<Text, _>(role.as_str());
        }
        if let Some(status) = search.status {
            let now_param = param();
            sql += &match status {
                UserStatus::Banned => format!(" AND u.banned_until > {now_param}"),
                UserStatus::Active => {
                    format!(" AND (u.banned_until IS NULL OR u.banned_until <= {now_param})")
                }
            };
            query = query.bind::<Timestamptz, _>(now);
        }
        sql += &format!(" ORDER BY u.id LIMIT {}", param());
        query = query.bind::<BigInt, _>(i64::from(search.limit));
        let query = query.sql(sql);

        let mut conn = self.db.connection().await.map_err(directory_error)?;
        let rows = self
            .db
            .bounded(query.load::<SummaryRow>(&mut conn))
            .await
            .map_err(directory_error)?;
        rows.into_iter().map(|row| row.summary(now)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::literal_like;

    #[test]
    fn like_wildcards_and_the_escape_are_escaped() {
        assert_eq!(literal_like("a%b_c\\d"), "a\\%b\\_c\\\\d");
        assert_eq!(literal_like("plain"), "plain");
    }
}
