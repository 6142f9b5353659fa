//! What admins change in other people's accounts (`/admin/users*` writes):
//! creating, updating, banning and unbanning users, ending their sessions
//! and resetting their second factor. Each change is written with its
//! `admin.*` audit event in one transaction (see [`UserAdminStore`]).

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use domain::{
    AuditEventKind, ClientDevice, EmailAddress, NewUser, Password, Role, TokenClaims,
    TokenRejection, User, UserId, Username,
};
use serde_json::{Map, Value, json};

use super::account_ports::AccountPorts;
use crate::error::{AdminUserActionError, BanUserError, CreateUserError, UpdateUserError};
use crate::ports::{
    HashError, NewAdminUser, NewAuditEvent, RepositoryError, UserAdminStore, UserChanges,
    UserUpdate, indefinite_ban,
};
use crate::{Email, EmailJob};

/// Who acts: the admin's token and the device it called from, for the
/// audit events.
#[derive(Debug, Clone, Copy)]
pub struct AdminCaller<'a> {
    pub claims: &'a TokenClaims,
    pub device: &'a ClientDevice,
}

/// `POST /admin/users` with valid fields.
#[derive(Debug, Clone)]
pub struct NewUserByAdmin {
    pub username: Username,
    pub email: EmailAddress,
    /// `None`: the user is invited to choose one.
    pub password: Option<Password>,
    pub role: Role,
    pub email_verified: bool,
}

/// `POST /admin/users/{id}/ban` with valid fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanRequest {
    /// `None`: until lifted.
    pub until: Option<DateTime<Utc>>,
    pub reason: String,
}

/// The admins' changes to accounts.
#[derive(Clone)]
pub struct AdminActions {
    ports: AccountPorts,
    store: Arc<dyn UserAdminStore>,
}

/// The refusal every operation shares: the caller is gone, or no admin.
trait AdminRefusal: From<TokenRejection> + From<RepositoryError> {
    fn forbidden() -> Self;
}

macro_rules! admin_refusal {
    ($($error:ty),+) => {
        $(impl AdminRefusal for $error {
            fn forbidden() -> Self {
                Self::Forbidden
            }
        })+
    };
}

