use std::sync::Arc;

use application::ports::DependencyProbe;
use application::{Authentication, EmailVerification, SessionManagement, UserAccounts};
use domain::PasswordPolicy;

/// What every handler can reach, shared across actix workers.
pub struct AppState {
    pub authentication: Authentication,
    pub accounts: UserAccounts,
    pub sessions: SessionManagement,
    pub verification: EmailVerification,
    pub password_policy: PasswordPolicy,
    /// Asked by `/health/ready`.
    pub probes: Vec<Arc<dyn DependencyProbe>>,
}
