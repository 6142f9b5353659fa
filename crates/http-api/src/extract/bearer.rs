use actix_web::HttpMessage;
use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use application::TokenRequirement;
use domain::{TokenClaims, TokenRejection, UserId};
use futures_util::future::LocalBoxFuture;
use paperclip::actix::Apiv2Security;
use tracing_actix_web::RootSpan;

use crate::error::ApiError;
use crate::state::AppState;

/// The token after `Bearer ` in the Authorization header, if well formed.
fn bearer_token(request: &HttpRequest) -> Option<&str> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

/// Names the caller on the request's root span, so every log line of the
/// request carries its `user_id`.
pub(crate) fn record_user(request: &HttpRequest, user: UserId) {
    if let Some(span) = request.extensions().get::<RootSpan>() {
        span.record("user_id", user.get());
    }
}

/// Which check a route's token passes.
#[derive(Clone, Copy)]
enum Check {
    /// The token check of every protected route: Redis only.
    Token,
    /// Also the session in PostgreSQL, and the second factor when the
    /// user has one: routes that change an account.
    LiveSession,
    /// The session in PostgreSQL, whatever the login's assurance: the
    /// routes that set the second factor up.
    LiveSessionAnyLevel,
}

fn authenticate(
    request: &HttpRequest,
    requirement: TokenRequirement,
    check: Check,
) -> LocalBoxFuture<'static, Result<TokenClaims, ApiError>> {
    // A clone of the request is a reference count; the token is read from
    // it inside the future rather than copied out of the header first.
    let request = request.clone();
    Box::pin(async move {
        let token = bearer_token(&request).ok_or(TokenRejection::Missing)?;
        let state = request
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| ApiError::internal("application state missing"))?;
        let authentication = &state.authentication;
        let claims = match check {
            Check::Token => authentication.authenticate(token, requirement).await?,
            Check::LiveSession => authentication.authenticate_live(token, requirement).await?,
            Check::LiveSessionAnyLevel => {
                authentication
                    .authenticate_live_any_level(token, requirement)
                    .await?
            }
        };
        record_user(&request, claims.user_id);
        Ok(claims)
    })
}

macro_rules! bearer_extractor {
    ($(#[$doc:meta])* $name:ident, $requirement:expr, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Apiv2Security)]
        #[openapi(
            apiKey,
            alias = "bearer",
            in = "header",
            name = "Authorization",
            description = "Use the format 'Bearer <token>'"
        )]
        pub struct $name(pub TokenClaims);

        impl FromRequest for $name {
            type Error = ApiError;
            type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

            fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
                let claims = authenticate(request, $requirement, $check);
                Box::pin(async move { claims.await.map($name) })
            }
        }
    };
}

bearer_extractor!(
    /// A valid, unrevoked access token.
    AccessToken,
    TokenRequirement::Access,
    Check::Token
);
bearer_extractor!(
    /// A valid, unrevoked access token straight from a password login.
    FreshAccessToken,
    TokenRequirement::FreshAccess,
    Check::Token
);
bearer_extractor!(
    /// A valid, unrevoked refresh token.
    RefreshToken,
    TokenRequirement::Refresh,
    Check::Token
);
bearer_extractor!(
    /// [`AccessToken`] whose session is also live in PostgreSQL: what
    /// every route that changes an account takes, so that a session ended
    /// there cannot act even while its Redis marks are missing. A user with
    /// TOTP enabled must have passed it in this session's login (`aal2`):
    /// `403 mfa_required` otherwise.
    LiveAccessToken,
    TokenRequirement::Access,
    Check::LiveSession
);
bearer_extractor!(
    /// [`FreshAccessToken`] whose session is also live in PostgreSQL (see
    /// [`LiveAccessToken`]).
    FreshLiveAccessToken,
    TokenRequirement::FreshAccess,
    Check::LiveSession
);
bearer_extractor!(
    /// [`LiveAccessToken`] without the second-factor rule: reading and
    /// confirming the second factor, which a session from before it must
    /// reach.
    LiveAccessTokenAnyLevel,
    TokenRequirement::Access,
    Check::LiveSessionAnyLevel
);
bearer_extractor!(
    /// [`FreshLiveAccessToken`] without the second-factor rule: enrolling.
    FreshLiveAccessTokenAnyLevel,
    TokenRequirement::FreshAccess,
    Check::LiveSessionAnyLevel
);

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn reads_only_well_formed_bearer_headers() {
        let with = |value: &str| {
            let request = TestRequest::default()
                .insert_header((AUTHORIZATION, value))
                .to_http_request();
            bearer_token(&request).map(str::to_owned)
        };
        assert_eq!(with("Bearer abc.def.ghi").as_deref(), Some("abc.def.ghi"));
        assert_eq!(with("bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("Bearer"), None);
        assert_eq!(with("Bearer "), None);
        assert_eq!(with("Basic abc"), None);
        assert_eq!(with("Bearer a b"), None);
        assert_eq!(
            bearer_token(&TestRequest::default().to_http_request()),
            None
        );
    }
}
