use actix_web::web::Data;
use chrono::SecondsFormat;
use domain::{User, UserId};
use paperclip::actix::web::{Json, Path};
use paperclip::actix::{Apiv2Schema, api_v2_operation};
use serde::Serialize;

use crate::error::ApiError;
use crate::extract::{AccessToken, Device, FreshLiveAccessToken};
use crate::state::AppState;

/// A user as the API shows it: never a password or hash.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct UserBody {
    pub id: i64,
    pub username: String,
    pub email: String,
    /// Whether the user proved it receives mail at `email`
    pub email_verified: bool,
    /// `user` or `admin`
    pub role: &'static str,
    /// RFC 3339
    pub created_at: String,
}

impl From<&User> for UserBody {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.get(),
            username: user.username.as_str().to_owned(),
            email: user.email.as_str().to_owned(),
            email_verified: user.email_verified,
            role: user.role.as_str(),
            created_at: user.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        }
    }
}

/// A `{id}` that is not an integer names no resource at all.
pub(super) fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// The caller's own account
#[api_v2_operation(tags(Users))]
pub async fn me(state: Data<AppState>, token: AccessToken) -> Result<Json<UserBody>, ApiError> {
    let user = state.accounts.current_user(&token.0).await?;
    Ok(Json(UserBody::from(&user)))
}

/// Read a user (yourself, or anyone as an admin)
#[api_v2_operation(tags(Users))]
pub async fn get_user(
    state: Data<AppState>,
    token: AccessToken,
    id: Path<String>,
) -> Result<Json<UserBody>, ApiError> {
    let target = user_id(&id)?;
    let user = state.accounts.get_user(&token.0, target).await?;
    Ok(Json(UserBody::from(&user)))
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct DeletedBody {
    pub message: &'static str,
}

/// Delete a user (yourself, or anyone as an admin); needs a fresh token
///
/// Every token the user held is revoked.
#[api_v2_operation(tags(Users))]
pub async fn delete_user(
    state: Data<AppState>,
    token: FreshLiveAccessToken,
    device: Device,
    id: Path<String>,
) -> Result<Json<DeletedBody>, ApiError> {
    let target = user_id(&id)?;
    state
        .accounts
        .delete_user(&token.0, target, &device.0)
        .await?;
    Ok(Json(DeletedBody {
        message: "User deleted.",
    }))
}
