use std::sync::Arc;

use application::Auth;
use application::ports::DependencyProbe;
use domain::PasswordPolicy;

/// What every handler can reach, shared across actix workers.
pub struct AppState {
    pub auth: Auth,
    pub password_policy: PasswordPolicy,
    /// Asked by `/health/ready`.
    pub probes: Vec<Arc<dyn DependencyProbe>>,
}
