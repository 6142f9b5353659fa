//! Where the second factor lives, beside the users it protects: each
//! user's TOTP secret (sealed) and the last time step it accepted, the
//! digests of its recovery codes, and the `mfa_token`s of logins waiting
//! for their second step. Every rule that must hold under concurrency is
//! one atomic statement or one transaction here: a time step is accepted
//! once, a recovery code used once, an `mfa_token` completes one login.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{ClientDevice, SessionId, TimeStep, UserId};

use super::{BoxError, EndedSession, NewAuditEvent, SealedTotpSecret, SessionEpoch};
use crate::EmailJob;

#[derive(Debug, thiserror::Error)]
pub enum SecondFactorStoreError {
    /// The store did not answer in time or refused the connection.
    #[error("the second-factor store is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the second-factor store failed")]
    Unexpected(#[source] BoxError),
}

/// A user's TOTP factor as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTotp {
    pub sealed: SealedTotpSecret,
    /// `None` while the enrolment waits for its first code.
    pub enabled_at: Option<DateTime<Utc>>,
    /// The last step a code was accepted for: no code of it, or of any
    /// step before it, is accepted again.
    pub last_step: Option<TimeStep>,
}

/// How starting an enrolment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpEnrolment {
    /// The new secret is stored, pending (replacing a pending one).
    Started,
    /// The user already has TOTP enabled: nothing changed.
    AlreadyEnabled,
}

/// Turning a pending enrolment on, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnableTotp {
    pub user: UserId,
    /// The step of the code that confirmed it, taken as used.
    pub step: TimeStep,
    /// The digests of the first recovery codes (salted with the user).
    pub recovery_codes: Vec<[u8; 32]>,
    /// The session that enabled it: every other session of the user ends.
    pub keep: SessionId,
    /// "Two-factor authentication was turned on", written to the outbox.
    pub notice: EmailJob,
    /// Its `mfa.enabled`, written in the same transaction.
    pub audit: NewAuditEvent,
    pub now: DateTime<Utc>,
}

/// How [`SecondFactorStore::enable_totp`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TotpEnabled {
    /// Enabled; these sessions ended (their revocation marks are still to
    /// be written).
    Enabled { ended: Vec<EndedSession> },
    /// No pending enrolment (none started, or already enabled), or its
    /// step was taken meanwhile: nothing changed.
    Refused,
}

/// Turning TOTP off, in one transaction: the secret and the recovery
/// codes are deleted, every other session of the user ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisableTotp {
    pub user: UserId,
    pub keep: SessionId,
    /// "Two-factor authentication was turned off".
    pub notice: EmailJob,
    /// Its `mfa.disabled`, written in the same transaction.
    pub audit: NewAuditEvent,
    pub now: DateTime<Utc>,
}

/// What `GET /users/me/mfa` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SecondFactorStatus {
    /// `Some` once TOTP is enabled (a pending enrolment is not).
    pub totp_enabled_at: Option<DateTime<Utc>>,
    pub recovery_codes_remaining: u32,
}

/// Builds the "A recovery code was used" email once the store knows how
/// many codes are left.
pub type RecoveryNotice = Box<dyn FnOnce(u32) -> EmailJob + Send>;

