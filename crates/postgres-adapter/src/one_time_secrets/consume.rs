//! Consuming a one-time secret by its proof (the link's token or the
//! emailed code), counting a wrong code against its tries and the
//! account's budget of wrong codes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::connection::PgConn;
use domain::{
    CodePurpose, EmailAddress, MAX_CODE_ATTEMPTS, SecretProof, SecretPurpose, UserId, code_digest,
    token_digest,
};

use crate::account_steps::storable;
use crate::code_budget;
use crate::schema::{one_time_secrets, users};

/// A secret just consumed: whose, and (for an email change) the address it
/// was issued for.
pub(super) struct Consumed {
    pub(super) user_id: i64,
    pub(super) new_email: Option<String>,
}

/// Consumes the live secret `purpose` of whoever `proof` names. A wrong
/// code counts against the code's tries and the account's budget of wrong
/// codes for `purpose` (in this transaction, which commits even though the
/// proof failed); once that budget is spent, no code of `purpose` is
/// accepted, and only the link's token still works.
pub(super) async fn consume(
    conn: &mut PgConn,
    purpose: SecretPurpose,
    proof: &SecretProof,
    now: DateTime<Utc>,
) -> QueryResult<Option<Consumed>> {
    let live = one_time_secrets::table
        .filter(one_time_secrets::purpose.eq(purpose.as_str()))
        .filter(one_time_secrets::used_at.is_null())
        .filter(one_time_secrets::expires_at.gt(now));
    match proof {
        SecretProof::Token(token) => diesel::update(
            live.filter(one_time_secrets::token_hash.eq(token_digest(token).to_vec())),
        )
        .set(one_time_secrets::used_at.eq(now))
        .returning((one_time_secrets::user_id, one_time_secrets::new_email))
        .get_result::<(i64, Option<String>)>(conn)
        .await
        .optional()
        .map(|row| row.map(Consumed::from)),
        SecretProof::Code { email, code } => {
            let Some(key) = EmailAddress::from_storage(email)
                .ok()
                .map(|address| address.normalized())
                .filter(|key| storable(key))
            else {
                return Ok(None);
            };
            let Some(user_id) = users::table
                .filter(users::email_normalized.eq(key))
                .select(users::id)
                .first::<i64>(conn)
                .await
                .optional()?
            else {
                return Ok(None);
            };
            let user = UserId::new(user_id);
            let live = live.filter(one_time_secrets::user_id.eq(user_id));
            // Code attempts of one account and purpose take turns on the
            // live secret's row, so the budget check below is exact however
            // many arrive at once. No live secret: no code to guess.
            let locked = live
                .select(one_time_secrets::user_id)
                .for_update()
                .first::<i64>(conn)
                .await
                .optional()?;
            let budget = CodePurpose::from(purpose);
            if locked.is_none() || code_budget::exhausted(conn, user, budget, now).await? {
                return Ok(None);
            }
            let mine = live.filter(one_time_secrets::failed_attempts.lt(MAX_CODE_ATTEMPTS));
            let digest = code_digest(user, code).to_vec();
            let consumed = diesel::update(mine.filter(one_time_secrets::code_hash.eq(digest)))
                .set(one_time_secrets::used_at.eq(now))
                .returning((one_time_secrets::user_id, one_time_secrets::new_email))
                .get_result::<(i64, Option<String>)>(conn)
                .await
                .optional()?
                .map(Consumed::from);
            if consumed.is_none() {
                diesel::update(mine)
                    .set(
                        one_time_secrets::failed_attempts.eq(one_time_secrets::failed_attempts + 1),
                    )
                    .execute(conn)
                    .await?;
                code_budget::record_failure(conn, user, budget, now).await?;
            }
            Ok(consumed)
        }
    }
}

impl From<(i64, Option<String>)> for Consumed {
    fn from((user_id, new_email): (i64, Option<String>)) -> Self {
        Self { user_id, new_email }
    }
}
