//! Use cases of the service and the ports they need.
//!
//! Every port is an async trait owned here and implemented by an adapter
//! crate. With the `mocks` feature (and in this crate's own tests) each port
//! has a mockall mock, `Mock<PortName>`, so use cases are tested without I/O.

pub mod delivery;
pub mod email;
pub mod error;
pub mod error_chain;
pub mod outbox_relay;
pub mod ports;
pub mod rate_limits;
pub mod use_cases;

pub use email::{Email, EmailJob};
pub use error::{
    AdminUserActionError, AuditTrailError, AuthenticateError, BanUserError, BoxError,
    ChangePasswordError, CompleteLoginError, ConfirmEmailChangeError, ConfirmTotpError,
    CreateUserError, Dependency, DependencyError, DisableTotpError, EnrolTotpError,
    ForgotPasswordError, LoginError, LogoutError, PromoteToAdminError, RefreshError, RegisterError,
    RelayError, ReplaceRecoveryCodesError, ReplayError, RequestEmailChangeError, ResendError,
    ResetPasswordError, SearchUsersError, SecondFactorStatusError, SecurityEventsError,
    SessionAccessError, UndoEmailChangeError, UpdateUserError, UserAccessError, VerifyEmailError,
};
pub use error_chain::ErrorChain;
pub use outbox_relay::{OutboxRelay, RelaySettings};
pub use use_cases::{
    AccountEmailSettings, AccountPorts, AdminActions, AdminCaller, Administration, AuditTrail,
    AuditTrailRequest, Authentication, AuthenticationPorts, BanRequest, EmailChange,
    EmailVerification, LoginOutcome, LoginRequest, LoginTokens, NewUserByAdmin, PasswordChange,
    PasswordReset, Purge, PurgeReport, PurgeSettings, RefreshedTokens, Registration,
    ReplaySettings, RevocationMarks, RevocationReplay, SecondFactor, SecondFactorChallenge,
    SecondFactorPorts, SecondFactorProof, SecondStepRequest, SecretMail, SecurityEvents,
    SessionManagement, SessionSettings, SigningKeyError, SigningKeys, TokenLifetimes,
    TokenRequirement, TotpEnrolmentKit, UserAccounts, UserAdministration, UserPage,
    UserSearchRequest,
};
// Rate limits.
pub use rate_limits::RateLimited;
pub use use_cases::{
    Allowance, Attempt, AttemptClient, AttemptOutcome, AttemptSubject, LoginAttempts,
    LoginThrottles, RequestLimits,
};
