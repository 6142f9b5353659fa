//! The route table: one module per group of handlers, one [`Route`] per
//! operation in [`ROUTES`], and [`configure`] mounting them all.

mod admin;
mod auth;
mod demo;
mod email_change;
mod email_verification;
mod health;
mod mfa;
mod password;
mod route;
mod security_events;
mod sessions;
mod users;
mod well_known;

use actix_web::{HttpRequest, HttpResponse, ResponseError};
use application::rate_limits::Rule;
use paperclip::actix::web;

pub(crate) use admin::LIMIT_RULE;
pub use route::{Answer, Caller, Route, Verb};

use crate::error::ApiError;
use crate::rate_limit::limited_by;
use Answer::*;

/// Every route of the API, in matching order (`/users/me` before
/// `/users/{id}`); the routes of one path are adjacent. A new route is one
/// entry here plus its handler.
pub const ROUTES: &[Route] = &[
    Route::post("/register", |route| route.to(auth::register))
        .named("register")
        .limited(&[Rule::RegisterPerIp])
        .answers(&[JsonBody, Dependency, EmailTaken]),
    Route::post("/login", |route| route.to(auth::login))
        .named("login")
        .limited(&[Rule::LoginPerIp])
        .no_store()
        .answers(&[JsonBody, Dependency, Credentials, VerifiedEmail, Suspended]),
    Route::post("/login/mfa", |route| route.to(mfa::login_second_step))
        .named("completeLogin")
        .limited(&Rule::SECRET_ATTEMPTS)
        .no_store()
        .answers(&[JsonBody, Dependency, OneTimeSecret, SecondStepBody]),
    Route::post("/refresh", |route| route.to(auth::refresh))
        .named("refresh")
        .refresh_token()
        .limited(&[Rule::RefreshPerIp])
        .no_store()
        .answers(&[Dependency]),
    Route::post("/logout", |route| route.to(auth::logout))
        .named("logout")
        .refresh_token()
        .no_store()
        .answers(&[JsonBody, Dependency]),
    Route::post("/verify-email", |route| {
        route.to(email_verification::verify_email)
    })
    .named("verifyEmail")
    .limited(&Rule::SECRET_ATTEMPTS)
    .no_store()
    .answers(&[JsonBody, Dependency, OneTimeSecret]),
    Route::post("/verify-email/resend", |route| {
        route.to(email_verification::resend_verification)
    })
    .named("resendVerificationEmail")
    .limited(&[Rule::EmailRequestsPerIp])
    .no_store()
    .answers(&[JsonBody, Dependency]),
    Route::post("/password/forgot", |route| {
        route.to(password::forgot_password)
    })
    .named("forgotPassword")
    .limited(&[Rule::EmailRequestsPerIp])
    .no_store()
    .answers(&[JsonBody, Dependency]),
    Route::post("/password/reset", |route| {
        route.to(password::reset_password)
    })
    .named("resetPassword")
    .limited(&Rule::SECRET_ATTEMPTS)
    .no_store()
    .answers(&[JsonBody, Dependency, OneTimeSecret]),
    Route::get("/guest", |route| route.to(demo::guest)).named("guest"),
    Route::get("/protected", |route| route.to(demo::protected))
        .named("protected")
        .bearer(),
    Route::get("/fresh-protected", |route| route.to(demo::fresh_protected))
        .named("freshProtected")
        .bearer(),
    Route::get("/users/me", |route| route.to(users::me))
        .named("getMe")
        .bearer()
        .no_store()
        .answers(&[Dependency]),
    Route::post("/users/me/password", |route| {
        route.to(password::change_password)
    })
    .named("changePassword")
    .bearer()
    .no_store()
    .answers(&[JsonBody, Dependency, CurrentPassword, SecondFactor]),
    Route::post("/users/me/email", |route| {
        route.to(email_change::request_email_change)
    })
    .named("requestEmailChange")
    .bearer()
    .no_store()
    .answers(&[JsonBody, Dependency, CurrentPassword, SecondFactor]),
    Route::post("/users/me/email/confirm", |route| {
        route.to(email_change::confirm_email_change)
    })
    .named("confirmEmailChange")
    .limited(&Rule::SECRET_ATTEMPTS)
    .no_store()
    .answers(&[JsonBody, Dependency, OneTimeSecret, EmailTaken]),
    Route::post("/email-change/undo", |route| {
        route.to(email_change::undo_email_change)
    })
    .named("undoEmailChange")
    .limited(&Rule::SECRET_ATTEMPTS)
    .no_store()
    .answers(&[JsonBody, Dependency, OneTimeSecret, EmailTaken]),
    Route::get("/users/me/sessions", |route| {
        route.to(sessions::my_sessions)
    })
    .named("listMySessions")
    .bearer()
    .no_store()
    .answers(&[Dependency, SecondFactor]),
    Route::delete("/users/me/sessions/{id}", |route| {
        route.to(sessions::revoke_my_session)
    })
    .named("revokeMySession")
    .bearer()
    .no_store()
    .answers(&[Dependency, SessionInPath, SecondFactor]),
    Route::get("/users/me/security-events", |route| {
        route.to(security_events::my_security_events)
    })
    .named("listMySecurityEvents")
    .bearer()
    .no_store()
    .answers(&[Dependency, PageQuery]),
    Route::get("/users/me/mfa", |route| route.to(mfa::mfa_status))
        .named("getMfaStatus")
        .bearer()
        .no_store()
        .answers(&[Dependency]),
    Route::post("/users/me/mfa/totp", |route| route.to(mfa::enrol_totp))
        .named("enrolTotp")
        .bearer()
        .no_store()
        .answers(&[Dependency, MfaState]),
    Route::delete("/users/me/mfa/totp", |route| route.to(mfa::disable_totp))
        .named("disableTotp")
        .bearer()
        .no_store()
        .answers(&[Dependency, MfaState, SecondFactor]),
    Route::post("/users/me/mfa/totp/verify", |route| {
        route.to(mfa::confirm_totp)
    })
    .named("confirmTotp")
    .bearer()
    .no_store()
    .answers(&[JsonBody, Dependency, OneTimeSecret, MfaState]),
    Route::post("/users/me/mfa/recovery-codes", |route| {
        route.to(mfa::replace_recovery_codes)
    })
    .named("replaceRecoveryCodes")
    .bearer()
    .no_store()
    .answers(&[Dependency, MfaState, SecondFactor]),
    Route::get("/users/{id}/sessions", |route| {
        route.to(sessions::user_sessions)
    })
    .named("listUserSessions")
    .bearer()
    .no_store()
    .answers(&[Dependency, UserInPath, SecondFactor]),
    Route::delete("/users/{id}/sessions", |route| {
        route.to(sessions::revoke_user_sessions)
    })
    .named("revokeUserSessions")
    .bearer()
    .no_store()
    .answers(&[Dependency, UserInPath, SecondFactor]),
    Route::get("/users/{id}", |route| route.to(users::get_user))
        .named("getUser")
        .bearer()
        .no_store()
        .answers(&[Dependency, UserInPath]),
    Route::delete("/users/{id}", |route| route.to(users::delete_user))
        .named("deleteUser")
        .bearer()
        .no_store()
        .answers(&[Dependency, UserInPath, SecondFactor]),
    // The singular spelling of the original service.
    Route::get("/user/{id}", |route| route.to(users::get_user))
        .named("getUserLegacy")
        .deprecated()
        .bearer()
        .no_store()
        .answers(&[Dependency, UserInPath]),
    Route::delete("/user/{id}", |route| route.to(users::delete_user))
        .named("deleteUserLegacy")
        .deprecated()
        .bearer()
        .no_store()
        .answers(&[Dependency, UserInPath, SecondFactor]),
    Route::get("/admin/users", |route| route.to(admin::users::search_users))
        .named("adminSearchUsers")
        .bearer()
        .no_store()
        .answers(&[Dependency, AdminOnly, SearchQuery]),
    Route::post("/admin/users", |route| {
        route.to(admin::user_changes::create_user)
    })
    .named("adminCreateUser")
    .bearer()
    .no_store()
    .answers(&[JsonBody, Dependency, AdminOnly, EmailTaken]),
    Route::patch("/admin/users/{id}", |route| {
        route.to(admin::user_changes::update_user)
    })
    .named("adminUpdateUser")
    .bearer()
    .no_store()
    .answers(&[JsonBody, Dependency, AdminOnly, UserInPath, AdminRules]),
    Route::post("/admin/users/{id}/ban", |route| {
        route.to(admin::user_changes::ban_user)
    })
    .named("adminBanUser")
    .bearer()
    .no_store()
    .answers(&[JsonBody, Dependency, AdminOnly, UserInPath, AdminRules]),
    Route::post("/admin/users/{id}/unban", |route| {
        route.to(admin::user_changes::unban_user)
    })
    .named("adminUnbanUser")
    .bearer()
    .no_store()
    .answers(&[Dependency, AdminOnly, UserInPath]),
    Route::delete("/admin/users/{id}/sessions", |route| {
        route.to(admin::user_changes::revoke_user_sessions)
    })
    .named("adminRevokeUserSessions")
    .bearer()
    .no_store()
    .answers(&[Dependency, AdminOnly, UserInPath]),
    Route::delete("/admin/users/{id}/mfa", |route| {
        route.to(admin::user_changes::reset_user_mfa)
    })
    .named("adminResetUserMfa")
    .bearer()
    .no_store()
    .answers(&[Dependency, AdminOnly, UserInPath]),
    Route::get("/admin/audit", |route| route.to(admin::audit::audit_log))
        .named("adminAuditLog")
        .bearer()
        .no_store()
        .answers(&[Dependency, AdminOnly, AuditFilters]),
    Route::get("/health/live", |route| route.to(health::live)).named("live"),
    Route::get("/health/ready", |route| route.to(health::ready))
        .named("ready")
        .answers(&[Readiness]),
    Route::get("/.well-known/jwks.json", |route| route.to(well_known::jwks))
        .named("getJwks")
        .answers(&[Jwks]),
    Route::get("/.well-known/openid-configuration", |route| {
        route.to(well_known::openid_configuration)
    })
    .named("getOpenidConfiguration")
    .answers(&[Discovery]),
];

