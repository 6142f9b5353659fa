//! `POST /password/forgot`, `POST /password/reset` and
//! `POST /users/me/password`.

use actix_web::web::Data;
use domain::{Password, PasswordPolicy, SecretProof};
use paperclip::actix::web::Json;
use paperclip::actix::{AcceptedJson, Apiv2Schema, api_v2_operation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::email_verification::{AcceptedBody, secret_proof};
use crate::error::{ApiError, FieldErrors};
use crate::extract::{Device, Field, JsonBody, LiveAccessToken, parsed};
use crate::state::AppState;

/// The message of every successful password change.
const UPDATED: &str = "Password updated.";

/// A new password, checked against the policy: `None` after recording why
/// under `name`.
fn new_password(
    field: Field<SecretString>,
    name: &str,
    policy: PasswordPolicy,
    errors: &mut FieldErrors,
) -> Option<Password> {
    field
        .take(name, errors)
        .and_then(|raw| parsed(Password::parse(raw.expose_secret(), policy), name, errors))
}

/// An address
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct ForgotPasswordRequest {
    #[serde(default)]
    pub email: Field<String>,
}

/// Send a password-reset email
///
/// Always `202`, in the same time whether or not an account uses the
/// address (the email goes through the outbox); at most one email per
/// account a minute.
#[api_v2_operation(tags(Account))]
pub async fn forgot_password(
    state: Data<AppState>,
    body: JsonBody<ForgotPasswordRequest>,
) -> Result<AcceptedJson<AcceptedBody>, ApiError> {
    let email = body.0.email.or_invalid("email")?;
    state.password_reset.forgot(&email).await?;
    Ok(AcceptedBody::new(
        "If an account uses that address, a password reset email is on its way.",
    ))
}

/// The link's token (or the account's email with the 6-digit code) and a
/// new password
// `Debug` is safe: the password is a `SecretString`.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct ResetPasswordRequest {
    /// The token of the link (`#token=...`)
    #[serde(default)]
    pub token: Option<Field<String>>,
    /// With `code`: the address the code was sent to
    #[serde(default)]
    pub email: Option<Field<String>>,
    /// With `email`: the 6-digit code of the email
    #[serde(default)]
    pub code: Option<Field<String>>,
    /// The new password: PASSWORD_MIN_LENGTH (default 8) to 128 characters
    #[serde(default)]
    pub password: Field<SecretString>,
}

impl ResetPasswordRequest {
    /// The proof and the new password, or one `422` naming every bad field;
    /// nothing reaches the secret store then.
    fn into_parts(self, policy: PasswordPolicy) -> Result<(SecretProof, Password), ApiError> {
        let mut errors = FieldErrors::new();
        let proof = secret_proof(self.token, self.email, self.code, &mut errors);
        let password = new_password(self.password, "password", policy, &mut errors);
        match (proof, password) {
            (Some(proof), Some(password)) if errors.is_empty() => Ok((proof, password)),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct PasswordUpdatedBody {
    pub message: &'static str,
}

/// Set a new password with the emailed link or code
///
/// Every session and token of the account is revoked, the address counts as
/// verified, and "Your password was changed" is sent. A password that
/// breaks the policy is `422` and leaves the link or code usable.
#[api_v2_operation(tags(Account))]
pub async fn reset_password(
    state: Data<AppState>,
    body: JsonBody<ResetPasswordRequest>,
) -> Result<Json<PasswordUpdatedBody>, ApiError> {
    let (proof, password) = body.0.into_parts(state.password_policy)?;
    state.password_reset.reset(proof, password).await?;
    Ok(Json(PasswordUpdatedBody { message: UPDATED }))
}

/// The current password and a new one
// `Debug` is safe: both are `SecretString`s.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct ChangePasswordRequest {
    #[serde(default)]
    pub current_password: Field<SecretString>,
    /// PASSWORD_MIN_LENGTH (default 8) to 128 characters
    #[serde(default)]
    pub new_password: Field<SecretString>,
}

/// Change your password
///
/// Every other session is revoked (this one stays) and "Your password was
/// changed" is sent. A wrong current password is `403` and counts as a
/// failed login of the account.
#[api_v2_operation(tags(Account))]
pub async fn change_password(
    state: Data<AppState>,
    token: LiveAccessToken,
    device: Device,
    body: JsonBody<ChangePasswordRequest>,
) -> Result<Json<PasswordUpdatedBody>, ApiError> {
    let body = body.0;
    let mut errors = FieldErrors::new();
    let current = body.current_password.take("current_password", &mut errors);
    let new = new_password(
        body.new_password,
        "new_password",
        state.password_policy,
        &mut errors,
    );
    let (Some(current), Some(new)) = (current, new) else {
        return Err(ApiError::Validation(errors));
    };
    state
        .password_change
        .change(&token.0, &device.0, current, new)
        .await?;
    Ok(Json(PasswordUpdatedBody { message: UPDATED }))
}
