//! The statuses each part of a route's declaration can answer, with the
//! envelope. Every status listed here is one the errors behind it really
//! produce: the tests build those errors and compare.

use crate::routes::{Answer, Route};

/// Each documented status of `route` with its description, by status.
pub fn statuses(route: &Route) -> Vec<(u16, &'static str)> {
    let mut statuses = Vec::new();
    if route.caller.needs_token() {
        statuses.extend_from_slice(BEARER);
    }
    if !route.limits.is_empty() {
        statuses.extend_from_slice(LIMITED);
    }
    for answer in route.answers {
        statuses.extend_from_slice(of(*answer));
    }
    // The first description of a status wins: the more specific ones come
    // from the answers, so they go first.
    statuses.reverse();
    statuses.sort_by_key(|(status, _)| *status);
    statuses.dedup_by_key(|(status, _)| *status);
    statuses
}

/// Statuses a schema-valid request may still get, for reasons no schema
/// can state (a wrong but well-formed code; the current password as the
/// new one): fuzzers must not call them a refusal of valid input.
pub fn refusals_of_valid_input(route: &Route) -> Vec<u16> {
    let mut statuses: Vec<u16> = route
        .answers
        .iter()
        .flat_map(|answer| match answer {
            Answer::OneTimeSecret => &[400][..],
            Answer::CurrentPassword => &[403, 422][..],
            Answer::SecondFactor => &[403][..],
            Answer::MfaState => &[409][..],
            Answer::SecondStepBody => &[422][..],
            Answer::PageQuery => &[422][..],
            Answer::AdminOnly => &[403][..],
            Answer::SearchQuery => &[422][..],
            Answer::AdminRules => &[422][..],
            Answer::Suspended => &[403][..],
            Answer::AuditFilters => &[422][..],
            _ => &[][..],
        })
        .copied()
        .collect();
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

const UNAVAILABLE: (u16, &str) = (503, "A dependency is unavailable; retry after Retry-After");
const INTERNAL: (u16, &str) = (500, "Internal server error");

const BEARER: &[(u16, &str)] = &[
    (
        401,
        "Missing, invalid, expired or revoked token; or bad credentials",
    ),
    UNAVAILABLE,
    INTERNAL,
];

const LIMITED: &[(u16, &str)] = &[(
    429,
    "Too many requests (rate_limited); see Retry-After and the RateLimit headers",
)];

pub(super) fn of(answer: Answer) -> &'static [(u16, &'static str)] {
    match answer {
        Answer::JsonBody => &[
            (400, "The body is not valid JSON (or not UTF-8)"),
            (408, "The body arrived too slowly"),
            (413, "The body is over 16 KiB"),
            (415, "The body is not application/json"),
            (
                422,
                "A field is missing, of the wrong type or breaks a rule",
            ),
        ],
        Answer::Dependency => &[UNAVAILABLE, INTERNAL],
        Answer::EmailTaken => &[(409, "A user with that email already exists")],
        Answer::Credentials => &[(
            401,
            "Missing, invalid, expired or revoked token; or bad credentials",
        )],
        Answer::VerifiedEmail => &[(
            403,
            "REQUIRE_VERIFIED_EMAIL: the address is not verified (a new email is on its way)",
        )],
        Answer::UserInPath => &[
            (403, "The caller may act only on itself unless an admin"),
            (404, "No such user, or an id that is not an integer"),
        ],
        Answer::SessionInPath => &[(404, "Not one of the caller's live sessions")],
        Answer::OneTimeSecret => &[(
            400,
            "The link or code is invalid or has expired (invalid_or_expired_token); or the body is not valid JSON",
        )],
        Answer::CurrentPassword => &[
            (
                403,
                "The current password is incorrect (invalid_current_password)",
            ),
            (
                429,
                "Too many failed password checks, or requests (rate_limited); see Retry-After",
            ),
        ],
        Answer::SecondFactor => &[(
            403,
            "The user has two-factor authentication and this token's login did not pass it (mfa_required)",
        )],
        Answer::MfaState => &[(
            409,
            "Two-factor authentication is already enabled (mfa_already_enabled), or not enabled (mfa_not_enabled)",
        )],
        Answer::SecondStepBody => &[(
            422,
            "Not exactly one of code and recovery_code, or a field missing or of the wrong type",
        )],
        Answer::PageQuery => &[(
            422,
            "limit outside 1 to 200, or a cursor this service did not hand out",
        )],
        Answer::AdminOnly => &[(
            403,
            "The caller is not an admin (forbidden), or is an admin with two-factor authentication whose token's login did not pass it (mfa_required)",
        )],
        Answer::SearchQuery => &[(
            422,
            "A query parameter breaks a rule: limit outside 1-200, an unknown role or status, a cursor not handed out, or a repeated parameter",
        )],
        Answer::AdminRules => &[(
            422,
            "An admin banning or demoting itself, demoting the last admin, or a ban ending in the past (validation_error)",
        )],
        Answer::Suspended => &[(403, "The right password of a banned account (user_banned)")],
        Answer::AuditFilters => &[(
            422,
            "A query parameter breaks a rule: an unknown type, since or until not RFC 3339, a user_id not an integer, limit outside 1-200, a cursor not handed out, or a repeated parameter",
        )],
        // Their own bodies: see `hand_written_responses`.
        Answer::Readiness | Answer::Jwks | Answer::Discovery => &[],
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use actix_web::ResponseError;
    use application::ports::{RepositoryError, SessionStoreError};
    use application::rate_limits::{RateLimit, Rule};
    use application::{
        ConfirmEmailChangeError, DependencyError, LoginError, RateLimited, RequestEmailChangeError,
        UserAccessError,
    };
    use domain::TokenRejection;

    use super::*;
    use crate::error::ApiError;

    /// The errors each part of a declaration stands for.
    fn errors(answer: Answer) -> Vec<ApiError> {
        let down = || DependencyError::from(RepositoryError::Unavailable("down".into()));
        let broken = || DependencyError::from(SessionStoreError::Unexpected("bug".into()));
        match answer {
            Answer::JsonBody => vec![
                ApiError::InvalidJson,
                ApiError::RequestTimeout,
                ApiError::PayloadTooLarge,
                ApiError::UnsupportedMediaType,
                ApiError::validation("email", "missing"),
            ],
            Answer::Dependency => vec![down().into(), broken().into()],
            Answer::EmailTaken => vec![ConfirmEmailChangeError::EmailTaken.into()],
            Answer::Credentials => vec![LoginError::InvalidCredentials.into()],
            Answer::VerifiedEmail => vec![LoginError::EmailNotVerified.into()],
            Answer::UserInPath => vec![
                UserAccessError::Forbidden.into(),
                UserAccessError::UserNotFound.into(),
                ApiError::NotFound,
            ],
            Answer::SessionInPath => {
                vec![application::SessionAccessError::SessionNotFound.into()]
            }
            Answer::OneTimeSecret => vec![ConfirmEmailChangeError::InvalidOrExpired.into()],
            Answer::CurrentPassword => vec![
                RequestEmailChangeError::InvalidCurrentPassword.into(),
                RequestEmailChangeError::RateLimited(RateLimited {
                    rule: Rule::FailedLogins,
                    quota: RateLimit::per_secs(5, 900),
                    retry_after: std::time::Duration::from_secs(1),
                })
                .into(),
            ],
            Answer::SecondFactor => {
                vec![application::AuthenticateError::SecondFactorRequired.into()]
            }
            Answer::MfaState => vec![
                application::EnrolTotpError::AlreadyEnabled.into(),
                application::DisableTotpError::NotEnabled.into(),
            ],
            Answer::SecondStepBody => vec![ApiError::validation("code", "missing")],
            Answer::PageQuery => vec![
                application::SecurityEventsError::InvalidLimit.into(),
                application::SecurityEventsError::InvalidCursor.into(),
            ],
            Answer::AdminOnly => vec![
                application::SearchUsersError::Forbidden.into(),
                application::AuthenticateError::SecondFactorRequired.into(),
            ],
            Answer::SearchQuery => vec![
                application::SearchUsersError::InvalidLimit.into(),
                application::SearchUsersError::InvalidCursor.into(),
                ApiError::validation("role", "unknown"),
            ],
            Answer::AdminRules => vec![
                application::BanUserError::SelfBan.into(),
                application::BanUserError::UntilInPast.into(),
                application::UpdateUserError::SelfDemotion.into(),
                application::UpdateUserError::LastAdmin.into(),
            ],
            Answer::Suspended => vec![LoginError::Banned.into()],
            Answer::AuditFilters => vec![
                application::AuditTrailError::InvalidLimit.into(),
                application::AuditTrailError::InvalidCursor.into(),
                ApiError::validation("type", "unknown"),
            ],
            Answer::Readiness | Answer::Jwks | Answer::Discovery => vec![],
        }
    }

    fn codes(errors: &[ApiError]) -> BTreeSet<u16> {
        errors
            .iter()
            .map(|error| error.status_code().as_u16())
            .collect()
    }

    fn documented(statuses: &[(u16, &str)]) -> BTreeSet<u16> {
        statuses.iter().map(|(status, _)| *status).collect()
    }

    #[test]
    fn each_answer_documents_exactly_what_its_errors_answer() {
        for answer in [
            Answer::JsonBody,
            Answer::Dependency,
            Answer::EmailTaken,
            Answer::Credentials,
            Answer::VerifiedEmail,
            Answer::UserInPath,
            Answer::SessionInPath,
            Answer::OneTimeSecret,
            Answer::CurrentPassword,
            Answer::SecondFactor,
            Answer::MfaState,
            Answer::SecondStepBody,
            Answer::PageQuery,
            Answer::AdminOnly,
            Answer::SearchQuery,
            Answer::AdminRules,
            Answer::Suspended,
            Answer::AuditFilters,
            Answer::Readiness,
            Answer::Jwks,
            Answer::Discovery,
        ] {
            assert_eq!(documented(of(answer)), codes(&errors(answer)), "{answer:?}");
        }
    }

    #[test]
    fn a_token_and_a_limit_document_what_they_answer() {
        let token: Vec<ApiError> = vec![
            TokenRejection::Missing.into(),
            DependencyError::from(application::ports::RevocationError::Unavailable(
                "down".into(),
            ))
            .into(),
            ApiError::internal("no state"),
        ];
        assert_eq!(documented(BEARER), codes(&token));
        let limited: ApiError = RateLimited {
            rule: Rule::LoginPerIp,
            quota: RateLimit::per_secs(30, 60),
            retry_after: std::time::Duration::from_secs(1),
        }
        .into();
        assert_eq!(documented(LIMITED), codes(&[limited]));
    }
}
