//! The admin writes on `/admin/users*`: create, update, ban, unban, end
//! every session, reset the second factor. Each takes a
//! [`FreshLiveAccessToken`]: a fresh token whose session is live in
//! PostgreSQL and, for an admin with TOTP, `aal2` (`403 mfa_required`).

use actix_web::web::Data;
use application::ports::UserChanges;
use application::{AdminCaller, BanRequest, NewUserByAdmin};
use chrono::{DateTime, Utc};
use domain::{EmailAddress, Password, Role, Username};
use paperclip::actix::web::{Json, Path};
use paperclip::actix::{Apiv2Schema, CreatedJson, api_v2_operation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, FieldErrors};
use crate::extract::{Device, Field, FreshLiveAccessToken, JsonBody, parsed};
use crate::routes::users::{UserBody, user_id};
use crate::state::AppState;

/// The longest ban reason kept, in characters.
const MAX_REASON_CHARS: usize = 500;

const ROLE_RULE: &str = "Must be user or admin.";

fn role(raw: Option<String>, errors: &mut FieldErrors) -> Option<Role> {
    let raw = raw?;
    parsed(raw.parse::<Role>().map_err(|_| ROLE_RULE), "role", errors)
}

/// A new account, made by an admin
// `Debug` is safe: the password is a `SecretString`.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct CreateUserRequest {
    /// 3 to 80 characters after trimming, no control characters
    #[serde(default)]
    pub username: Field<String>,
    /// A valid address of at most 254 characters; case-insensitive
    #[serde(default)]
    pub email: Field<String>,
    /// PASSWORD_MIN_LENGTH (default 8) to 128 characters; without one the
    /// user is emailed a link (valid 7 days) to choose it
    #[serde(default)]
    pub password: Option<Field<SecretString>>,
    /// `user` (default) or `admin`
    pub role: Option<String>,
    /// Default false
    pub email_verified: Option<bool>,
}

