//! The ports every use case but [`super::Authentication`] is built from
//! ([`super::UserAccounts`], [`super::SessionManagement`],
//! [`super::EmailVerification`], [`super::PasswordReset`],
//! [`super::PasswordChange`], [`super::EmailChange`]): one struct, so a new
//! use case takes it and the wiring gains one line. Also the detached issue
//! of a one-time secret's email that works on them.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use domain::{User, UserId};

use super::TokenLifetimes;
use super::account_emails::SecretMail;
use super::revocation_marks::RevocationMarks;
use super::session_revocation::SessionRevocation;
use crate::EmailJob;
use crate::error_chain::ErrorChain;
use crate::ports::{
    BackgroundTasks, Clock, NewSecret, OneTimeSecretStore, OutboxSignal, PasswordHasher,
    RevocationMarkQueue, SessionRepository, TokenRevocations, UserRepository,
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

/// Makes the secret and its email for the account a lookup found, or
/// nothing when that account gets none (a verified one asking for a new
/// verification email).
pub(crate) type MakeSecretMail =
    fn(&SecretMail, &User, DateTime<Utc>) -> Option<(NewSecret, EmailJob)>;

/// Hands exactly one job to `tasks` after the lookup every address gets,
/// for the routes whose answer must take the same time whether or not the
/// account exists. The request does the same work either way (it moves
/// the lookup's result into the job and hands it over); only the job
/// looks at the result: for an account it makes the secret and its email
/// with `make` and issues them in one transaction, for an unknown address
/// it ends at once. A failure is logged (the user can ask again), never
/// answered: the answer has already gone.
pub(crate) async fn issue_detached(
    ports: &AccountPorts,
    user: Option<UserId>,
    make: MakeSecretMail,
    min_interval: Duration,
) {
    let users = ports.users.clone();
    let secrets = ports.secrets.clone();
    let outbox = ports.outbox.clone();
    let clock = ports.clock.clone();
    let mail = ports.mail.clone();
    ports
        .tasks
        .detach(Box::pin(async move {
            let Some(id) = user else { return };
            let user = match users.find_by_id(id).await {
                Ok(Some(user)) => user,
                // Deleted since the lookup: nothing to send.
                Ok(None) => return,
                Err(error) => {
                    tracing::error!(
                        error.chain = %ErrorChain(&error),
                        user_id = id.get(),
                        "an account email could not be made; the user can ask again"
                    );
                    return;
                }
            };
            let Some((secret, email)) = make(&mail, &user, clock.now()) else {
                return;
            };
            let purpose = secret.purpose;
            match secrets
                .issue(user.id, secret, vec![email], min_interval)
                .await
            {
                Ok(true) => outbox.job_committed(),
                Ok(false) => {}
                Err(error) => tracing::error!(
                    error.chain = %ErrorChain(&error),
                    user_id = user.id.get(),
                    purpose = purpose.as_str(),
                    "an account email could not be queued; the user can ask again"
                ),
            }
        }))
        .await;
}
