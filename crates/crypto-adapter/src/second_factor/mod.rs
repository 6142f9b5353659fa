//! The second factor's cryptography ([`CryptoSecondFactor`], the
//! `SecondFactorCrypto` port): new TOTP secrets, recovery codes and
//! `mfa_token`s from the OS's random source, TOTP secrets sealed at rest
//! ([`MfaEncryptionKeys`]), and the enrolment URI and QR code.

mod provisioning;
mod sealing;
mod setup_error;

use application::ports::{
    Provisioning, SealedTotpSecret, SecondFactorCrypto, SecondFactorCryptoError,
};
use domain::{MfaChallengeToken, RECOVERY_CODE_COUNT, RecoveryCode, TotpSecret, UserId};

pub use sealing::MfaEncryptionKeys;
pub use setup_error::SecondFactorSetupError;

use provisioning::Issuer;

/// Implements `SecondFactorCrypto`.
#[derive(Debug)]
pub struct CryptoSecondFactor {
    keys: MfaEncryptionKeys,
    issuer: Issuer,
}

impl CryptoSecondFactor {
    /// `issuer` is the name authenticator apps show above the account
    /// (e.g. "auth-service").
    pub fn new(keys: MfaEncryptionKeys, issuer: &str) -> Result<Self, SecondFactorSetupError> {
        Ok(Self {
            keys,
            issuer: Issuer::new(issuer)?,
        })
    }
}

impl SecondFactorCrypto for CryptoSecondFactor {
    fn new_totp_secret(&self) -> TotpSecret {
        TotpSecret::from_bytes(rand::random())
    }

    fn new_recovery_codes(&self) -> Vec<RecoveryCode> {
        // Two equal codes in 128 random bits never happen in practice, but
        // a set with one would leave the user a code short without saying.
        let mut codes: Vec<RecoveryCode> = Vec::with_capacity(RECOVERY_CODE_COUNT);
        while codes.len() < RECOVERY_CODE_COUNT {
            let code = RecoveryCode::from_entropy(rand::random());
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        codes
    }

    fn new_challenge_token(&self) -> MfaChallengeToken {
        MfaChallengeToken::from_entropy(rand::random())
    }

    fn seal(
        &self,
        user: UserId,
        secret: &TotpSecret,
    ) -> Result<SealedTotpSecret, SecondFactorCryptoError> {
        self.keys.seal(user, secret)
    }

    fn open(
        &self,
        user: UserId,
        sealed: &SealedTotpSecret,
    ) -> Result<TotpSecret, SecondFactorCryptoError> {
        self.keys.open(user, sealed)
    }

    fn provisioning(
        &self,
        account: &str,
        secret: &TotpSecret,
    ) -> Result<Provisioning, SecondFactorCryptoError> {
        provisioning::provisioning(&self.issuer, account, secret)
    }
}

#[cfg(test)]
mod tests;
