//! A user's login sessions: list them, end one, end them all.

use actix_web::web::Data;
use chrono::SecondsFormat;
use domain::{Session, SessionId};
use paperclip::actix::web::{Json, Path};
use paperclip::actix::{Apiv2Schema, api_v2_operation};
use serde::Serialize;

use super::users::user_id;
use crate::error::ApiError;
use crate::extract::{FreshLiveAccessToken, LiveAccessToken};
use crate::state::AppState;

/// One live login session
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SessionBody {
    /// The `sid` claim of its tokens
    pub id: String,
    /// Whether the token of this request belongs to it
    pub current: bool,
    /// RFC 3339
    pub created_at: String,
    /// RFC 3339: its last login or refresh
    pub last_used_at: String,
    /// RFC 3339: when it dies unless it is refreshed again
    pub expires_at: String,
    /// The client IP of its login, if known
    pub ip: Option<String>,
    /// The User-Agent of its login, if sent
    pub user_agent: Option<String>,
}

impl SessionBody {
    fn new(session: Session, current: &SessionId) -> Self {
        let time =
            |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(SecondsFormat::Secs, true);
        Self {
            current: &session.id == current,
            id: session.id.as_str().to_owned(),
            created_at: time(session.created_at),
            last_used_at: time(session.last_used_at),
            expires_at: time(session.expires_at),
            ip: session.ip.map(|ip| ip.to_string()),
            user_agent: session.user_agent,
        }
    }
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SessionsBody {
    /// Live sessions, newest first
    pub sessions: Vec<SessionBody>,
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SessionRevokedBody {
    pub message: &'static str,
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SessionsRevokedBody {
    pub message: &'static str,
    /// How many live sessions were ended
    pub revoked: usize,
}

fn listing(sessions: Vec<Session>, current: &SessionId) -> SessionsBody {
    SessionsBody {
        sessions: sessions
            .into_iter()
            .map(|session| SessionBody::new(session, current))
            .collect(),
    }
}

/// The caller's live sessions
#[api_v2_operation(tags(Sessions))]
pub async fn my_sessions(
    state: Data<AppState>,
    token: LiveAccessToken,
) -> Result<Json<SessionsBody>, ApiError> {
    let claims = token.0;
    let sessions = state.sessions.list(&claims, claims.user_id).await?;
    Ok(Json(listing(sessions, &claims.session_id)))
}

/// End one of the caller's sessions; needs a fresh token
///
/// Its refresh and access tokens are revoked at once. Any id that is not one
/// of the caller's live sessions is `404 session_not_found`.
#[api_v2_operation(tags(Sessions))]
pub async fn revoke_my_session(
    state: Data<AppState>,
    token: FreshLiveAccessToken,
    id: Path<String>,
) -> Result<Json<SessionRevokedBody>, ApiError> {
    let session = SessionId::parse(&id).ok_or(application::SessionAccessError::SessionNotFound)?;
    state.sessions.revoke_own(&token.0, &session).await?;
    Ok(Json(SessionRevokedBody {
        message: "Session revoked.",
    }))
}

/// A user's live sessions (yourself, or anyone as an admin)
#[api_v2_operation(tags(Sessions))]
pub async fn user_sessions(
    state: Data<AppState>,
    token: LiveAccessToken,
    id: Path<String>,
) -> Result<Json<SessionsBody>, ApiError> {
    let target = user_id(&id)?;
    let claims = token.0;
    let sessions = state.sessions.list(&claims, target).await?;
    Ok(Json(listing(sessions, &claims.session_id)))
}

/// End every session of a user (yourself, or anyone as an admin); needs a fresh token
///
/// The caller's own session is ended too when it is that user's.
#[api_v2_operation(tags(Sessions))]
pub async fn revoke_user_sessions(
    state: Data<AppState>,
    token: FreshLiveAccessToken,
    id: Path<String>,
) -> Result<Json<SessionsRevokedBody>, ApiError> {
    let target = user_id(&id)?;
    let revoked = state.sessions.revoke_all(&token.0, target).await?;
    Ok(Json(SessionsRevokedBody {
        message: "Sessions revoked.",
        revoked,
    }))
}
