//! The use cases, each built from the adapters, and the HTTP state that
//! holds them.

use std::sync::Arc;

use application::{
    AdminActions, AuditTrail, Authentication, AuthenticationPorts, EmailChange, EmailVerification,
    OutboxRelay, PasswordChange, PasswordReset, Purge, RelaySettings, RevocationReplay,
    SecondFactor, SecurityEvents, SessionManagement, UserAccounts, UserAdministration,
};
use http_api::{AppState, Discovery};
use postgres_adapter::{PgAuditLog, PgDataPurge, PgEmailOutbox, PgProbe};
use redis_adapter::{RedisEmailQueue, RedisProbe};

use crate::Config;
use crate::adapters::Adapters;
use crate::rate_limiting::RateLimiting;

/// What the server and its background loops run.
pub(crate) struct UseCases {
    pub state: AppState,
    /// Moves committed emails from the outbox to the queue.
    pub relay: OutboxRelay,
    /// Writes the revocation marks Redis could not take at the time.
    pub replay: RevocationReplay,
    /// Deletes sessions and one-time secrets that ended long ago.
    pub purge: Purge,
}

impl UseCases {
    pub(crate) fn build(config: &Config, adapters: &Adapters, limits: RateLimiting) -> Self {
        let ports = &adapters.account;
        let attempts = limits.login_attempts.clone();
        let audit: Arc<dyn application::ports::AuditLog> =
            Arc::new(PgAuditLog::new(adapters.pg.clone(), adapters.pg_settings));
        let authentication = Authentication::new(
            AuthenticationPorts {
                users: ports.users.clone(),
                sessions: ports.sessions.clone(),
                revocations: ports.revocations.clone(),
                marks: ports.marks.clone(),
                hasher: ports.hasher.clone(),
                tokens: adapters.tokens.clone(),
                clock: ports.clock.clone(),
                outbox: ports.outbox.clone(),
                secrets: ports.secrets.clone(),
                mail: ports.mail.clone(),
                attempts: attempts.clone(),
                second_factor: adapters.second_factor.clone(),
                audit: audit.clone(),
            },
            config.lifetimes,
            config.sessions,
        );
        let redis_timeout = adapters.redis_settings.command_timeout;
        let replay = RevocationReplay::new(
            ports.marks.clone(),
            ports.revocations.clone(),
            ports.clock.clone(),
            config.lifetimes,
            config.revocation_replay,
        )
        .with_store_probe(Arc::new(RedisProbe::new(
            adapters.redis.clone(),
            redis_timeout,
        )));
        let relay = limits.limit_recipients(OutboxRelay::new(
            Arc::new(PgEmailOutbox::new(
                adapters.pg.clone(),
                adapters.pg_settings,
            )),
            Arc::new(
                RedisEmailQueue::new(
                    adapters.redis.clone(),
                    config.redis_key_prefix.clone(),
                    redis_timeout,
                )
                .with_wait_replicas(config.redis_wait_replicas),
            ),
            RelaySettings::default(),
        ));
        let purge = Purge::new(
            Arc::new(PgDataPurge::new(adapters.pg.clone(), adapters.pg_settings)),
            ports.clock.clone(),
            config.purge,
        )
        .with_audit_log(audit.clone());
        let state = AppState {
            authentication,
            accounts: UserAccounts::new(ports.clone()),
            user_administration: UserAdministration::new(
                ports.users.clone(),
                adapters.user_directory.clone(),
                ports.clock.clone(),
            ),
            admin_actions: AdminActions::new(ports.clone(), adapters.user_admin_store.clone()),
            sessions: SessionManagement::new(ports.clone()),
            verification: EmailVerification::new(ports.clone()),
            password_reset: PasswordReset::new(ports.clone()),
            password_change: PasswordChange::new(ports.clone(), attempts.clone()),
            email_change: EmailChange::new(ports.clone(), attempts),
            second_factor: SecondFactor::new(ports.clone(), adapters.second_factor.clone()),
            security_events: SecurityEvents::new(audit.clone()),
            audit_trail: AuditTrail::new(ports.users.clone(), audit.clone()),
            password_policy: config.password_policy,
            probes: vec![
                Arc::new(PgProbe::new(adapters.pg.clone(), adapters.pg_settings)),
                Arc::new(RedisProbe::new(adapters.redis.clone(), redis_timeout)),
            ],
            request_limits: limits.request_limits,
            signing_keys: adapters.signing_keys.clone(),
            discovery: Discovery {
                issuer: config.jwt.issuer.clone(),
                public_api_url: config.public_api_url.clone(),
                jwks_max_age: config.jwks_max_age,
                algorithms: vec![match &config.signing {
                    Some(signing) => signing.algorithm.to_string(),
                    None => config.jwt.algorithm.to_string(),
                }],
            },
        };
        Self {
            state,
            relay,
            replay,
            purge,
        }
    }
}
