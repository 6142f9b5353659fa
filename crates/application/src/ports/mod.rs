//! The ports: what the use cases need from the outside world. Each has its
//! own error type, keeping the adapter's error as its source; the use cases
//! map them into their own errors (see [`crate::error`]).

mod audit_log;
mod background_tasks;
mod clock;
mod data_purge;
mod dependency_probe;
mod email_outbox;
mod email_queue;
mod one_time_secrets;
mod outbox_signal;
mod password_hasher;
mod rate_limiter;
mod revocation_mark_queue;
mod second_factor_crypto;
mod second_factor_store;
mod session_repository;
mod signing_keys;
mod token_codec;
mod token_revocations;
mod user_admin_store;
mod user_directory;
mod user_repository;

pub use audit_log::{
    AuditCursor, AuditEvent, AuditLog, AuditLogError, AuditPage, AuditQuery, InvalidAuditCursor,
    NewAuditEvent,
};
pub use background_tasks::{BackgroundTask, BackgroundTasks};
pub use clock::{Clock, SystemClock};
pub use data_purge::{DataPurge, PurgeStoreError, Purgeable, PurgedBatch};
pub use dependency_probe::{DependencyProbe, ProbeError};
pub use email_outbox::{EmailOutbox, OutboxError};
pub use email_queue::{EmailQueue, QueueError};
pub use one_time_secrets::{
    CompletedEmailChange, CompletedReset, EmailChangeOutcome, NewEmailChange, NewSecret, NewUndo,
    NoticeFor, OneTimeSecretStore, SecretGenerator, SecretStoreError,
};
pub use outbox_signal::OutboxSignal;
pub use password_hasher::{HashError, PasswordHasher};
pub use rate_limiter::{AttemptDecision, RateDecision, RateLimitError, RateLimiter};
pub use revocation_mark_queue::{MarkQueueError, QueuedMark, RevocationMarkQueue};
pub use second_factor_crypto::{
    Provisioning, SealedTotpSecret, SecondFactorCrypto, SecondFactorCryptoError,
};
pub use second_factor_store::{
    Challenge, DisableTotp, EnableTotp, NewChallenge, RecoveryNotice, SecondFactorStatus,
    SecondFactorStore, SecondFactorStoreError, StoredTotp, TotpEnabled, TotpEnrolment,
};
pub use session_repository::{
    EndedSession, NewDeviceAlert, NewSession, OpenedSession, SessionEpoch, SessionRepository,
    SessionStoreError,
};
pub use signing_keys::{
    ForgedKey, KeyWorkshop, KeyWorkshopError, SealedPrivateKey, SigningKeyStore,
    SigningKeyStoreError, StoredSigningKey,
};
pub use token_codec::{TokenCodec, TokenEncodeError};
pub use token_revocations::{Revocation, RevocationError, TokenRevocations};
pub use user_admin_store::{NewAdminUser, UserAdminStore, UserChanges, UserUpdate};
pub use user_directory::{
    UserDirectory, UserSearch, UserStatus, UserSummary, indefinite_ban, shown_ban_end,
};
pub use user_repository::{RepositoryError, StoredCredentials, UserRepository};

/// Any error, boxed, as the source of a port error. Adapters put their
/// own error (a driver's, a pool's) here so nothing of the cause is lost.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[cfg(any(test, feature = "mocks"))]
pub use audit_log::MockAuditLog;
#[cfg(any(test, feature = "mocks"))]
pub use clock::MockClock;
#[cfg(any(test, feature = "mocks"))]
pub use data_purge::MockDataPurge;
#[cfg(any(test, feature = "mocks"))]
pub use dependency_probe::MockDependencyProbe;
#[cfg(any(test, feature = "mocks"))]
pub use email_outbox::MockEmailOutbox;
#[cfg(any(test, feature = "mocks"))]
pub use email_queue::MockEmailQueue;
#[cfg(any(test, feature = "mocks"))]
pub use one_time_secrets::{MockOneTimeSecretStore, MockSecretGenerator};
#[cfg(any(test, feature = "mocks"))]
pub use outbox_signal::MockOutboxSignal;
#[cfg(any(test, feature = "mocks"))]
pub use password_hasher::MockPasswordHasher;
#[cfg(any(test, feature = "mocks"))]
pub use rate_limiter::MockRateLimiter;
#[cfg(any(test, feature = "mocks"))]
pub use revocation_mark_queue::MockRevocationMarkQueue;
#[cfg(any(test, feature = "mocks"))]
pub use second_factor_crypto::MockSecondFactorCrypto;
#[cfg(any(test, feature = "mocks"))]
pub use second_factor_store::MockSecondFactorStore;
#[cfg(any(test, feature = "mocks"))]
pub use session_repository::MockSessionRepository;
#[cfg(any(test, feature = "mocks"))]
pub use signing_keys::{MockKeyWorkshop, MockSigningKeyStore};
#[cfg(any(test, feature = "mocks"))]
pub use token_codec::MockTokenCodec;
#[cfg(any(test, feature = "mocks"))]
pub use token_revocations::MockTokenRevocations;
#[cfg(any(test, feature = "mocks"))]
pub use user_admin_store::MockUserAdminStore;
#[cfg(any(test, feature = "mocks"))]
pub use user_directory::MockUserDirectory;
#[cfg(any(test, feature = "mocks"))]
pub use user_repository::MockUserRepository;
