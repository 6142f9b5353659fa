//! The second factor: TOTP codes (RFC 6238) from an authenticator app,
//! the single-use recovery codes that stand in for it, the token that
//! carries a half-done login to its second step, and the assurance a
//! session reached (`aal`, `amr`).

mod assurance;
mod challenge;
mod recovery_code;
mod totp;

pub use assurance::{AssuranceLevel, AuthMethods, UnknownAuthMethods};
pub use challenge::{MFA_CHALLENGE_LIFETIME, MFA_CHALLENGE_TRIES, MfaChallengeToken};
pub use recovery_code::{InvalidRecoveryCode, RECOVERY_CODE_COUNT, RecoveryCode};
pub use totp::{InvalidTotpCode, TimeStep, TotpCode, TotpSecret};

#[cfg(test)]
mod tests;
