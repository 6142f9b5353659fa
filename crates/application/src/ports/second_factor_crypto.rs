//! The cryptography of the second factor: new TOTP secrets and recovery
//! codes, the sealing of secrets at rest (`MFA_ENCRYPTION_KEY`, with the
//! previous key still opening what it sealed), and what an authenticator
//! app is shown (the `otpauth://` URI and its QR code). Pure computation:
//! not async.

use domain::{MfaChallengeToken, RecoveryCode, TotpSecret, UserId};

use super::BoxError;

/// A TOTP secret as stored: the id of the key that sealed it, the nonce,
/// and the ciphertext with its tag. Opaque here.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedTotpSecret {
    /// Names the encryption key (not the key itself), so a rotated key's
    /// secrets are opened with `MFA_ENCRYPTION_KEY_PREVIOUS`.
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedTotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedTotpSecret")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecondFactorCryptoError {
    /// Sealed under a key this instance does not hold (neither
    /// `MFA_ENCRYPTION_KEY` nor `MFA_ENCRYPTION_KEY_PREVIOUS`).
    #[error("the TOTP secret was sealed with key {0}, which this instance does not hold")]
    UnknownKey(String),
    /// Another user's secret, or altered.
    #[error("the TOTP secret does not open")]
    DoesNotOpen,
    #[error("the second-factor cryptography failed")]
    Failed(#[source] BoxError),
}

/// What an authenticator app is given to enrol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioning {
    /// `otpauth://totp/{issuer}:{account}?secret=...&issuer=...`
    pub otpauth_uri: String,
    /// An SVG image of the URI's QR code, standalone (no external refs).
    pub qr_svg: String,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecondFactorCrypto: Send + Sync {
    /// A new secret: 20 bytes from the operating system's random source.
    fn new_totp_secret(&self) -> TotpSecret;

    /// [`domain::RECOVERY_CODE_COUNT`] new random codes.
    fn new_recovery_codes(&self) -> Vec<RecoveryCode>;

    /// A new random `mfa_token`.
    fn new_challenge_token(&self) -> MfaChallengeToken;

    /// Seals `secret` of `user` under `MFA_ENCRYPTION_KEY`, the user bound
    /// in as associated data (a ciphertext copied to another user does not
    /// open).
    fn seal(
        &self,
        user: UserId,
        secret: &TotpSecret,
    ) -> Result<SealedTotpSecret, SecondFactorCryptoError>;

    /// Opens a secret sealed by [`Self::seal`] for `user`, with whichever
    /// held key its `key_id` names.
    fn open(
        &self,
        user: UserId,
        sealed: &SealedTotpSecret,
    ) -> Result<TotpSecret, SecondFactorCryptoError>;

    /// The URI and QR code for `account` (the user's email address).
    fn provisioning(
        &self,
        account: &str,
        secret: &TotpSecret,
    ) -> Result<Provisioning, SecondFactorCryptoError>;
}
