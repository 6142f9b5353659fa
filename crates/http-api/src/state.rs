use std::sync::Arc;

use application::Auth;
use application::ports::DependencyProbe;
use domain::PasswordPolicy;

use crate::metrics::PoolGauge;

/// What every handler can reach, shared across actix workers.
pub struct AppState {
    pub auth: Auth,
    pub password_policy: PasswordPolicy,
    /// Asked by `/health/ready`.
    pub probes: Vec<Arc<dyn DependencyProbe>>,
    /// The pools to report. The public app does not read them: the binary
    /// hands them to [`crate::metrics::serve_metrics`].
    pub pools: Vec<PoolGauge>,
}
