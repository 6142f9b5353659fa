use std::sync::Arc;
use std::time::Duration;

use application::ports::DependencyProbe;
use application::{
    AdminActions, AuditTrail, Authentication, EmailChange, EmailVerification, PasswordChange,
    PasswordReset, RequestLimits, SecondFactor, SecurityEvents, SessionManagement, SigningKeys,
    UserAccounts, UserAdministration,
};
use domain::PasswordPolicy;

/// What every handler can reach, shared across actix workers.
pub struct AppState {
    pub authentication: Authentication,
    pub accounts: UserAccounts,
    pub user_administration: UserAdministration,
    /// The admin writes on `/admin/users*`.
    pub admin_actions: AdminActions,
    pub sessions: SessionManagement,
    pub verification: EmailVerification,
    pub password_reset: PasswordReset,
    pub password_change: PasswordChange,
    pub email_change: EmailChange,
    pub second_factor: SecondFactor,
    /// `GET /users/me/security-events`.
    pub security_events: SecurityEvents,
    /// `GET /admin/audit`.
    pub audit_trail: AuditTrail,
    pub password_policy: PasswordPolicy,
    /// Asked by `/health/ready`.
    pub probes: Vec<Arc<dyn DependencyProbe>>,
    /// Per-client limits of the routes (see `rate_limit::limited`).
    pub request_limits: RequestLimits,
    /// The asymmetric signing keys, when tokens are signed with them; the
    /// JWKS is empty without.
    pub signing_keys: Option<Arc<SigningKeys>>,
    /// What `/.well-known/openid-configuration` says.
    pub discovery: Discovery,
}

/// The discovery document's settings.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// `JWT_ISSUER`.
    pub issuer: String,
    /// `PUBLIC_API_URL`: the base of `jwks_uri`; `None` takes the
    /// request's own scheme and host.
    pub public_api_url: Option<String>,
    /// `JWKS_MAX_AGE`: how long clients may cache the keys.
    pub jwks_max_age: Duration,
    /// The algorithms tokens are signed with (`JWT_ALGORITHM`).
    pub algorithms: Vec<String>,
}
