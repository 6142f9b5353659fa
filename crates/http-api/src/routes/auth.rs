use actix_web::HttpRequest;
use actix_web::web::Data;
use application::{LoginOutcome, LoginTokens, Registration, SecondFactorChallenge};
use domain::{
    ClientDevice, DeviceToken, EmailAddress, LogoutScope, Password, PasswordPolicy, Username,
};
use paperclip::actix::web::Json;
use paperclip::actix::{Apiv2Schema, CreatedJson, api_v2_operation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::users::UserBody;
use crate::error::{ApiError, FieldErrors};
use crate::extract::{
    Device, Field, JsonBody, OptionalJsonBody, RefreshToken, parsed, record_user,
};
use crate::state::AppState;

/// A new account
// `Debug` is safe: the password is a `SecretString`.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct RegisterRequest {
    /// 3 to 80 characters after trimming, no control characters
    #[serde(default)]
    pub username: Field<String>,
    /// A valid address of at most 254 characters; case-insensitive
    #[serde(default)]
    pub email: Field<String>,
    /// PASSWORD_MIN_LENGTH (default 8) to 128 characters
    #[serde(default)]
    pub password: Field<SecretString>,
}

impl RegisterRequest {
    /// Turns the body into domain values in one step: each domain parser
    /// runs once, and every field's error (missing ones too) is collected
    /// into one `422`.
    pub fn into_registration(self, policy: PasswordPolicy) -> Result<Registration, ApiError> {
        let mut errors = FieldErrors::new();
        let username = self
            .username
            .take("username", &mut errors)
            .and_then(|raw| parsed(Username::parse(&raw), "username", &mut errors));
        let email = self
            .email
            .take("email", &mut errors)
            .and_then(|raw| parsed(EmailAddress::parse(&raw), "email", &mut errors));
        let password = self.password.take("password", &mut errors).and_then(|raw| {
            parsed(
                Password::parse(raw.expose_secret(), policy),
                "password",
                &mut errors,
            )
        });
        match (username, email, password) {
            (Some(username), Some(email), Some(password)) if errors.is_empty() => {
                Ok(Registration {
                    username,
                    email,
                    password,
                })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct RegisterResponse {
    pub message: &'static str,
    pub user: UserBody,
}

/// Create an account
///
/// Sends a welcome email, even when the queue is down at that moment.
#[api_v2_operation(tags(Auth))]
pub async fn register(
    state: Data<AppState>,
    device: Device,
    body: JsonBody<RegisterRequest>,
) -> Result<CreatedJson<RegisterResponse>, ApiError> {
    let registration = body.0.into_registration(state.password_policy)?;
    let user = state.accounts.register(registration, &device.0).await?;
    Ok(CreatedJson(RegisterResponse {
        message: "User created successfully.",
        user: UserBody::from(&user),
    }))
}

/// Credentials; no policy applies here
// `Debug` is safe: the password is a `SecretString`, the device token one
// too.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct LoginRequest {
    #[serde(default)]
    pub email: Field<String>,
    #[serde(default)]
    pub password: Field<SecretString>,
    /// The `device_token` an earlier login answered this client with:
    /// failed logins elsewhere never throttle a client that sends it
    #[serde(default)]
    pub device_token: Option<Field<SecretString>>,
}

impl LoginRequest {
    /// The login to attempt, or a `422` naming every field missing or not
    /// a string. A device token this service could not have issued counts
    /// as none.
    pub fn into_login(self, device: ClientDevice) -> Result<application::LoginRequest, ApiError> {
        let mut errors = FieldErrors::new();
        let email = self.email.take("email", &mut errors);
        let password = self.password.take("password", &mut errors);
        let device_token = self
            .device_token
            .and_then(|field| field.take("device_token", &mut errors))
            .and_then(|raw| DeviceToken::parse(raw.expose_secret()));
        match (email, password) {
            (Some(email), Some(password)) if errors.is_empty() => Ok(application::LoginRequest {
                email,
                password,
                device,
                device_token,
            }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// A login's answer: the tokens, or, for a user with two-factor
/// authentication, `mfa_required` with the `mfa_token` of the second step
/// (`POST /login/mfa`) and no tokens
#[derive(Serialize, Apiv2Schema)]
pub struct LoginResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Seconds until the access token (or the `mfa_token`) expires
    pub expires_in: u64,
    /// Send it back as `device_token` with this client's next logins
    /// (43 characters; keep it like a password)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
    /// `true`: finish with `POST /login/mfa`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_required: Option<bool>,
    /// 43 characters, for `POST /login/mfa`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    /// What the second step takes: `totp`, `recovery_code`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<&'static str>>,
}

impl LoginResponse {
    pub fn signed_in(tokens: LoginTokens) -> Self {
        Self {
            access_token: Some(tokens.access_token),
            refresh_token: Some(tokens.refresh_token),
            token_type: Some("Bearer"),
            expires_in: tokens.expires_in,
            device_token: Some(tokens.device_token.as_str().to_owned()),
            mfa_required: None,
            mfa_token: None,
            methods: None,
        }
    }

    fn second_factor_required(challenge: SecondFactorChallenge) -> Self {
        Self {
            access_token: None,
            refresh_token: None,
            token_type: None,
            expires_in: challenge.expires_in,
            device_token: None,
            mfa_required: Some(true),
            mfa_token: Some(challenge.mfa_token.as_str().to_owned()),
            methods: Some(vec!["totp", "recovery_code"]),
        }
    }
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Log in with email and password
///
/// Returns a fresh access token and a refresh token of a new login session.
/// A sign-in from a device the account has not used for 90 days sends the
/// "New sign-in to your account" email (never on the first login). A user
/// with two-factor authentication gets `mfa_required` and an `mfa_token`
/// instead, and finishes with `POST /login/mfa`.
#[api_v2_operation(tags(Auth))]
pub async fn login(
    request: HttpRequest,
    state: Data<AppState>,
    device: Device,
    body: JsonBody<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let login = body.0.into_login(device.0)?;
    // A throttled client gets 429 whatever the password.
    Ok(Json(match state.authentication.login(login).await? {
        LoginOutcome::SignedIn(tokens) => {
            record_user(&request, tokens.user_id);
            LoginResponse::signed_in(tokens)
        }
        LoginOutcome::SecondFactorRequired(challenge) => {
            record_user(&request, challenge.user_id);
            LoginResponse::second_factor_required(challenge)
        }
    }))
}

#[derive(Serialize, Apiv2Schema)]
pub struct RefreshResponse {
    pub access_token: String,
    /// The session's next refresh token (absent when
    /// REFRESH_TOKEN_ROTATION=false); the one presented is superseded
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub token_type: &'static str,
    pub expires_in: u64,
}

impl std::fmt::Debug for RefreshResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshResponse")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Rotate a refresh token: a new (non-fresh) access token and refresh token
///
/// The refresh token just superseded still works for REFRESH_REUSE_INTERVAL
/// (answering the current tokens); any other reuse revokes the whole
/// session (`401 refresh_token_reused`).
#[api_v2_operation(tags(Auth))]
pub async fn refresh(
    state: Data<AppState>,
    token: RefreshToken,
) -> Result<Json<RefreshResponse>, ApiError> {
    let issued = state.authentication.refresh(&token.0).await?;
    Ok(Json(RefreshResponse {
        access_token: issued.access_token,
        refresh_token: issued.refresh_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
    }))
}

/// Which sessions to end; the body may be left out
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct LogoutRequest {
    /// `local` (default): this session; `others`: every other session of
    /// the user; `global`: every session of the user
    #[serde(default)]
    pub scope: Option<Field<String>>,
}

impl LogoutRequest {
    fn scope(body: Option<LogoutRequest>) -> Result<LogoutScope, ApiError> {
        let Some(field) = body.and_then(|body| body.scope) else {
            return Ok(LogoutScope::default());
        };
        let mut errors = FieldErrors::new();
        let scope = field
            .take("scope", &mut errors)
            .and_then(|raw| parsed(raw.parse::<LogoutScope>(), "scope", &mut errors));
        scope.ok_or(ApiError::Validation(errors))
    }
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct LogoutResponse {
    pub message: &'static str,
}

/// Log out: end this session, every other one, or all of them
///
/// Any refresh token of a live session will do, a superseded one too. Every
/// refresh and access token of the ended sessions is revoked at once.
#[api_v2_operation(tags(Auth))]
pub async fn logout(
    state: Data<AppState>,
    token: RefreshToken,
    body: OptionalJsonBody<LogoutRequest>,
) -> Result<Json<LogoutResponse>, ApiError> {
    let scope = LogoutRequest::scope(body.0)?;
    state.authentication.logout(&token.0, scope).await?;
    Ok(Json(LogoutResponse {
        message: "Successfully logged out.",
    }))
}

#[cfg(test)]
mod tests;