/// A login whose password was right, waiting for its second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChallenge {
    /// SHA-256 of the `mfa_token`: the token itself is never stored.
    pub digest: [u8; 32],
    pub user: UserId,
    /// The user's session counter when the password was checked: a
    /// logout everywhere or a reset since then means no session opens.
    pub epoch: SessionEpoch,
    /// The client that logged in, for the session the second step opens.
    pub device: ClientDevice,
    /// The digest of the device token the client sent with its password,
    /// when it was recognised: its failed second steps are throttled on
    /// that device's own count.
    pub known_device: Option<[u8; 32]>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A live challenge, as [`SecondFactorStore::challenge`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub user: UserId,
    pub epoch: SessionEpoch,
    pub device: ClientDevice,
    pub known_device: Option<[u8; 32]>,
    pub expires_at: DateTime<Utc>,
    /// Wrong codes it took so far (it dies at `MFA_CHALLENGE_TRIES`).
    pub failures: i32,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SecondFactorStore: Send + Sync {
    /// Stores `sealed` as `user`'s pending TOTP secret, replacing a pending
    /// one; unless TOTP is already enabled.
    async fn begin_totp(
        &self,
        user: UserId,
        sealed: SealedTotpSecret,
        now: DateTime<Utc>,
    ) -> Result<TotpEnrolment, SecondFactorStoreError>;

    /// The user's TOTP factor, pending or enabled.
    async fn totp(&self, user: UserId) -> Result<Option<StoredTotp>, SecondFactorStoreError>;

    /// Enables the pending factor taking `step` as used, stores the
    /// recovery codes, ends the other sessions and queues the notice, in
    /// one transaction.
    async fn enable_totp(&self, enable: EnableTotp) -> Result<TotpEnabled, SecondFactorStoreError>;

    /// Takes `step` for `user`'s enabled factor in one atomic update:
    /// `true` only if it is after the last step taken. Of any number of
    /// concurrent calls with one step, exactly one gets `true`.
    async fn accept_step(
        &self,
        user: UserId,
        step: TimeStep,
    ) -> Result<bool, SecondFactorStoreError>;

    /// Disables TOTP; `None` (and nothing changed) when it was not enabled.
    async fn disable_totp(
        &self,
        disable: DisableTotp,
    ) -> Result<Option<Vec<EndedSession>>, SecondFactorStoreError>;

    async fn status(&self, user: UserId) -> Result<SecondFactorStatus, SecondFactorStoreError>;

    /// Marks the unused code of this digest used, in one atomic update, and
    /// queues `notice` with the number of codes left and writes `audit`
    /// (its `mfa.recovery_code_used`), in the same transaction. `None`
    /// (nothing written) when no unused code has that digest.
    async fn use_recovery_code(
        &self,
        user: UserId,
        digest: [u8; 32],
        notice: RecoveryNotice,
        audit: NewAuditEvent,
        now: DateTime<Utc>,
    ) -> Result<Option<u32>, SecondFactorStoreError>;

    /// Replaces every recovery code of `user` (used or not) with these
    /// and queues `notice` ("New recovery codes were made"), in one
    /// transaction; `false` (nothing changed) when TOTP is not enabled.
    async fn replace_recovery_codes(
        &self,
        user: UserId,
        digests: Vec<[u8; 32]>,
        notice: EmailJob,
        now: DateTime<Utc>,
    ) -> Result<bool, SecondFactorStoreError>;

    async fn open_challenge(&self, challenge: NewChallenge) -> Result<(), SecondFactorStoreError>;

    /// The challenge of this digest, if it is live at `now` (not expired,
    /// fewer than `MFA_CHALLENGE_TRIES` wrong codes, not used).
    async fn challenge(
        &self,
        digest: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<Challenge>, SecondFactorStoreError>;

    /// Counts a wrong code against the challenge (which dies at
    /// `MFA_CHALLENGE_TRIES`) and, for a TOTP code, against the user's
    /// code budget (`CodePurpose::SecondFactor`), in one transaction.
    async fn record_wrong_code(
        &self,
        digest: [u8; 32],
        user: UserId,
        counts_toward_budget: bool,
        now: DateTime<Utc>,
    ) -> Result<(), SecondFactorStoreError>;

    /// Whether `user` has spent its budget of wrong second-factor codes
    /// at `now` (then every TOTP code is refused, right or wrong).
    async fn budget_exhausted(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, SecondFactorStoreError>;

    /// Uses the challenge up, in one atomic delete: of concurrent calls,
    /// one gets it. `None` when it is gone, dead or expired.
    async fn consume_challenge(
        &self,
        digest: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<Challenge>, SecondFactorStoreError>;
}