/// Mounts [`ROUTES`]: one resource per path, answering its other methods
/// with `405` and an `Allow` header, under the path's rate limits.
pub fn configure(config: &mut web::ServiceConfig) {
    for routes in ROUTES.chunk_by(|a, b| a.path == b.path) {
        let path = routes[0].path;
        let allow = routes
            .iter()
            .map(|route| route.verb.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let mut resource =
            web::resource(path).default_service(actix_web::web::to(move |_: HttpRequest| {
                let allow = allow.clone();
                async move { ApiError::MethodNotAllowed { allow }.error_response() }
            }));
        for route in routes {
            resource = resource.route((route.handler)(web::method(route.verb.method())));
        }
        // A limited path has one route (the tests check it).
        match routes[0].limits {
            [] => config.service(resource),
            limits => config.service(resource.wrap(limited_by(limits))),
        };
    }
}

/// Whether the response to a request on `path` must not be cached: some
/// `no_store` route covers it.
pub fn is_no_store(path: &str) -> bool {
    ROUTES
        .iter()
        .any(|route| route.no_store && route.covers(path))
}

/// Unknown paths, whatever the method (`OPTIONS` included: a preflight
/// from a listed origin is answered by the CORS middleware before routing).
pub async fn not_found() -> HttpResponse {
    ApiError::NotFound.error_response()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_routes_of_a_path_are_adjacent_and_a_limited_path_has_one() {
        let mut seen = HashSet::new();
        for routes in ROUTES.chunk_by(|a, b| a.path == b.path) {
            assert!(seen.insert(routes[0].path), "{:?} is split", routes[0]);
            let verbs: HashSet<_> = routes.iter().map(|route| route.verb).collect();
            assert_eq!(verbs.len(), routes.len(), "{routes:?}");
            if routes.iter().any(|route| !route.limits.is_empty()) {
                assert_eq!(routes.len(), 1, "{routes:?}");
            }
        }
    }

    #[test]
    fn account_data_and_tokens_are_never_cached() {
        for path in [
            "/login",
            "/refresh",
            "/logout",
            "/users/me",
            "/users/me/sessions",
            "/users/me/sessions/0123",
            "/email-change/undo",
            "/users/42/sessions",
            "/users/42",
            "/user/42",
            "/admin/users",
            "/admin/audit",
            "/verify-email",
            "/verify-email/resend",
            "/password/forgot",
        ] {
            assert!(is_no_store(path), "{path}");
        }
        for path in [
            "/loginx",
            "/userx/1",
            "/users//sessions",
            "/guest",
            "/register",
            "/health/ready",
            "/",
        ] {
            assert!(!is_no_store(path), "{path}");
        }
    }
}
