//! What each use-case error means for the client: one small impl per error
//! type, next to nothing else. A new error is one impl here.

use application::{
    AuthenticateError, ChangePasswordError, CompleteLoginError, ConfirmEmailChangeError,
    ConfirmTotpError, DependencyError, DisableTotpError, EnrolTotpError, ForgotPasswordError,
    LoginError, LogoutError, RateLimited, RefreshError, RegisterError, ReplaceRecoveryCodesError,
    RequestEmailChangeError, ResendError, ResetPasswordError, SecondFactorStatusError,
    SecurityEventsError, SessionAccessError, UndoEmailChangeError, UserAccessError,
    VerifyEmailError,
};
use domain::TokenRejection;

use super::meaning::{HttpMeaning, Meaning};

impl HttpMeaning for TokenRejection {
    const OPERATION: &'static str = "token check";

    fn meaning(&self) -> Meaning {
        Meaning::Token(*self)
    }
}

impl HttpMeaning for RateLimited {
    const OPERATION: &'static str = "rate limit check";

    fn meaning(&self) -> Meaning {
        Meaning::RateLimited(*self)
    }
}

impl HttpMeaning for DependencyError {
    const OPERATION: &'static str = "request";

    fn meaning(&self) -> Meaning {
        Meaning::of_dependency(self)
    }
}

impl HttpMeaning for RegisterError {
    const OPERATION: &'static str = "registration";

