//! What a route declares about itself, once: its method, path, handler,
//! caller, rate limits, caching and the failures it can answer. Routing
//! ([`super::configure`]), the OpenAPI document ([`crate::openapi`]), the
//! `no-store` header ([`crate::middleware::security_headers`]) and the
//! tests all read these declarations, so they cannot drift apart.

use actix_web::http::Method;
use application::rate_limits::Rule;
use paperclip::actix::web;

/// The HTTP methods the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Get,
    Post,
    Patch,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }

    pub fn method(self) -> Method {
        match self {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Patch => Method::PATCH,
            Verb::Delete => Method::DELETE,
        }
    }

    /// The key of an operation in the OpenAPI document.
    pub fn openapi_key(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// Anyone: no token (a one-time secret in the body may be the proof).
    Anyone,
    /// An access token: `401` when it is missing or refused, `503` when
    /// its revocation check cannot run.
    Bearer,
    /// A refresh token (`/refresh`, `/logout`), with the same failures: a
    /// security scheme of its own, so Swagger UI holds both tokens at once.
    RefreshToken,
}

impl Caller {
    /// Whether a token is needed at all.
    pub fn needs_token(self) -> bool {
        self != Caller::Anyone
    }
}

/// A failure a route can answer, beyond those its [`Caller`] and rate
/// limits already bring. Each stands for the errors that produce it; the
/// statuses it documents are checked against them
/// (`crate::openapi::answers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A JSON body: 400, 408, 413, 415, 422.
    JsonBody,
    /// PostgreSQL or Redis behind the use case: 503 when down, 500 when it
    /// fails otherwise.
    Dependency,
    /// The email address belongs to another account: 409.
    EmailTaken,
    /// Wrong email or password: 401.
    Credentials,
    /// REQUIRE_VERIFIED_EMAIL and an unverified account: 403.
    VerifiedEmail,
    /// A user id in the path: 403 (not yours), 404 (no such user, or an
    /// id that is not an integer).
    UserInPath,
    /// A session id in the path: 404 when it is not one of the caller's
    /// live sessions.
    SessionInPath,
    /// A one-time secret (link token or emailed code): 400 for every
    /// failure of it.
    OneTimeSecret,
    /// The caller's current password: 403 when it is wrong; wrong ones
    /// count as failed logins, so 429 once the account is throttled (and
    /// under a per-user limit the handler counts).
    CurrentPassword,
    /// A route that changes the account: 403 `mfa_required` for a token
    /// whose login skipped the user's second factor.
    SecondFactor,
    /// The second factor's state: 409 (already enabled, or not enabled).
    MfaState,
    /// `POST /login/mfa`'s body: 422 unless exactly one of `code` and
    /// `recovery_code` is given (no schema says "one of" here).
    SecondStepBody,
    /// A page's `limit` and `cursor` in the query: 422 naming the one
    /// out of range or not handed out by this service.
    PageQuery,
    /// An admin route: 403 `forbidden` for a caller who is not an admin,
    /// `mfa_required` for an admin's token whose login skipped its TOTP.
    AdminOnly,
    /// The admins' rules on accounts: 422 for banning or demoting oneself,
    /// demoting the last admin, or a ban that ends in the past.
    AdminRules,
    /// A banned account's right password: 403 `user_banned`.
    Suspended,
    /// Query parameters the rules refuse (out of range, unknown, a cursor
    /// not handed out): 422 naming the parameter.
    SearchQuery,
    /// `GET /admin/audit`'s filters: 422 naming the parameter (a `type`
    /// that is no event type, a `since`/`until` not in RFC 3339, a
    /// `user_id` not an integer, `limit` out of range, a bad cursor).
    AuditFilters,
    /// `/health/ready`: its own `200` and `503` bodies.
    Readiness,
    /// `/.well-known/jwks.json`: its own `200` body (a JWK Set).
    Jwks,
    /// `/.well-known/openid-configuration`: its own `200` body.
    Discovery,
}

