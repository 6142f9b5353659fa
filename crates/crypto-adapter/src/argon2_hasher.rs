use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use application::BoxError;
use application::ports::{HashError, PasswordHasher};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash as Phc, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use async_trait::async_trait;
use domain::{Password, PasswordHash};
use secrecy::{ExposeSecret, SecretString};
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
/// crate's defaults), run off the async workers behind a semaphore so a
/// login flood can neither stall other routes nor exhaust memory.
///
/// Hashes run on a small dedicated thread pool rather than tokio's
/// blocking pool: that pool spreads work over up to hundreds of threads,
/// and each thread's allocator arena keeps its own freed 19 MiB block
/// (measured: 780 MiB resident under a login flood). A fixed set of
/// threads reuses warm memory: fewer page faults, bounded footprint.
#[derive(Clone)]
pub struct Argon2Hasher {
    threads: Arc<rayon::ThreadPool>,
    permits: Arc<Semaphore>,
    queue_timeout: Duration,
    /// Verified against when the account does not exist, so unknown
    /// emails cost the same as wrong passwords.
    decoy: Arc<str>,
}

impl Argon2Hasher {
    pub fn new(settings: HasherSettings) -> Result<Self, HashError> {
        let size = settings.max_concurrent.max(1);
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(size)
            .thread_name(|index| format!("argon2-{index}"))
            // Jobs catch their own panics (see `run`); this is the last
            // line: without a handler rayon aborts the process.
            .panic_handler(|_| tracing::error!("a password hashing job panicked"))
            .build()
            .map_err(unexpected)?;
        // On a hashing thread, whose memory is reused anyway.
        let decoy = threads.install(|| hash_phc(b"decoy password for unknown accounts"))?;
        Ok(Self {
            threads: Arc::new(threads),
            permits: Arc::new(Semaphore::new(size)),
            queue_timeout: settings.queue_timeout,
            decoy: decoy.into(),
        })
    }

    /// Runs `work` on the hashing threads once a slot is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(unexpected)?;
        let (done, result) = tokio::sync::oneshot::channel();
        self.threads.spawn(move || {
            // A panic fails this one request (500), never the process.
            let outcome = catch_unwind(AssertUnwindSafe(work));
            // The receiver is gone only if the request was dropped.
            let _ = done.send(outcome);
            drop(permit);
        });
        result
            .await
            .map_err(unexpected)?
            .map_err(|_| HashError::Unexpected("a password hashing job panicked".into()))
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    #[tracing::instrument(level = "debug", name = "argon2.hash", skip_all)]
    async fn hash(&self, password: Password) -> Result<PasswordHash, HashError> {
        self.run(move || hash_phc(password.expose().as_bytes()).map(PasswordHash::new))
            .await?
    }

    #[tracing::instrument(level = "debug", name = "argon2.verify", skip_all)]
    async fn verify(
        &self,
        password: SecretString,
        stored: Option<PasswordHash>,
    ) -> Result<bool, HashError> {
        let exists = stored.is_some();
        let phc = stored.map_or_else(|| self.decoy.to_string(), |hash| hash.as_str().to_owned());
        let matches = self
            .run(move || verify_phc(password.expose_secret().as_bytes(), &phc))
            .await??;
        Ok(exists && matches)
    }
}

thread_local! {
    /// Each hashing thread's Argon2 working memory (19 MiB), reused from
    /// one hash to the next instead of allocated and freed every time.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn unexpected(error: impl Into<BoxError>) -> HashError {
    HashError::Unexpected(error.into())
}

/// A stored hash that cannot be read; the parser's error is the source.
#[derive(Debug, thiserror::Error)]
#[error("the stored password hash is unreadable")]
struct UnreadableHash(#[source] BoxError);

fn unreadable(error: impl Into<BoxError>) -> HashError {
    unexpected(UnreadableHash(error.into()))
}

/// Runs Argon2 into `out` using this thread's reusable memory.
fn argon2_into(
    argon: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), HashError> {
    let blocks = argon.params().block_count();
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon
            .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
            .map_err(unexpected)
    })
}

/// A new Argon2id hash with the default (OWASP minimum) parameters, as a
/// PHC string identical to what `argon2::PasswordHasher` would produce.
fn hash_phc(password: &[u8]) -> Result<String, HashError> {
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(&argon, password, &salt, &mut out)?;
    let phc = Phc {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(unexpected)?,
        salt: Some(Salt::new(&salt).map_err(unexpected)?),
        hash: Some(Output::new(&out).map_err(unexpected)?),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a stored PHC string, with the algorithm,
/// version and parameters recorded in it; compares in constant time.
fn verify_phc(password: &[u8], stored: &str) -> Result<bool, HashError> {
    let phc = Phc::new(stored).map_err(unreadable)?;
    let algorithm = Algorithm::try_from(phc.algorithm.as_str()).map_err(unreadable)?;
    let version = phc
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(unreadable)?
        .unwrap_or_default();
    let params = Params::try_from(&phc).map_err(unreadable)?;
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return Err(unreadable("no salt or output"));
    };
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let out = &mut buffer[..expected.len()];
    argon2_into(
        &Argon2::new(algorithm, version, params),
        password,
        salt,
        out,
    )?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(out).map_err(unexpected)? == *expected)
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
    async fn reads_and_writes_the_argon2_crates_own_phc_strings() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

        let hasher = hasher();
        let theirs = Argon2::default()
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        assert!(
            hasher
                .verify(
                    "correct horse".into(),
                    Some(PasswordHash::new(theirs.clone()))
                )
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("wrong".into(), Some(PasswordHash::new(theirs)))
                .await
                .unwrap()
        );

        let password = Password::parse("correct horse", PasswordPolicy::default()).unwrap();
        let ours = hasher.hash(password).await.unwrap();
        let parsed = Phc::new(ours.as_str()).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
    }

    /// Rayon aborts the process when a job panics.
    #[tokio::test]
    async fn a_panic_in_a_hashing_job_fails_that_call_only() {
        let hasher = Argon2Hasher::new(HasherSettings {
            max_concurrent: 1,
            queue_timeout: Duration::from_secs(5),
        })
        .unwrap();
        let result = hasher
            .run(|| -> Result<bool, HashError> { panic!("injected") })
            .await;
        assert!(matches!(result, Err(HashError::Unexpected(_))));
        // The slot was given back and the pool still works.
        assert!(!hasher.verify("x".into(), None).await.unwrap());
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
