//! One module per group of routes; `configure` mounts them all.

mod auth;
mod demo;
mod email_change;
mod email_verification;
mod health;
mod password;
mod sessions;
mod users;

use actix_web::{HttpRequest, HttpResponse, ResponseError};
use application::rate_limits::Rule;
use paperclip::actix::web;

use crate::error::ApiError;
use crate::rate_limit::{limited, limited_by};

/// A resource that answers other methods with `405` and an `Allow` header.
fn resource(path: &str, allow: &'static str) -> web::Resource {
    web::resource(path).default_service(actix_web::web::to(move |_: HttpRequest| async move {
        ApiError::MethodNotAllowed { allow }.error_response()
    }))
}

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            resource("/register", "POST")
                .route(web::post().to(auth::register))
                .wrap(limited(Rule::RegisterPerIp)),
        )
        .service(
            resource("/login", "POST")
                .route(web::post().to(auth::login))
                .wrap(limited(Rule::LoginPerIp)),
        )
        .service(
            resource("/refresh", "POST")
                .route(web::post().to(auth::refresh))
                .wrap(limited(Rule::RefreshPerIp)),
        )
        .service(resource("/logout", "POST").route(web::post().to(auth::logout)))
        .service(
            resource("/verify-email", "POST")
                .route(web::post().to(email_verification::verify_email))
                .wrap(limited_by(&Rule::SECRET_ATTEMPTS)),
        )
        .service(
            resource("/verify-email/resend", "POST")
                .route(web::post().to(email_verification::resend_verification))
                .wrap(limited(Rule::EmailRequestsPerIp)),
        )
        .service(
            resource("/password/forgot", "POST")
                .route(web::post().to(password::forgot_password))
                .wrap(limited(Rule::EmailRequestsPerIp)),
        )
        .service(
            resource("/password/reset", "POST")
                .route(web::post().to(password::reset_password))
                .wrap(limited_by(&Rule::SECRET_ATTEMPTS)),
        )
        .service(resource("/guest", "GET").route(web::get().to(demo::guest)))
        .service(resource("/protected", "GET").route(web::get().to(demo::protected)))
        .service(resource("/fresh-protected", "GET").route(web::get().to(demo::fresh_protected)))
        .service(resource("/users/me", "GET").route(web::get().to(users::me)))
        .service(
            resource("/users/me/password", "POST").route(web::post().to(password::change_password)),
        )
        .service(
            resource("/users/me/email", "POST")
                .route(web::post().to(email_change::request_email_change)),
        )
        .service(
            resource("/users/me/email/confirm", "POST")
                .route(web::post().to(email_change::confirm_email_change))
                .wrap(limited_by(&Rule::SECRET_ATTEMPTS)),
        )
        .service(
            resource("/email-change/undo", "POST")
                .route(web::post().to(email_change::undo_email_change))
                .wrap(limited_by(&Rule::SECRET_ATTEMPTS)),
        )
        .service(resource("/users/me/sessions", "GET").route(web::get().to(sessions::my_sessions)))
        .service(
            resource("/users/me/sessions/{id}", "DELETE")
                .route(web::delete().to(sessions::revoke_my_session)),
        )
        .service(
            resource("/users/{id}/sessions", "GET, DELETE")
                .route(web::get().to(sessions::user_sessions))
                .route(web::delete().to(sessions::revoke_user_sessions)),
        );
    // Both spellings of the user routes, as in the original service.
    for path in ["/users/{id}", "/user/{id}"] {
        config.service(
            resource(path, "GET, DELETE")
                .route(web::get().to(users::get_user))
                .route(web::delete().to(users::delete_user)),
        );
    }
    config
        .service(resource("/health/live", "GET").route(web::get().to(health::live)))
        .service(resource("/health/ready", "GET").route(web::get().to(health::ready)));
}

/// Unknown paths, whatever the method (`OPTIONS` included: there is no
/// CORS here, and an unknown path has nothing to offer).
pub async fn not_found() -> HttpResponse {
    ApiError::NotFound.error_response()
}