/// One route: an operation on a path.
#[derive(Clone, Copy)]
pub struct Route {
    pub verb: Verb,
    /// An actix path pattern; `{id}` is one segment.
    pub path: &'static str,
    /// Attaches the handler: `|route| route.to(users::me)`.
    pub handler: fn(web::Route) -> web::Route,
    pub caller: Caller,
    /// Rules counted per client before the body is read, in order.
    pub limits: &'static [Rule],
    /// Its responses hold tokens or account data: `Cache-Control:
    /// no-store`, on this path and every path below it.
    pub no_store: bool,
    pub answers: &'static [Answer],
    /// Its `operationId` in the OpenAPI document: what generated clients
    /// name the call (unique; the tests check).
    pub operation_id: &'static str,
    /// Kept for old clients, superseded by another path.
    pub deprecated: bool,
}

impl Route {
    const fn new(verb: Verb, path: &'static str, handler: fn(web::Route) -> web::Route) -> Self {
        Self {
            verb,
            path,
            handler,
            caller: Caller::Anyone,
            limits: &[],
            no_store: false,
            answers: &[],
            operation_id: "",
            deprecated: false,
        }
    }

    pub const fn get(path: &'static str, handler: fn(web::Route) -> web::Route) -> Self {
        Self::new(Verb::Get, path, handler)
    }

    pub const fn post(path: &'static str, handler: fn(web::Route) -> web::Route) -> Self {
        Self::new(Verb::Post, path, handler)
    }

    pub const fn patch(path: &'static str, handler: fn(web::Route) -> web::Route) -> Self {
        Self::new(Verb::Patch, path, handler)
    }

    pub const fn delete(path: &'static str, handler: fn(web::Route) -> web::Route) -> Self {
        Self::new(Verb::Delete, path, handler)
    }

    pub const fn bearer(mut self) -> Self {
        self.caller = Caller::Bearer;
        self
    }

    pub const fn refresh_token(mut self) -> Self {
        self.caller = Caller::RefreshToken;
        self
    }

    pub const fn named(mut self, operation_id: &'static str) -> Self {
        self.operation_id = operation_id;
        self
    }

    pub const fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }

    pub const fn limited(mut self, rules: &'static [Rule]) -> Self {
        self.limits = rules;
        self
    }

    pub const fn no_store(mut self) -> Self {
        self.no_store = true;
        self
    }

    pub const fn answers(mut self, answers: &'static [Answer]) -> Self {
        self.answers = answers;
        self
    }

    /// Whether `path` is this route's path, or lies below it.
    pub fn covers(&self, path: &str) -> bool {
        let mut actual = path.split('/');
        self.path.split('/').all(|pattern| {
            actual.next().is_some_and(|segment| {
                segment == pattern || (pattern.starts_with('{') && !segment.is_empty())
            })
        })
    }

    /// Whether a request on `path` is this route's resource exactly.
    pub fn matches(&self, path: &str) -> bool {
        self.covers(path) && path.split('/').count() == self.path.split('/').count()
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.verb.as_str(), self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &'static str) -> Route {
        Route::get(path, |route| route)
    }

    #[test]
    fn a_route_covers_its_path_and_the_paths_below_it() {
        let me = route("/users/me");
        assert!(me.covers("/users/me"));
        assert!(me.covers("/users/me/sessions/0123"));
        assert!(!me.covers("/users/meet"));
        assert!(!me.covers("/users"));
        let sessions = route("/users/{id}/sessions");
        assert!(sessions.covers("/users/42/sessions"));
        assert!(sessions.matches("/users/42/sessions"));
        assert!(!sessions.covers("/users//sessions"));
        assert!(!sessions.covers("/users/1/2/sessions"));
        assert!(!sessions.covers("/users/1/sessionsx"));
        assert!(!sessions.matches("/users/42/sessions/x"));
    }
}
