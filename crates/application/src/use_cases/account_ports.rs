//! The ports every use case but [`super::Authentication`] is built from
//! ([`super::UserAccounts`], [`super::SessionManagement`],
//! [`super::EmailVerification`], [`super::PasswordReset`],
//! [`super::PasswordChange`], [`super::EmailChange`]): one struct, so a new
//! use case takes it and the wiring gains one line.

use std::sync::Arc;

use super::TokenLifetimes;
use super::account_emails::SecretMail;
use super::revocation_marks::RevocationMarks;
use super::session_revocation::SessionRevocation;
use crate::ports::{
    BackgroundTasks, Clock, OneTimeSecretStore, OutboxSignal, PasswordHasher, RevocationMarkQueue,
    SessionRepository, TokenRevocations, UserRepository,
};

/// What the account use cases work with; each takes the ports it needs.
#[derive(Clone)]
pub struct AccountPorts {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub secrets: Arc<dyn OneTimeSecretStore>,
    pub revocations: Arc<dyn TokenRevocations>,
    /// The revocation marks queued with the sessions a flow ended.
    pub marks: Arc<dyn RevocationMarkQueue>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
    /// Woken when a flow queued an email.
    pub outbox: Arc<dyn OutboxSignal>,
    pub mail: SecretMail,
    pub lifetimes: TokenLifetimes,
    /// Where `/password/forgot` leaves its writes (see [`BackgroundTasks`]).
    pub tasks: Arc<dyn BackgroundTasks>,
}

impl AccountPorts {
    pub(crate) fn revoker(&self) -> SessionRevocation {
        SessionRevocation {
            sessions: self.sessions.clone(),
            marks: self.revocation_marks(),
        }
    }

    pub(crate) fn revocation_marks(&self) -> RevocationMarks {
        RevocationMarks {
            revocations: self.revocations.clone(),
            queue: self.marks.clone(),
            lifetimes: self.lifetimes,
        }
    }
}
