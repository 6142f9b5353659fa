//! `/admin/users`: the user search. It takes a [`LiveAccessToken`] (see
//! the module above for why).

use actix_web::web::Data;
use application::UserSearchRequest;
use application::ports::{UserStatus, UserSummary};
use chrono::{DateTime, SecondsFormat, Utc};
use domain::Role;
use paperclip::actix::web::{Json, Query};
use paperclip::actix::{Apiv2Schema, api_v2_operation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::LiveAccessToken;
use crate::routes::users::UserBody;
use crate::state::AppState;

/// The filters of `GET /admin/users`, all optional. Read as text and
/// checked here, so that a bad value is a `422` naming its parameter.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct UserSearchQuery {
    /// The start of the email or the username, case-insensitively
    /// (`%` and `_` are plain characters)
    pub query: Option<String>,
    /// `user` or `admin`
    pub role: Option<String>,
    /// `active` or `banned`
    pub status: Option<String>,
    /// An integer from 1 to 200 (default 50)
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page
    pub cursor: Option<String>,
}

impl UserSearchQuery {
    fn request(self) -> Result<UserSearchRequest, ApiError> {
        let role = self
            .role
            .map(|role| role.parse::<Role>())
            .transpose()
            .map_err(|_| ApiError::validation("role", "must be user or admin"))?;
        let status = self
            .status
            .map(|status| UserStatus::parse(&status).ok_or(()))
            .transpose()
            .map_err(|()| ApiError::validation("status", "must be active or banned"))?;
        let limit = self
            .limit
            .map(|limit| limit.parse::<i64>())
            .transpose()
            .map_err(|_| ApiError::validation("limit", LIMIT_RULE))?;
        Ok(UserSearchRequest {
            query: self.query,
            role,
            status,
            limit,
            cursor: self.cursor,
        })
    }
}

pub(crate) const LIMIT_RULE: &str = "must be an integer from 1 to 200";

/// A user as the admin search lists it: the user object and its standing.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct AdminUserBody {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    /// `user` or `admin`
    pub role: &'static str,
    /// RFC 3339
    pub created_at: String,
    /// `active` or `banned`
    pub status: &'static str,
    /// RFC 3339; a ban lasts until then (absent when not banned)
    pub banned_until: Option<String>,
    /// RFC 3339: the start of the user's newest session still on record
    pub last_sign_in_at: Option<String>,
    /// Whether the user has TOTP enabled
    pub mfa_enabled: bool,
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl From<UserSummary> for AdminUserBody {
    fn from(summary: UserSummary) -> Self {
        let user = UserBody::from(&summary.user);
        Self {
            id: user.id,
            username: user.username,
            email: user.email,
            email_verified: user.email_verified,
            role: user.role,
            created_at: user.created_at,
            status: summary.status.as_str(),
            banned_until: summary.banned_until.map(time),
            last_sign_in_at: summary.last_sign_in_at.map(time),
            mfa_enabled: summary.mfa_enabled,
        }
    }
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct UserListBody {
    /// In id order
    pub users: Vec<AdminUserBody>,
    /// Pass as `cursor` for the next page; `null` on the last page
    pub next_cursor: Option<String>,
}

/// Search users (admins only), a page at a time
#[api_v2_operation(tags(Admin))]
pub async fn search_users(
    state: Data<AppState>,
    token: LiveAccessToken,
    query: Query<UserSearchQuery>,
) -> Result<Json<UserListBody>, ApiError> {
    let request = query.into_inner().request()?;
    let page = state.user_administration.search(&token.0, request).await?;
    Ok(Json(UserListBody {
        users: page.users.into_iter().map(AdminUserBody::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