admin_refusal!(
    CreateUserError,
    UpdateUserError,
    BanUserError,
    AdminUserActionError
);

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl AdminActions {
    pub fn new(ports: AccountPorts, store: Arc<dyn UserAdminStore>) -> Self {
        Self { ports, store }
    }

    /// The caller's account; a token whose user is gone is revoked.
    async fn caller<E: AdminRefusal>(&self, claims: &TokenClaims) -> Result<User, E> {
        Ok(self
            .ports
            .users
            .find_by_id(claims.user_id)
            .await?
            .ok_or(TokenRejection::Revoked)?)
    }

    /// The role is read from the store, not the token: a demoted admin
    /// loses these routes at once.
    async fn admin<E: AdminRefusal>(&self, claims: &TokenClaims) -> Result<User, E> {
        let caller = self.caller::<E>(claims).await?;
        if caller.role != Role::Admin {
            return Err(E::forbidden());
        }
        Ok(caller)
    }

    fn event(
        kind: AuditEventKind,
        caller: AdminCaller<'_>,
        subject: Option<UserId>,
        at: DateTime<Utc>,
        data: Value,
    ) -> NewAuditEvent {
        NewAuditEvent {
            at,
            kind,
            actor: Some(caller.claims.user_id),
            subject,
            session: Some(caller.claims.session_id.clone()),
            ip: caller.device.ip(),
            user_agent: caller.device.user_agent().map(str::to_owned),
            data,
        }
    }

    /// Creates an account. Without a password it gets one nobody knows
    /// (no login can pass it, and checking it costs what any check costs)
    /// and an invitation whose link sets a real one.
    #[tracing::instrument(level = "debug", name = "admin_create_user", skip_all, fields(user_id = caller.claims.user_id.get()))]
    pub async fn create_user(
        &self,
        caller: AdminCaller<'_>,
        request: NewUserByAdmin,
    ) -> Result<User, CreateUserError> {
        self.admin::<CreateUserError>(caller.claims).await?;
        let now = self.ports.clock.now();
        let (password, invitation) = match request.password {
            Some(password) => (password, None),
            None => {
                let password = self.ports.mail.unusable_password().ok_or_else(|| {
                    HashError::Unexpected("a random password broke the password policy".into())
                })?;
                (
                    password,
                    Some(self.ports.mail.invitation(&request.email, now)),
                )
            }
        };
        let password_hash = self.ports.hasher.hash(password).await?;
        let invited = invitation.is_some();
        let audit = Self::event(
            AuditEventKind::AdminUserCreated,
            caller,
            None,
            now,
            json!({
                "username": request.username.as_str(),
                "email": request.email.as_str(),
                "role": request.role.as_str(),
                "email_verified": request.email_verified,
                "invited": invited,
            }),
        );
        let user = self
            .store
            .create_user(NewAdminUser {
                user: NewUser {
                    username: request.username,
                    email: request.email,
                    password_hash,
                },
                role: request.role,
                email_verified: request.email_verified,
                invitation,
                audit,
            })
            .await?;
        if invited {
            self.ports.outbox.job_committed();
        }
        Ok(user)
    }

    /// Changes the username, role or verification of `target`. An admin
    /// cannot demote itself, and the last admin stays one. For a demotion
    /// the store also decides whether the caller is (still) an admin,
    /// under the same lock: the last-admin rule first, so a non-admin
    /// demoting the one admin left learns only what the race's loser does.
    #[tracing::instrument(level = "debug", name = "admin_update_user", skip_all, fields(user_id = caller.claims.user_id.get(), target = target.get()))]
    pub async fn update_user(
        &self,
        caller: AdminCaller<'_>,
        target: UserId,
        changes: UserChanges,
    ) -> Result<User, UpdateUserError> {
        let actor = caller.claims.user_id;
        let demotion = changes.role == Some(Role::User);
        if demotion {
            // Judged by the store under the admins' lock, not here: of two
            // admins demoting each other at once, the second must meet the
            // last-admin rule (422) even if the first committed before
            // this request read its caller's role.
            self.caller::<UpdateUserError>(caller.claims).await?;
        } else {
            self.admin::<UpdateUserError>(caller.claims).await?;
        }
        if target == actor && demotion {
            return Err(UpdateUserError::SelfDemotion);
        }
        let mut changed = Map::new();
        if let Some(username) = &changes.username {
            changed.insert("username".into(), json!(username.as_str()));
        }
        if let Some(role) = changes.role {
            changed.insert("role".into(), json!(role.as_str()));
        }
        if let Some(verified) = changes.email_verified {
            changed.insert("email_verified".into(), json!(verified));
        }
        let audit = Self::event(
            AuditEventKind::AdminUserUpdated,
            caller,
            Some(target),
            self.ports.clock.now(),
            json!({ "changes": changed }),
        );
        match self
            .store
            .update_user(actor, target, changes, audit)
            .await?
        {
            UserUpdate::Updated(user) => Ok(user),
            UserUpdate::NotFound => Err(UpdateUserError::UserNotFound),
            UserUpdate::LastAdmin => Err(UpdateUserError::LastAdmin),
            UserUpdate::ActorNotAdmin => Err(UpdateUserError::Forbidden),
        }
    }

    /// Bans `target` until `request.until` (or until lifted) and ends
    /// every session of it: its tokens fail at once, on every instance.
    #[tracing::instrument(level = "debug", name = "admin_ban_user", skip_all, fields(user_id = caller.claims.user_id.get(), target = target.get()))]
    pub async fn ban(
        &self,
        caller: AdminCaller<'_>,
        target: UserId,
        request: BanRequest,
    ) -> Result<(), BanUserError> {
        self.admin::<BanUserError>(caller.claims).await?;
        if target == caller.claims.user_id {
            return Err(BanUserError::SelfBan);
        }
        let now = self.ports.clock.now();
        if request.until.is_some_and(|until| until <= now) {
            return Err(BanUserError::UntilInPast);
        }
        let audit = Self::event(
            AuditEventKind::AdminUserBanned,
            caller,
            Some(target),
            now,
            json!({
                "until": request.until.map(rfc3339),
                "reason": request.reason,
            }),
        );
        let until = request.until.unwrap_or_else(indefinite_ban);
        let ended = self
            .store
            .ban(target, until, now, audit)
            .await?
            .ok_or(BanUserError::UserNotFound)?;
        self.ports
            .revoker()
            .mark_committed(target, &ended, now)
            .await;
        Ok(())
    }

    /// Lifts a ban; the sessions it ended stay ended.
    #[tracing::instrument(level = "debug", name = "admin_unban_user", skip_all, fields(user_id = caller.claims.user_id.get(), target = target.get()))]
    pub async fn unban(
        &self,
        caller: AdminCaller<'_>,
        target: UserId,
    ) -> Result<(), AdminUserActionError> {
        self.admin::<AdminUserActionError>(caller.claims).await?;
        let audit = Self::event(
            AuditEventKind::AdminUserUnbanned,
            caller,
            Some(target),
            self.ports.clock.now(),
            json!({}),
        );
        if !self.store.unban(target, audit).await? {
            return Err(AdminUserActionError::UserNotFound);
        }
        Ok(())
    }

    /// Ends every session of `target`; returns how many were live.
    #[tracing::instrument(level = "debug", name = "admin_end_sessions", skip_all, fields(user_id = caller.claims.user_id.get(), target = target.get()))]
    pub async fn end_sessions(
        &self,
        caller: AdminCaller<'_>,
        target: UserId,
    ) -> Result<usize, AdminUserActionError> {
        self.admin::<AdminUserActionError>(caller.claims).await?;
        let now = self.ports.clock.now();
        let audit = Self::event(
            AuditEventKind::AdminSessionsRevoked,
            caller,
            Some(target),
            now,
            json!({}),
        );
        let ended = self
            .store
            .end_sessions(target, now, audit)
            .await?
            .ok_or(AdminUserActionError::UserNotFound)?;
        self.ports
            .revoker()
            .mark_committed(target, &ended, now)
            .await;
        Ok(ended.iter().filter(|session| session.was_live).count())
    }

    /// Removes `target`'s TOTP factor and recovery codes (its next login
    /// asks for the password only) and tells the user so.
    #[tracing::instrument(level = "debug", name = "admin_reset_mfa", skip_all, fields(user_id = caller.claims.user_id.get(), target = target.get()))]
    pub async fn reset_mfa(
        &self,
        caller: AdminCaller<'_>,
        target: UserId,
    ) -> Result<(), AdminUserActionError> {
        self.admin::<AdminUserActionError>(caller.claims).await?;
        let user = self
            .ports
            .users
            .find_by_id(target)
            .await?
            .ok_or(AdminUserActionError::UserNotFound)?;
        let now = self.ports.clock.now();
        let notice = EmailJob::new(
            Email::MfaDisabled {
                to: user.email.as_str().to_owned(),
                disabled_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
            },
            now,
        );
        let audit = Self::event(
            AuditEventKind::AdminMfaReset,
            caller,
            Some(target),
            now,
            json!({}),
        );
        if !self.store.reset_mfa(target, notice, audit).await? {
            return Err(AdminUserActionError::UserNotFound);
        }
        self.ports.outbox.job_committed();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
