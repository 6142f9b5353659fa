//! `GET /users/me/security-events`: the caller's own audit events.

use actix_web::web::Data;
use application::SecurityEventsError;
use application::ports::AuditEvent;
use chrono::SecondsFormat;
use paperclip::actix::web::{Json, Query};
use paperclip::actix::{Apiv2Schema, api_v2_operation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::AccessToken;
use crate::state::AppState;

/// A page of events
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct SecurityEventsQuery {
    /// How many events, 1 to 200 (default 50). Text here so that `abc`
    /// is a `422` naming `limit`, as an out-of-range number is.
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page
    pub cursor: Option<String>,
}

/// One audit event about the caller
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SecurityEventBody {
    pub id: i64,
    /// RFC 3339, to the microsecond
    pub at: String,
    /// `user.login_succeeded`, `user.login_failed`, `mfa.enabled`, ...
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub actor_id: Option<i64>,
    pub subject_id: Option<i64>,
    pub session_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// What else the type carries (a failed login's `reason`, a login's
    /// `amr`)
    pub data: serde_json::Value,
}

impl SecurityEventBody {
    pub(crate) fn new(event: AuditEvent) -> Self {
        Self {
            id: event.id,
            at: event.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            kind: event.kind.as_str(),
            actor_id: event.actor.map(|id| id.get()),
            subject_id: event.subject.map(|id| id.get()),
            session_id: event.session.map(|id| id.as_str().to_owned()),
            ip: event.ip.map(|ip| ip.to_string()),
            user_agent: event.user_agent,
            data: without_digests(event.data),
        }
    }
}

/// An event about the caller never carries an address digest (only a
/// failed login of an unknown address has one, and it has no subject);
/// dropped here all the same, so no digest can reach a response.
fn without_digests(mut data: serde_json::Value) -> serde_json::Value {
    if let Some(object) = data.as_object_mut() {
        object.retain(|key, _| !key.ends_with("_sha256"));
    }
    data
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SecurityEventsBody {
    /// Newest first
    pub events: Vec<SecurityEventBody>,
    /// Pass as `cursor` for the next page; `null` on the last one
    pub next_cursor: Option<String>,
}

/// The caller's security events
///
/// Logins (succeeded and failed) and changes to the second factor, newest
/// first, a page at a time. An event is readable within 5 s of its request.
#[api_v2_operation(tags(Account))]
pub async fn my_security_events(
    state: Data<AppState>,
    token: AccessToken,
    query: Query<SecurityEventsQuery>,
) -> Result<Json<SecurityEventsBody>, ApiError> {
    let SecurityEventsQuery { limit, cursor } = query.into_inner();
    let limit = match limit {
        Some(text) => Some(
            text.parse::<u32>()
                .map_err(|_| SecurityEventsError::InvalidLimit)?,
        ),
        None => None,
    };
    let page = state
        .security_events
        .list(&token.0, limit, cursor.as_deref())
        .await?;
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

    #[test]
    fn digests_never_reach_a_response() {
        let data = serde_json::json!({ "reason": "invalid_credentials", "email_sha256": "ab" });
        assert_eq!(
            without_digests(data),
            serde_json::json!({ "reason": "invalid_credentials" })
        );
    }
}