impl CreateUserRequest {
    /// The register rules for username, email and password; every bad
    /// field in one `422`.
    fn into_request(self, state: &AppState) -> Result<NewUserByAdmin, ApiError> {
        let mut errors = FieldErrors::new();
        let username = self
            .username
            .take("username", &mut errors)
            .and_then(|raw| parsed(Username::parse(&raw), "username", &mut errors));
        let email = self
            .email
            .take("email", &mut errors)
            .and_then(|raw| parsed(EmailAddress::parse(&raw), "email", &mut errors));
        let password = match self.password {
            None => Some(None),
            Some(field) => field.take("password", &mut errors).and_then(|raw| {
                parsed(
                    Password::parse(raw.expose_secret(), state.password_policy),
                    "password",
                    &mut errors,
                )
                .map(Some)
            }),
        };
        let role = match self.role {
            None => Some(Role::User),
            raw => role(raw, &mut errors),
        };
        match (username, email, password, role) {
            (Some(username), Some(email), Some(password), Some(role)) if errors.is_empty() => {
                Ok(NewUserByAdmin {
                    username,
                    email,
                    password,
                    role,
                    email_verified: self.email_verified.unwrap_or(false),
                })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// The fields an admin changes; absent or null ones stay as they are
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct UpdateUserRequest {
    /// 3 to 80 characters after trimming, no control characters
    pub username: Option<String>,
    /// `user` or `admin`
    pub role: Option<String>,
    pub email_verified: Option<bool>,
}

impl UpdateUserRequest {
    fn into_changes(self) -> Result<UserChanges, ApiError> {
        let mut errors = FieldErrors::new();
        let username = self
            .username
            .and_then(|raw| parsed(Username::parse(&raw), "username", &mut errors));
        let role = role(self.role, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(UserChanges {
            username,
            role,
            email_verified: self.email_verified,
        })
    }
}

/// A ban
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct BanUserRequest {
    /// RFC 3339, in the future; null or absent: until lifted
    pub until: Option<String>,
    /// Why, for the audit log: 1 to 500 characters
    #[serde(default)]
    pub reason: Field<String>,
}

impl BanUserRequest {
    fn into_request(self) -> Result<BanRequest, ApiError> {
        let mut errors = FieldErrors::new();
        let until = match self.until {
            None => Some(None),
            Some(raw) => parsed(
                DateTime::parse_from_rfc3339(&raw)
                    .map(|until| Some(until.with_timezone(&Utc)))
                    .map_err(|_| "Must be an RFC 3339 date-time or null."),
                "until",
                &mut errors,
            ),
        };
        let reason = self.reason.take("reason", &mut errors).and_then(|raw| {
            let reason = raw.trim();
            let chars = reason.chars().count();
            parsed(
                if (1..=MAX_REASON_CHARS).contains(&chars) {
                    Ok(reason.to_owned())
                } else {
                    Err("Must be 1 to 500 characters.")
                },
                "reason",
                &mut errors,
            )
        });
        match (until, reason) {
            (Some(until), Some(reason)) if errors.is_empty() => Ok(BanRequest { until, reason }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct AdminMessageBody {
    pub message: &'static str,
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct AdminSessionsRevokedBody {
    pub message: &'static str,
    /// How many live sessions ended
    pub revoked: usize,
}

fn caller<'a>(token: &'a FreshLiveAccessToken, device: &'a Device) -> AdminCaller<'a> {
    AdminCaller {
        claims: &token.0,
        device: &device.0,
    }
}

/// Create a user (admins only; fresh token)
///
/// Without a password, the user is emailed an invitation whose link sets one.
#[api_v2_operation(tags(Admin))]
pub async fn create_user(
    state: Data<AppState>,
    token: FreshLiveAccessToken,
    device: Device,
    body: JsonBody<CreateUserRequest>,
) -> Result<CreatedJson<UserBody>, ApiError> {
    let request = body.0.into_request(&state)?;
    let user = state
        .admin_actions
        .create_user(caller(&token, &device), request)
        .await?;
    Ok(CreatedJson(UserBody::from(&user)))
}

/// Change a user's username, role or email verification (admins only; fresh token)
#[api_v2_operation(tags(Admin))]
pub async fn update_user(
    state: Data<AppState>,
    token: FreshLiveAccessToken,
    device: Device,
    id: Path<String>,
    body: JsonBody<UpdateUserRequest>,
) -> Result<Json<UserBody>, ApiError> {
    let target = user_id(&id)?;
    let changes = body.0.into_changes()?;
    let user = state
        .admin_actions
        .update_user(caller(&token, &device), target, changes)
        .await?;
    Ok(Json(UserBody::from(&user)))
}

/// Ban a user until a time or until lifted (admins only; fresh token)
///
/// Every token of the user dies at once; its logins answer 403 user_banned.
#[api_v2_operation(tags(Admin))]
pub async fn ban_user(
    state: Data<AppState>,
    token: FreshLiveAccessToken,
    device: Device,
    id: Path<String>,
    body: JsonBody<BanUserRequest>,
) -> Result<Json<AdminMessageBody>, ApiError> {
    let target = user_id(&id)?;
    let request = body.0.into_request()?;
    state
        .admin_actions
        .ban(caller(&token, &device), target, request)
        .await?;
    Ok(Json(AdminMessageBody {
        message: "User banned.",
    }))
}

/// Lift a user's ban (admins only; fresh token)
///
/// The tokens the ban killed stay dead.
#[api_v2_operation(tags(Admin))]
pub async fn unban_user(
    state: Data<AppState>,
    token: FreshLiveAccessToken,
    device: Device,
    id: Path<String>,
) -> Result<Json<AdminMessageBody>, ApiError> {
    let target = user_id(&id)?;
    state
        .admin_actions
        .unban(caller(&token, &device), target)
        .await?;
    Ok(Json(AdminMessageBody {
        message: "User unbanned.",
    }))
}

/// End every session of a user (admins only; fresh token)
#[api_v2_operation(tags(Admin))]
pub async fn revoke_user_sessions(
    state: Data<AppState>,
    token: FreshLiveAccessToken,
    device: Device,
    id: Path<String>,
) -> Result<Json<AdminSessionsRevokedBody>, ApiError> {
    let target = user_id(&id)?;
    let revoked = state
        .admin_actions
        .end_sessions(caller(&token, &device), target)
        .await?;
    Ok(Json(AdminSessionsRevokedBody {
        message: "Sessions revoked.",
        revoked,
    }))
}

/// Reset a user's two-factor authentication: TOTP and recovery codes (admins only; fresh token)
#[api_v2_operation(tags(Admin))]
pub async fn reset_user_mfa(
    state: Data<AppState>,
    token: FreshLiveAccessToken,
    device: Device,
    id: Path<String>,
) -> Result<Json<AdminMessageBody>, ApiError> {
    let target = user_id(&id)?;
    state
        .admin_actions
        .reset_mfa(caller(&token, &device), target)
        .await?;
    Ok(Json(AdminMessageBody {
        message: "Two-factor authentication reset.",
    }))
}