    fn meaning(&self) -> Meaning {
        match self {
            RegisterError::EmailTaken => Meaning::EmailTaken,
            RegisterError::InvalidInput(_) => Meaning::UnstorableInput,
            RegisterError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for LoginError {
    const OPERATION: &'static str = "login";

    fn meaning(&self) -> Meaning {
        match self {
            LoginError::InvalidCredentials => Meaning::InvalidCredentials,
            LoginError::EmailNotVerified => Meaning::EmailNotVerified,
            LoginError::Banned => Meaning::UserBanned,
            LoginError::Throttled(limited) => Meaning::RateLimited(*limited),
            LoginError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for AuthenticateError {
    const OPERATION: &'static str = "token check";

    fn meaning(&self) -> Meaning {
        match self {
            AuthenticateError::Token(rejection) => Meaning::Token(*rejection),
            AuthenticateError::SecondFactorRequired => Meaning::SecondFactorRequired,
            AuthenticateError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for RefreshError {
    const OPERATION: &'static str = "refresh";

    fn meaning(&self) -> Meaning {
        match self {
            RefreshError::Token(rejection) => Meaning::Token(*rejection),
            RefreshError::Reused => Meaning::RefreshTokenReused,
            RefreshError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for LogoutError {
    const OPERATION: &'static str = "logout";

    fn meaning(&self) -> Meaning {
        match self {
            LogoutError::Token(rejection) => Meaning::Token(*rejection),
            LogoutError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for UserAccessError {
    const OPERATION: &'static str = "user access";

    fn meaning(&self) -> Meaning {
        match self {
            UserAccessError::Token(rejection) => Meaning::Token(*rejection),
            UserAccessError::Forbidden => Meaning::Forbidden,
            UserAccessError::UserNotFound => Meaning::UserNotFound,
            UserAccessError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for SessionAccessError {
    const OPERATION: &'static str = "session access";

    fn meaning(&self) -> Meaning {
        match self {
            SessionAccessError::Token(rejection) => Meaning::Token(*rejection),
            SessionAccessError::Forbidden => Meaning::Forbidden,
            SessionAccessError::UserNotFound => Meaning::UserNotFound,
            SessionAccessError::SessionNotFound => Meaning::SessionNotFound,
            SessionAccessError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for VerifyEmailError {
    const OPERATION: &'static str = "email verification";

    fn meaning(&self) -> Meaning {
        match self {
            VerifyEmailError::InvalidOrExpired => Meaning::InvalidOrExpiredSecret,
            VerifyEmailError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for ResendError {
    const OPERATION: &'static str = "resending the verification";

    fn meaning(&self) -> Meaning {
        match self {
            ResendError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for ForgotPasswordError {
    const OPERATION: &'static str = "sending a password reset";

    fn meaning(&self) -> Meaning {
        match self {
            ForgotPasswordError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for ResetPasswordError {
    const OPERATION: &'static str = "password reset";

    fn meaning(&self) -> Meaning {
        match self {
            ResetPasswordError::InvalidOrExpired => Meaning::InvalidOrExpiredSecret,
            ResetPasswordError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for ChangePasswordError {
    const OPERATION: &'static str = "password change";

    fn meaning(&self) -> Meaning {
        match self {
            ChangePasswordError::Token(rejection) => Meaning::Token(*rejection),
            ChangePasswordError::InvalidCurrentPassword => Meaning::InvalidCurrentPassword,
            ChangePasswordError::SamePassword => Meaning::Invalid {
                field: "new_password",
                message: "The new password must differ from the current one.",
            },
            ChangePasswordError::RateLimited(limited) => Meaning::RateLimited(*limited),
            ChangePasswordError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for RequestEmailChangeError {
    const OPERATION: &'static str = "email change request";

    fn meaning(&self) -> Meaning {
        match self {
            RequestEmailChangeError::Token(rejection) => Meaning::Token(*rejection),
            RequestEmailChangeError::InvalidCurrentPassword => Meaning::InvalidCurrentPassword,
            RequestEmailChangeError::RateLimited(limited) => Meaning::RateLimited(*limited),
            RequestEmailChangeError::SameAddress => Meaning::Invalid {
                field: "new_email",
                message: "This is already the email address of the account.",
            },
            RequestEmailChangeError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for ConfirmEmailChangeError {
    const OPERATION: &'static str = "email change confirmation";

    fn meaning(&self) -> Meaning {
        match self {
            ConfirmEmailChangeError::InvalidOrExpired => Meaning::InvalidOrExpiredSecret,
            ConfirmEmailChangeError::EmailTaken => Meaning::EmailTaken,
            ConfirmEmailChangeError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for UndoEmailChangeError {
    const OPERATION: &'static str = "undoing an email change";

    fn meaning(&self) -> Meaning {
        match self {
            UndoEmailChangeError::InvalidOrExpired => Meaning::InvalidOrExpiredSecret,
            UndoEmailChangeError::EmailTaken => Meaning::EmailTaken,
            UndoEmailChangeError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for EnrolTotpError {
    const OPERATION: &'static str = "two-factor enrolment";

    fn meaning(&self) -> Meaning {
        match self {
            EnrolTotpError::AlreadyEnabled => Meaning::MfaAlreadyEnabled,
            EnrolTotpError::Token(rejection) => Meaning::Token(*rejection),
            EnrolTotpError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for ConfirmTotpError {
    const OPERATION: &'static str = "two-factor confirmation";

    fn meaning(&self) -> Meaning {
        match self {
            ConfirmTotpError::InvalidOrExpired => Meaning::InvalidOrExpiredSecret,
            ConfirmTotpError::AlreadyEnabled => Meaning::MfaAlreadyEnabled,
            ConfirmTotpError::Token(rejection) => Meaning::Token(*rejection),
            ConfirmTotpError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for SecondFactorStatusError {
    const OPERATION: &'static str = "two-factor status";

    fn meaning(&self) -> Meaning {
        match self {
            SecondFactorStatusError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for ReplaceRecoveryCodesError {
    const OPERATION: &'static str = "recovery code replacement";

    fn meaning(&self) -> Meaning {
        match self {
            ReplaceRecoveryCodesError::NotEnabled => Meaning::MfaNotEnabled,
            ReplaceRecoveryCodesError::Token(rejection) => Meaning::Token(*rejection),
            ReplaceRecoveryCodesError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for DisableTotpError {
    const OPERATION: &'static str = "two-factor disabling";

    fn meaning(&self) -> Meaning {
        match self {
            DisableTotpError::NotEnabled => Meaning::MfaNotEnabled,
            DisableTotpError::Token(rejection) => Meaning::Token(*rejection),
            DisableTotpError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for CompleteLoginError {
    const OPERATION: &'static str = "login second step";

    fn meaning(&self) -> Meaning {
        match self {
            CompleteLoginError::InvalidOrExpired => Meaning::InvalidOrExpiredSecret,
            CompleteLoginError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for SecurityEventsError {
    const OPERATION: &'static str = "security events";

    fn meaning(&self) -> Meaning {
        match self {
            SecurityEventsError::InvalidLimit => Meaning::Invalid {
                field: "limit",
                message: "must be an integer from 1 to 200",
            },
            SecurityEventsError::InvalidCursor => Meaning::Invalid {
                field: "cursor",
                message: "is not a cursor this service handed out",
            },
            SecurityEventsError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}
