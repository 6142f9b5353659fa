//! What the admin API's use-case errors mean for the client (the search,
//! the writes and the audit log), one small impl each, as in
//! `use_case_errors.rs` for the rest.

use application::{
    AdminUserActionError, AuditTrailError, BanUserError, CreateUserError, SearchUsersError,
    UpdateUserError,
};

use super::meaning::{HttpMeaning, Meaning};

impl HttpMeaning for SearchUsersError {
    const OPERATION: &'static str = "user search";

    fn meaning(&self) -> Meaning {
        match self {
            SearchUsersError::Token(rejection) => Meaning::Token(*rejection),
            SearchUsersError::Forbidden => Meaning::Forbidden,
            SearchUsersError::InvalidLimit => Meaning::Invalid {
                field: "limit",
                message: crate::routes::LIMIT_RULE,
            },
            SearchUsersError::InvalidCursor => Meaning::Invalid {
                field: "cursor",
                message: "is not a cursor this service handed out",
            },
            SearchUsersError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for CreateUserError {
    const OPERATION: &'static str = "admin user creation";

    fn meaning(&self) -> Meaning {
        match self {
            CreateUserError::Token(rejection) => Meaning::Token(*rejection),
            CreateUserError::Forbidden => Meaning::Forbidden,
            CreateUserError::EmailTaken => Meaning::EmailTaken,
            CreateUserError::InvalidInput(_) => Meaning::UnstorableInput,
            CreateUserError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for UpdateUserError {
    const OPERATION: &'static str = "admin user update";

    fn meaning(&self) -> Meaning {
        match self {
            UpdateUserError::Token(rejection) => Meaning::Token(*rejection),
            UpdateUserError::Forbidden => Meaning::Forbidden,
            UpdateUserError::UserNotFound => Meaning::UserNotFound,
            UpdateUserError::SelfDemotion => Meaning::Invalid {
                field: "role",
                message: "An admin cannot demote itself.",
            },
            UpdateUserError::LastAdmin => Meaning::Invalid {
                field: "role",
                message: "The last admin cannot be demoted.",
            },
            UpdateUserError::InvalidInput(_) => Meaning::UnstorableInput,
            UpdateUserError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for BanUserError {
    const OPERATION: &'static str = "admin ban";

    fn meaning(&self) -> Meaning {
        match self {
            BanUserError::Token(rejection) => Meaning::Token(*rejection),
            BanUserError::Forbidden => Meaning::Forbidden,
            BanUserError::UserNotFound => Meaning::UserNotFound,
            BanUserError::SelfBan => Meaning::Invalid {
                field: "id",
                message: "An admin cannot ban itself.",
            },
            BanUserError::UntilInPast => Meaning::Invalid {
                field: "until",
                message: "Must be in the future.",
            },
            BanUserError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for AdminUserActionError {
    const OPERATION: &'static str = "admin action";

    fn meaning(&self) -> Meaning {
        match self {
            AdminUserActionError::Token(rejection) => Meaning::Token(*rejection),
            AdminUserActionError::Forbidden => Meaning::Forbidden,
            AdminUserActionError::UserNotFound => Meaning::UserNotFound,
            AdminUserActionError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}

impl HttpMeaning for AuditTrailError {
    const OPERATION: &'static str = "audit log";

    fn meaning(&self) -> Meaning {
        match self {
            AuditTrailError::Token(rejection) => Meaning::Token(*rejection),
            AuditTrailError::Forbidden => Meaning::Forbidden,
            AuditTrailError::InvalidLimit => Meaning::Invalid {
                field: "limit",
                message: crate::routes::LIMIT_RULE,
            },
            AuditTrailError::InvalidCursor => Meaning::Invalid {
                field: "cursor",
                message: "is not a cursor this service handed out",
            },
            AuditTrailError::Dependency(error) => Meaning::of_dependency(error),
        }
    }
}
