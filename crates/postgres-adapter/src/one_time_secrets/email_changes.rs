//! The email change of [`super::PgOneTimeSecretStore`]: issuing one,
//! completing it with the emailed proof, and undoing it from the old
//! address; each in one transaction.

use application::EmailJob;
use application::ports::{
    CompletedEmailChange, EmailChangeOutcome, NewEmailChange, SecretStoreError,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::connection::PgConn;
use domain::{
    AuditEventKind, EmailAddress, SecretProof, SecretPurpose, SessionId, User, UserId, token_digest,
};

use super::consume::consume;
use super::transaction::{Abort, CorruptUser, bounded_transaction, store_error, unexpected_abort};
use crate::account_steps::{UserRow, void_secrets};
use crate::audit_log::record_self_service;
use crate::outbox::queue_emails;
use crate::pool::Db;
use crate::schema::{email_change_undos, one_time_secrets, users};
use crate::session_steps::end_sessions;

/// Issues an email change: its secret replaces a pending one, and its
/// undo link is stored beside it.
pub(super) async fn issue_email_change(
    db: &Db,
    user: UserId,
    change: NewEmailChange,
    emails: Vec<EmailJob>,
) -> Result<(), SecretStoreError> {
    let mut conn = db.connection().await.map_err(store_error)?;
    let NewEmailChange {
        change: secret,
        session,
        undo,
    } = change;
    let digests = secret.secret.digests(user);
    db.bounded(conn.transaction(async move |conn| {
        diesel::insert_into(one_time_secrets::table)
            .values((
                one_time_secrets::purpose.eq(SecretPurpose::ChangeEmail.as_str()),
                one_time_secrets::user_id.eq(user.get()),
                one_time_secrets::token_hash.eq(digests.token.to_vec()),
                one_time_secrets::code_hash.eq(digests.code.to_vec()),
                one_time_secrets::new_email.eq(secret.new_email.as_deref()),
                one_time_secrets::created_at.eq(secret.created_at),
                one_time_secrets::expires_at.eq(secret.expires_at),
                one_time_secrets::session_id.eq(session.as_str()),
            ))
            .on_conflict((one_time_secrets::purpose, one_time_secrets::user_id))
            .do_update()
            // The pending change dies: its hashes are overwritten.
            .set((
                one_time_secrets::token_hash.eq(excluded(one_time_secrets::token_hash)),
                one_time_secrets::code_hash.eq(excluded(one_time_secrets::code_hash)),
                one_time_secrets::new_email.eq(excluded(one_time_secrets::new_email)),
                one_time_secrets::failed_attempts.eq(0),
                one_time_secrets::created_at.eq(excluded(one_time_secrets::created_at)),
                one_time_secrets::expires_at.eq(excluded(one_time_secrets::expires_at)),
                one_time_secrets::used_at.eq(None::<DateTime<Utc>>),
                one_time_secrets::session_id.eq(excluded(one_time_secrets::session_id)),
            ))
            .execute(conn)
            .await?;
        diesel::insert_into(email_change_undos::table)
            .values((
                email_change_undos::token_hash.eq(token_digest(undo.secret.token()).to_vec()),
                email_change_undos::user_id.eq(user.get()),
                email_change_undos::old_email.eq(&undo.old_email),
                email_change_undos::created_at.eq(undo.created_at),
                email_change_undos::expires_at.eq(undo.expires_at),
            ))
            .execute(conn)
            .await?;
        queue_emails(conn, &emails).await?;
        let requested = AuditEventKind::EmailChangeRequested;
        record_self_service(conn, requested, user, Some(&session), secret.created_at).await?;
        Ok::<_, diesel::result::Error>(())
    }))
    .await
    .map_err(store_error)
}

/// Completes an email change: moves the account to the address the proof
/// was issued for.
pub(super) async fn change_email(
    db: &Db,
    proof: SecretProof,
    now: DateTime<Utc>,
) -> Result<EmailChangeOutcome, SecretStoreError> {
    let mut conn = db.connection().await.map_err(store_error)?;
    let transaction = conn.transaction::<_, Abort, _>(async move |conn| {
        let Some(consumed) = consume(conn, SecretPurpose::ChangeEmail, &proof, now).await? else {
            return Ok(None);
        };
        let Some(address) = consumed
            .new_email
            .as_deref()
            .and_then(|stored| EmailAddress::from_storage(stored).ok())
        else {
            return Ok(None);
        };
        // The session that asked keeps going; every other one ends.
        let keep = one_time_secrets::table
            .find((SecretPurpose::ChangeEmail.as_str(), consumed.user_id))
            .select(one_time_secrets::session_id)
            .first::<Option<String>>(conn)
            .await
            .optional()?
            .flatten();
        let user = UserId::new(consumed.user_id);
        let Some(user) = move_to(conn, user, &address).await? else {
            return Ok(None);
        };
        // Links sent to the address the account just left.
        let old = [SecretPurpose::ResetPassword, SecretPurpose::VerifyEmail];
        void_secrets(conn, user.id, &old, now).await?;
        let ended = end_sessions(conn, user.id, keep.as_deref(), now).await?;
        let asked = keep.map(SessionId::new);
        let changed = AuditEventKind::EmailChanged;
        record_self_service(conn, changed, user.id, asked.as_ref(), now).await?;
        Ok(Some(CompletedEmailChange { user, ended }))
    });
    outcome(bounded_transaction(db, transaction).await?)
}

/// Undoes an email change: moves the account back to the address the undo
/// link was sent to.
pub(super) async fn undo_email_change(
    db: &Db,
    token: String,
    now: DateTime<Utc>,
) -> Result<EmailChangeOutcome, SecretStoreError> {
    let mut conn = db.connection().await.map_err(store_error)?;
    let transaction = conn.transaction::<_, Abort, _>(async move |conn| {
        let Some((user_id, old_email, created_at)) = diesel::update(
            email_change_undos::table
                .find(token_digest(&token).to_vec())
                .filter(email_change_undos::used_at.is_null())
                .filter(email_change_undos::expires_at.gt(now)),
        )
        .set(email_change_undos::used_at.eq(now))
        .returning((
            email_change_undos::user_id,
            email_change_undos::old_email,
            email_change_undos::created_at,
        ))
        .get_result::<(i64, String, DateTime<Utc>)>(conn)
        .await
        .optional()?
        else {
            return Ok(None);
        };
        let Ok(address) = EmailAddress::from_storage(&old_email) else {
            return Ok(None);
        };
        let user = UserId::new(user_id);
        let Some(user) = move_to(conn, user, &address).await? else {
            return Ok(None);
        };
        // A pending change, and links sent to the address being left.
        let purposes = [
            SecretPurpose::ChangeEmail,
            SecretPurpose::ResetPassword,
            SecretPurpose::VerifyEmail,
        ];
        void_secrets(conn, user.id, &purposes, now).await?;
        // The undo links of later changes would move the account off the
        // address just restored; earlier ones stay, for an owner whose
        // address an intruder changed twice.
        diesel::update(
            email_change_undos::table
                .filter(email_change_undos::user_id.eq(user.id.get()))
                .filter(email_change_undos::created_at.ge(created_at))
                .filter(email_change_undos::used_at.is_null()),
        )
        .set(email_change_undos::used_at.eq(now))
        .execute(conn)
        .await?;
        let ended = end_sessions(conn, user.id, None, now).await?;
        let undone = AuditEventKind::EmailChangeUndone;
        record_self_service(conn, undone, user.id, None, now).await?;
        Ok(Some(CompletedEmailChange { user, ended }))
    });
    outcome(bounded_transaction(db, transaction).await?)
}

/// Moves `user` to `address`, verified, inside the caller's transaction.
/// `AddressTaken` when another account holds it (checked first, and again
/// by the unique constraint should a registration race this update);
/// `None` when the user is gone.
/// What a change or an undo came to, from its transaction's result.
fn outcome(
    result: Result<Option<CompletedEmailChange>, Abort>,
) -> Result<EmailChangeOutcome, SecretStoreError> {
    match result {
        Ok(Some(done)) => Ok(EmailChangeOutcome::Changed(done)),
        Ok(None) => Ok(EmailChangeOutcome::InvalidOrExpired),
        Err(Abort::AddressTaken) => Ok(EmailChangeOutcome::AddressTaken),
        Err(Abort::Corrupt(error)) => Err(SecretStoreError::Unexpected(Box::new(error))),
        Err(abort @ Abort::Query(_)) => Err(unexpected_abort(abort)),
    }
}

async fn move_to(
    conn: &mut PgConn,
    user: UserId,
    address: &EmailAddress,
) -> Result<Option<User>, Abort> {
    let normalized = address.normalized();
    let taken = users::table
        .filter(users::email_normalized.eq(&normalized))
        .filter(users::id.ne(user.get()))
        .select(users::id)
        .first::<i64>(conn)
        .await
        .optional()?
        .is_some();
    if taken {
        // Rolls the consumption back too: the link still works should
        // the other account let the address go.
        return Err(Abort::AddressTaken);
    }
    let row = diesel::update(users::table.find(user.get()))
        .set((
            users::email.eq(address.as_str()),
            users::email_normalized.eq(&normalized),
            users::email_verified.eq(true),
        ))
        .returning(UserRow::as_returning())
        .get_result::<UserRow>(conn)
        .await
        .optional()?;
    row.map(|row| {
        row.user()
            .map_err(|error| Abort::Corrupt(CorruptUser(error)))
    })
    .transpose()
}
