//! Logging in and everything a bearer token is used for: the
//! [`Authentication`] use case, its ports, and the token issuing its paths
//! share. Each path has its own file: `login.rs` opens a session,
//! `token_checks.rs` verifies a bearer token, `refresh.rs` renews one
//! (rotating refresh tokens), and `logout.rs` ends sessions.

mod failed_login;
mod login;
mod logout;
mod refresh;
mod second_step;
mod session_opening;
mod token_checks;

use std::sync::Arc;

use domain::RefreshPolicy;

use super::account_emails::SecretMail;
use super::login_attempts::LoginAttempts;
use super::revocation_marks::RevocationMarks;
use super::second_factor::SecondFactorPorts;
use super::session_revocation::SessionRevocation;
use super::{NewToken, SessionSettings, TokenLifetimes, issue_token};
use crate::ports::{
    AuditLog, Clock, OneTimeSecretStore, OutboxSignal, PasswordHasher, RevocationMarkQueue,
    SessionRepository, TokenCodec, TokenEncodeError, TokenRevocations, UserRepository,
};

pub use login::LoginRequest;
pub use second_step::{SecondFactorProof, SecondStepRequest};

/// The ports [`Authentication`] works with.
#[derive(Clone)]
pub struct AuthenticationPorts {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub revocations: Arc<dyn TokenRevocations>,
    /// The revocation marks queued with the sessions a logout ended.
    pub marks: Arc<dyn RevocationMarkQueue>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<dyn TokenCodec>,
    pub clock: Arc<dyn Clock>,
    /// Woken when a login queued an email.
    pub outbox: Arc<dyn OutboxSignal>,
    /// Where a login of an unverified account (`REQUIRE_VERIFIED_EMAIL`)
    /// issues a new verification secret.
    pub secrets: Arc<dyn OneTimeSecretStore>,
    pub mail: SecretMail,
    /// Throttles failed logins.
    pub attempts: LoginAttempts,
    /// The second factor: whether a login needs one, and its second step.
    pub second_factor: SecondFactorPorts,
    /// Where failed logins are written (a successful one is written with
    /// its session).
    pub audit: Arc<dyn AuditLog>,
}

/// Login, token checks, refresh (with rotation) and logout.
#[derive(Clone)]
pub struct Authentication {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    revocations: Arc<dyn TokenRevocations>,
    revoker: SessionRevocation,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenCodec>,
    clock: Arc<dyn Clock>,
    outbox: Arc<dyn OutboxSignal>,
    secrets: Arc<dyn OneTimeSecretStore>,
    mail: SecretMail,
    attempts: LoginAttempts,
    factor: SecondFactorPorts,
    audit: Arc<dyn AuditLog>,
    lifetimes: TokenLifetimes,
    settings: SessionSettings,
    policy: RefreshPolicy,
}

impl Authentication {
    pub fn new(
        ports: AuthenticationPorts,
        lifetimes: TokenLifetimes,
        settings: SessionSettings,
    ) -> Self {
        Self {
            revoker: SessionRevocation {
                sessions: ports.sessions.clone(),
                marks: RevocationMarks {
                    revocations: ports.revocations.clone(),
                    queue: ports.marks,
                    lifetimes,
                },
            },
            users: ports.users,
            sessions: ports.sessions,
            revocations: ports.revocations,
            hasher: ports.hasher,
            tokens: ports.tokens,
            clock: ports.clock,
            outbox: ports.outbox,
            secrets: ports.secrets,
            mail: ports.mail,
            attempts: ports.attempts,
            factor: ports.second_factor,
            audit: ports.audit,
            lifetimes,
            policy: settings.refresh_policy(&lifetimes),
            settings,
        }
    }

    fn issue(&self, token: NewToken<'_>) -> Result<String, TokenEncodeError> {
        issue_token(
            self.tokens.as_ref(),
            &self.lifetimes,
            self.clock.now(),
            token,
        )
    }
}

fn overflow() -> TokenEncodeError {
    TokenEncodeError("the session lifetime overflows the calendar".into())
}

#[cfg(test)]
mod tests;
