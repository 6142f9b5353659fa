use std::sync::Arc;
use std::time::Duration;

use application::ports::{HashError, PasswordHasher};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash as PhcHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use async_trait::async_trait;
use domain::{Password, PasswordHash};
use tokio::sync::Semaphore;

#[derive(Debug, Clone, Copy)]
pub struct HasherSettings {
    /// Hashes running at once. Each holds 19 MiB, and each occupies a core
    /// for ~20 ms, so more than the core count only adds memory.
    pub max_concurrent: usize,
    /// How long a request may wait for a free slot before it is told the
    /// service is busy (503) instead of queueing without bound.
    pub queue_timeout: Duration,
}

impl Default for HasherSettings {
    fn default() -> Self {
        Self {
            max_concurrent: std::thread::available_parallelism().map_or(2, usize::from),
            queue_timeout: Duration::from_secs(5),
        }
    }
}

/// Argon2id with OWASP's minimum parameters (m=19456 KiB, t=2, p=1: the
/// crate's defaults), run on the blocking pool behind a semaphore so a
/// login flood cannot stall the async workers or exhaust memory.
#[derive(Clone)]
pub struct Argon2Hasher {
    permits: Arc<Semaphore>,
    queue_timeout: Duration,
    /// Verified against when the account does not exist, so unknown
    /// emails cost the same as wrong passwords.
    decoy: Arc<str>,
}

impl Argon2Hasher {
    pub fn new(settings: HasherSettings) -> Result<Self, HashError> {
        let decoy = Argon2::default()
            .hash_password(b"decoy password for unknown accounts")
            .map_err(|error| HashError::Unexpected(error.to_string()))?
            .to_string();
        Ok(Self {
            permits: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
            queue_timeout: settings.queue_timeout,
            decoy: decoy.into(),
        })
    }

    /// Runs `work` on the blocking pool once a hashing slot is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Unexpected("hasher closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(|error| HashError::Unexpected(error.to_string()))
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: Password) -> Result<PasswordHash, HashError> {
        self.run(move || {
            Argon2::default()
                .hash_password(password.expose().as_bytes())
                .map(|hash| PasswordHash::new(hash.to_string()))
                .map_err(|error| HashError::Unexpected(error.to_string()))
        })
        .await?
    }

    async fn verify(
        &self,
        password: String,
        stored: Option<PasswordHash>,
    ) -> Result<bool, HashError> {
        let exists = stored.is_some();
        let phc = stored.map_or_else(|| self.decoy.to_string(), |hash| hash.as_str().to_owned());
        let matches = self
            .run(move || {
                let parsed = PhcHash::new(&phc)
                    .map_err(|error| HashError::Unexpected(format!("stored hash: {error}")))?;
                Ok::<_, HashError>(
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok(),
                )
            })
            .await??;
        Ok(exists && matches)
    }
}

#[cfg(test)]
mod tests {
    use domain::PasswordPolicy;

    use super::*;

    fn hasher() -> Argon2Hasher {
        Argon2Hasher::new(HasherSettings::default()).unwrap()
    }

    #[tokio::test]
    async fn hashes_with_argon2id_and_owasp_parameters() {
        let password = Password::parse("correct horse", PasswordPolicy::default()).unwrap();
        let hash = hasher().hash(password).await.unwrap();
        assert!(
            hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_str()
        );
    }

    #[tokio::test]
    async fn verifies_the_right_password_only() {
        let hasher = hasher();
        let password = Password::parse("correct horse", PasswordPolicy::default()).unwrap();
        let hash = hasher.hash(password).await.unwrap();
        assert!(
            hasher
                .verify("correct horse".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("wrong horse".into(), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_missing_account_never_matches() {
        let hasher = hasher();
        assert!(
            !hasher
                .verify("decoy password for unknown accounts".into(), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_full_queue_reports_busy_instead_of_waiting_forever() {
        let hasher = Argon2Hasher::new(HasherSettings {
            max_concurrent: 1,
            queue_timeout: Duration::from_millis(10),
        })
        .unwrap();
        let _held = hasher.permits.clone().acquire_owned().await.unwrap();
        let result = hasher.verify("x".into(), None).await;
        assert!(matches!(result, Err(HashError::Busy)));
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_an_error_not_a_match() {
        let result = hasher()
            .verify(
                "x".into(),
                Some(PasswordHash::new("not a phc string".into())),
            )
            .await;
        assert!(matches!(result, Err(HashError::Unexpected(_))));
    }
}
