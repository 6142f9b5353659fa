use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    CACHE_CONTROL, HeaderValue, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use actix_web::middleware::Next;

/// The route groups whose responses hold tokens or account data: every
/// response under them is `Cache-Control: no-store`. A group covers its
/// path and everything below it (`/users/me/sessions`).
pub const NO_STORE_ROUTES: &[&str] = &[
    "/login",
    "/refresh",
    "/logout",
    "/users/me",
    "/verify-email",
    "/password",
    "/email-change",
];

fn is_no_store(path: &str) -> bool {
    NO_STORE_ROUTES.iter().any(|group| {
        path.strip_prefix(group)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }) || is_user_sessions(path)
}

/// `/users/{id}/sessions`: another user's sessions are account data too.
fn is_user_sessions(path: &str) -> bool {
    path.strip_prefix("/users/")
        .and_then(|rest| rest.strip_suffix("/sessions"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// Headers every response carries: no MIME sniffing, no referrer sent
/// on, and no caching of the token and account routes.
pub async fn security_headers(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let no_store = is_no_store(request.path());
    let mut response = next.call(request).await?;
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if no_store {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_store_covers_each_group_and_below_but_nothing_else() {
        for path in [
            "/login",
            "/refresh",
            "/logout",
            "/users/me",
            "/users/me/sessions",
            "/users/me/sessions/0123",
            "/email-change/undo",
            "/users/42/sessions",
            "/verify-email",
            "/verify-email/resend",
        ] {
            assert!(is_no_store(path), "{path}");
        }
        for path in [
            "/loginx",
            "/users/meet",
            "/users/1",
            "/users//sessions",
            "/users/1/2/sessions",
            "/users/1/sessionsx",
            "/guest",
            "/register",
            "/",
        ] {
            assert!(!is_no_store(path), "{path}");
        }
    }
}
