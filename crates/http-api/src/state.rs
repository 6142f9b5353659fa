use std::sync::Arc;

use application::ports::DependencyProbe;
use application::{
    Authentication, EmailChange, EmailVerification, PasswordChange, PasswordReset, RequestLimits,
    SessionManagement, UserAccounts,
};
use domain::PasswordPolicy;

/// What every handler can reach, shared across actix workers.
pub struct AppState {
    pub authentication: Authentication,
    pub accounts: UserAccounts,
    pub sessions: SessionManagement,
    pub verification: EmailVerification,
    pub password_reset: PasswordReset,
    pub password_change: PasswordChange,
    pub email_change: EmailChange,
    pub password_policy: PasswordPolicy,
    /// Asked by `/health/ready`.
    pub probes: Vec<Arc<dyn DependencyProbe>>,
    /// Per-client limits of the routes (see `rate_limit::limited`).
    pub request_limits: RequestLimits,
}
