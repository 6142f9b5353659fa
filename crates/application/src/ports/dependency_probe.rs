use async_trait::async_trait;

use super::BoxError;

/// Why a dependency did not answer: the adapter's own error, whose
/// message and sources this shows as they are.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ProbeError(pub BoxError);

/// A dependency that `/health/ready` asks whether it answers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DependencyProbe: Send + Sync {
    /// A short, stable name for reports: `postgres`, `redis`.
    fn name(&self) -> &'static str;

    async fn ping(&self) -> Result<(), ProbeError>;
}
