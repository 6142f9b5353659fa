//! What admins change in other people's accounts: each change, its side
//! effects and its audit event in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{NewUser, Role, User, UserId, Username};

use super::{EndedSession, NewAuditEvent, NewSecret, RepositoryError};
use crate::EmailJob;

/// An account an admin makes.
#[derive(Debug, Clone)]
pub struct NewAdminUser {
    pub user: NewUser,
    pub role: Role,
    pub email_verified: bool,
    /// Without a password: the set-password secret and the invitation
    /// that carries it, stored with the account.
    pub invitation: Option<(NewSecret, EmailJob)>,
    /// `admin.user_created`; the store sets its subject to the new id.
    pub audit: NewAuditEvent,
}

/// The fields a `PATCH` changes; `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub username: Option<Username>,
    pub role: Option<Role>,
    pub email_verified: Option<bool>,
}

/// How an update ended.
#[derive(Debug, Clone, PartialEq)]
pub enum UserUpdate {
    Updated(User),
    NotFound,
    /// The change would leave no admin (judged with every admin row
    /// locked, so two admins demoting each other cannot both pass).
    LastAdmin,
    /// The acting admin lost the role before its change took its turn.
    ActorNotAdmin,
}

/// Kept apart from [`super::UserRepository`], whose many mocks need not
/// learn of it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserAdminStore: Send + Sync {
    /// Stores the account (its invitation and its event too) atomically.
    /// `EmailTaken` when another account uses the address.
    async fn create_user(&self, user: NewAdminUser) -> Result<User, RepositoryError>;

    /// Applies `changes` to `id` on behalf of `actor`, with `audit`, in
    /// one transaction. A change of role holds every admin row's lock and
    /// decides on them: `LastAdmin` when no other admin would be left,
    /// else `ActorNotAdmin` when `actor` is not one.
    async fn update_user(
        &self,
        actor: UserId,
        id: UserId,
        changes: UserChanges,
        audit: NewAuditEvent,
    ) -> Result<UserUpdate, RepositoryError>;

    /// Bans `id` until `until`, ends every session of it (moving its
    /// session counter on, so no login in flight opens one) and queues
    /// their revocation marks, with `audit`. `None`: no such user.
    async fn ban(
        &self,
        id: UserId,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<Option<Vec<EndedSession>>, RepositoryError>;

    /// Lifts a ban (ended sessions stay ended). `false`: no such user.
    async fn unban(&self, id: UserId, audit: NewAuditEvent) -> Result<bool, RepositoryError>;

    /// Ends every session of `id`, as [`UserAdminStore::ban`] does.
    async fn end_sessions(
        &self,
        id: UserId,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<Option<Vec<EndedSession>>, RepositoryError>;

    /// Deletes the TOTP factor (enabled or pending), the recovery codes and
    /// the open second-step challenges of `id`, queues `notice`.
    /// `false`: no such user.
    async fn reset_mfa(
        &self,
        id: UserId,
        notice: EmailJob,
        audit: NewAuditEvent,
    ) -> Result<bool, RepositoryError>;
}
