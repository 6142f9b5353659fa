use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProbeError(pub String);

/// A dependency that `/health/ready` asks whether it answers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DependencyProbe: Send + Sync {
    /// A short, stable name for reports: `postgres`, `redis`.
    fn name(&self) -> &'static str;

    async fn ping(&self) -> Result<(), ProbeError>;
}
