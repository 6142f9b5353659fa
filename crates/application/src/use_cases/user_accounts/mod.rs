//! Sign-up and the management of existing accounts.

use std::sync::Arc;

use domain::{AuditEventKind, ClientDevice, NewUser, TokenClaims, TokenRejection, User, UserId};

use super::Registration;
use super::account_emails::SecretMail;
use super::account_ports::AccountPorts;
use super::revocation_marks::RevocationMarks;
use crate::error::{RegisterError, UserAccessError};
use crate::ports::{
    Clock, NewAuditEvent, OutboxSignal, PasswordHasher, QueuedMark, UserRepository,
};

/// Registration, reading and deleting users.
#[derive(Clone)]
pub struct UserAccounts {
    users: Arc<dyn UserRepository>,
    marks: RevocationMarks,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    outbox: Arc<dyn OutboxSignal>,
    mail: SecretMail,
}

impl UserAccounts {
    pub fn new(ports: AccountPorts) -> Self {
        Self {
            marks: ports.revocation_marks(),
            users: ports.users,
            hasher: ports.hasher,
            clock: ports.clock,
            outbox: ports.outbox,
            mail: ports.mail,
        }
    }

    /// Creates the account and, in the same transaction, its verification
    /// secret, its welcome email (which carries the link and code) and its
    /// `user.registered` (the new user as actor and subject).
    #[tracing::instrument(level = "debug", name = "register", skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn register(
        &self,
        registration: Registration,
        device: &ClientDevice,
    ) -> Result<User, RegisterError> {
        let password_hash = self.hasher.hash(registration.password).await?;
        let now = self.clock.now();
        let (verification, welcome) = self.mail.verification(&registration.email, now, true);
        let registered = NewAuditEvent::about_new_user(
            AuditEventKind::UserRegistered,
            None,
            Some(device),
            now,
            serde_json::json!({}),
        );
        let user = self
            .users
            .create(
                NewUser {
                    username: registration.username,
                    email: registration.email,
                    password_hash,
                },
                verification,
                welcome,
                registered,
            )
            .await?;
        tracing::Span::current().record("user_id", user.id.get());
        self.outbox.job_committed();
        Ok(user)
    }

    /// The user a verified token belongs to. A token whose user is gone is
    /// treated as revoked.
    #[tracing::instrument(level = "debug", name = "current_user", skip_all, fields(user_id = claims.user_id.get()))]
    pub async fn current_user(&self, claims: &TokenClaims) -> Result<User, UserAccessError> {
        self.caller(claims).await
    }

    /// Reads a user: callers see themselves, admins see anyone.
    #[tracing::instrument(
        level = "debug",
        name = "get_user",
        skip_all,
        fields(user_id = claims.user_id.get(), target = target.get())
    )]
    pub async fn get_user(
        &self,
        claims: &TokenClaims,
        target: UserId,
    ) -> Result<User, UserAccessError> {
        let caller = self.authorize(claims, target).await?;
        if caller.id == target {
            return Ok(caller);
        }
        self.users
            .find_by_id(target)
            .await?
            .ok_or(UserAccessError::UserNotFound)
    }

    /// Deletes a user and revokes every token it holds, including tokens
    /// of a login still in flight. Needs a fresh token. Its `user.deleted`
    /// names the caller as actor (the user itself, or an admin) and the
    /// deleted user as subject, written in the delete's transaction.
    #[tracing::instrument(
        level = "debug",
        name = "delete_user",
        skip_all,
        fields(user_id = claims.user_id.get(), target = target.get())
    )]
    pub async fn delete_user(
        &self,
        claims: &TokenClaims,
        target: UserId,
        device: &ClientDevice,
    ) -> Result<(), UserAccessError> {
        claims.require_fresh()?;
        let caller = self.authorize(claims, target).await?;
        if caller.id != target && self.users.find_by_id(target).await?.is_none() {
            return Err(UserAccessError::UserNotFound);
        }
        // The delete queues the user's revocation mark in its transaction,
        // so no order of failures leaves its tokens alive for good: a mark
        // Redis cannot take now is written by the replay. The mark names
        // the user, not a time, so a token that a login in flight signs
        // after this point is dead too.
        let now = self.clock.now();
        let deleted = NewAuditEvent {
            at: now,
            kind: AuditEventKind::UserDeleted,
            actor: Some(caller.id),
            subject: Some(target),
            session: Some(claims.session_id.clone()),
            ip: device.ip(),
            user_agent: device.user_agent().map(str::to_owned),
            data: serde_json::json!({}),
        };
        if !self.users.delete(target, now, deleted).await? {
            return Err(UserAccessError::UserNotFound);
        }
        let mark = QueuedMark::User {
            id: target,
            ended_at: now,
        };
        self.marks.write_queued(vec![mark], now).await;
        Ok(())
    }

    async fn caller(&self, claims: &TokenClaims) -> Result<User, UserAccessError> {
        self.users
            .find_by_id(claims.user_id)
            .await?
            .ok_or(UserAccessError::Token(TokenRejection::Revoked))
    }

    async fn authorize(
        &self,
        claims: &TokenClaims,
        target: UserId,
    ) -> Result<User, UserAccessError> {
        let caller = self.caller(claims).await?;
        if caller.may_manage(target) {
            Ok(caller)
        } else {
            Err(UserAccessError::Forbidden)
        }
    }
}

#[cfg(test)]
mod tests;
