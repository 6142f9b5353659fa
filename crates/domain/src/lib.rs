//! Entities and rules of the service. No I/O, no async: every type here is
//! valid by construction, so code that holds one never re-checks it.

mod audit;
mod characters;
mod device_token;
mod email;
mod mfa;
mod one_time_secret;
mod password;
mod session;
mod signing_key;
mod token;
mod user;
mod username;

pub use audit::{
    AuditEventKind, DEFAULT_AUDIT_RETENTION, LoginFailure, UnknownAuditEventKind,
    UnknownLoginFailure, address_digest, audit_purge_cutoff,
};
pub use characters::refused_character_class;
pub use device_token::{DeviceToken, MAX_DEVICE_TOKENS_PER_USER};
pub use email::{EmailAddress, InvalidEmail};
pub use mfa::{
    AssuranceLevel, AuthMethods, InvalidRecoveryCode, InvalidTotpCode, MFA_CHALLENGE_LIFETIME,
    MFA_CHALLENGE_TRIES, MfaChallengeToken, RECOVERY_CODE_COUNT, RecoveryCode, TimeStep, TotpCode,
    TotpSecret, UnknownAuthMethods,
};
pub use one_time_secret::{
    CODE_FAILURE_WINDOW, CodeFailures, CodePurpose, MAX_CODE_ATTEMPTS, MAX_CODE_FAILURES,
    OneTimeSecret, SecretDigests, SecretProof, SecretPurpose, code_digest, token_digest,
};
pub use password::{InvalidPassword, Password, PasswordHash, PasswordPolicy};
pub use session::{
    ClientDevice, LogoutScope, RefreshDecision, RefreshPolicy, Session, UnknownLogoutScope,
};
pub use signing_key::{
    InvalidKeyId, KeyChange, KeyId, KeyLifecycle, KeyPolicy, KeyRefusal, KeyRing, KeyState,
    SigningAlgorithm, UnknownKeyState, UnknownSigningAlgorithm,
};
pub use token::{SessionId, TokenClaims, TokenId, TokenKind, TokenRejection};
pub use user::{NewUser, Role, UnknownRole, User, UserId};
pub use username::{InvalidUsername, Username};
