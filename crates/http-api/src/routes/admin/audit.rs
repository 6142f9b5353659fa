//! `/admin/audit`: the audit log, for admins. It takes a
//! [`LiveAccessToken`] (see the module above for why).

use actix_web::web::Data;
use application::AuditTrailRequest;
use chrono::{DateTime, Utc};
use domain::{AuditEventKind, UserId};
use paperclip::actix::web::{Json, Query};
use paperclip::actix::{Apiv2Schema, api_v2_operation};
use serde::Deserialize;

use super::users::LIMIT_RULE;
use crate::error::ApiError;
use crate::extract::LiveAccessToken;
use crate::routes::security_events::{SecurityEventBody, SecurityEventsBody};
use crate::state::AppState;

/// The filters of `GET /admin/audit`, all optional. Read as text and
/// checked here, so that a bad value is a `422` naming its parameter.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct AuditQueryParams {
    /// Only events about this user (their subject), an integer id
    pub user_id: Option<String>,
    /// One event type: `user.registered`, `user.login_failed`, ...
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// RFC 3339: events at or after this instant
    pub since: Option<String>,
    /// RFC 3339: events strictly before this instant
    pub until: Option<String>,
    /// An integer from 1 to 200 (default 50)
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page
    pub cursor: Option<String>,
}

const INSTANT_RULE: &str = "must be an RFC 3339 date and time";

fn instant(field: &'static str, text: Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| ApiError::validation(field, INSTANT_RULE))
    })
    .transpose()
}

impl AuditQueryParams {
    fn request(self) -> Result<AuditTrailRequest, ApiError> {
        let user_id = self
            .user_id
            .map(|id| id.parse::<i64>().map(UserId::new))
            .transpose()
            .map_err(|_| ApiError::validation("user_id", "must be an integer"))?;
        let kind = self
            .kind
            .map(|kind| kind.parse::<AuditEventKind>())
            .transpose()
            .map_err(|_| ApiError::validation("type", "is not a known event type"))?;
        let since = instant("since", self.since)?;
        let until = instant("until", self.until)?;
        let limit = self
            .limit
            .map(|limit| limit.parse::<u32>())
            .transpose()
            .map_err(|_| ApiError::validation("limit", LIMIT_RULE))?;
        Ok(AuditTrailRequest {
            user_id,
            kind,
            since,
            until,
            limit,
            cursor: self.cursor,
        })
    }
}

/// Read the audit log (admins only), newest first, a page at a time
///
/// Every event of the service (logins, account changes, sessions, second
/// factor, admin actions, signing keys), filtered by subject, type and
/// time. An event is readable within 5 s of its request.
#[api_v2_operation(tags(Admin))]
pub async fn audit_log(
    state: Data<AppState>,
    token: LiveAccessToken,
    query: Query<AuditQueryParams>,
) -> Result<Json<SecurityEventsBody>, ApiError> {
    let request = query.into_inner().request()?;
    let page = state.audit_trail.search(&token.0, request).await?;
    Ok(Json(SecurityEventsBody {
        events: page
            .events
            .into_iter()
            .map(SecurityEventBody::new)
            .collect(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> AuditQueryParams {
        AuditQueryParams {
            user_id: None,
            kind: None,
            since: None,
            until: None,
            limit: None,
            cursor: None,
        }
    }

    fn refused_fields(params: AuditQueryParams) -> Vec<String> {
        match params.request() {
            Err(ApiError::Validation(fields)) => fields.into_keys().collect(),
            Err(other) => panic!("not a validation error: {other:?}"),
            Ok(request) => panic!("accepted: {request:?}"),
        }
    }

    #[test]
    fn every_filter_is_parsed() {
        let request = AuditQueryParams {
            user_id: Some("12".to_owned()),
            kind: Some("user.password_changed".to_owned()),
            since: Some("2026-12-01T00:00:00+01:00".to_owned()),
            until: Some("2026-12-05T00:00:00Z".to_owned()),
            limit: Some("7".to_owned()),
            cursor: Some("abc".to_owned()),
        }
        .request()
        .unwrap();
        assert_eq!(request.user_id, Some(UserId::new(12)));
        assert_eq!(request.kind, Some(AuditEventKind::PasswordChanged));
        assert_eq!(
            request.since.map(|at| at.to_rfc3339()).as_deref(),
            Some("2026-11-30T23:00:00+00:00")
        );
        assert!(request.until.is_some());
        assert_eq!(request.limit, Some(7));
        assert_eq!(request.cursor.as_deref(), Some("abc"));
    }

    #[test]
    fn each_bad_parameter_is_refused_by_its_name() {
        for (name, params) in [
            (
                "user_id",
                AuditQueryParams {
                    user_id: Some("x".to_owned()),
                    ..params()
                },
            ),
            (
                "type",
                AuditQueryParams {
                    kind: Some("user.nope".to_owned()),
                    ..params()
                },
            ),
            (
                "since",
                AuditQueryParams {
                    since: Some("2026-12-01".to_owned()),
                    ..params()
                },
            ),
            (
                "until",
                AuditQueryParams {
                    until: Some("yesterday".to_owned()),
                    ..params()
                },
            ),
            (
                "limit",
                AuditQueryParams {
                    limit: Some("-1".to_owned()),
                    ..params()
                },
            ),
        ] {
            assert_eq!(refused_fields(params), [name]);
        }
    }
}
