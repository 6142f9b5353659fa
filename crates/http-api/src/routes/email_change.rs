//! `POST /users/me/email`, `POST /users/me/email/confirm` and
//! `POST /email-change/undo`.

use actix_web::web::Data;
use application::rate_limits::Rule;
use domain::EmailAddress;
use paperclip::actix::web::Json;
use paperclip::actix::{AcceptedJson, Apiv2Schema, api_v2_operation};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::email_verification::{AcceptedBody, secret_proof};
use super::users::UserBody;
use crate::error::{ApiError, FieldErrors};
use crate::extract::{Device, Field, FreshLiveAccessToken, JsonBody, parsed};
use crate::rate_limit::{Counted, counted};
use crate::state::AppState;

/// The address to move the account to, and the current password
// `Debug` is safe: the password is a `SecretString`.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct EmailChangeRequest {
    /// A valid address of at most 254 characters
    #[serde(default)]
    pub new_email: Field<String>,
    /// The account's current password
    #[serde(default)]
    pub current_password: Field<SecretString>,
}

/// Change your email address; needs a fresh token and the current password
///
/// Sends "Confirm your new email address" to the new address and "Your
/// email address is changing", with a link that undoes the change for 7
/// days, to the current one. Also `202` when another account uses the new
/// address (nothing is sent to it then). The change happens once the new
/// address confirms it. A wrong current password is `403` and counts as a
/// failed login; at most 3 requests per user an hour, whatever their
/// answer (`RATE_LIMIT_EMAIL_CHANGE_PER_USER`).
#[api_v2_operation(tags(Account))]
pub async fn request_email_change(
    state: Data<AppState>,
    token: FreshLiveAccessToken,
    device: Device,
    body: JsonBody<EmailChangeRequest>,
) -> Result<Counted<AcceptedJson<AcceptedBody>>, ApiError> {
    let subject = token.0.user_id.get().to_string();
    // Counted before anything is checked: every answer costs one.
    counted(&state, Rule::EmailChangePerUser, &subject, async {
        let body = body.0;
        let mut errors = FieldErrors::new();
        let new_email = body
            .new_email
            .take("new_email", &mut errors)
            .and_then(|raw| parsed(EmailAddress::parse(&raw), "new_email", &mut errors));
        let current = body.current_password.take("current_password", &mut errors);
        let (Some(new_email), Some(current)) = (new_email, current) else {
            return Err(ApiError::Validation(errors));
        };
        state
            .email_change
            .request(&token.0, &device.0, new_email, current)
            .await?;
        Ok(AcceptedBody::new(
            "Confirm the change from the new address.",
        ))
    })
    .await
}

/// The token of the link sent to the new address (or the account's current
/// email with the 6-digit code)
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct ConfirmEmailChangeRequest {
    /// The token of the link (`#token=...`)
    #[serde(default)]
    pub token: Option<Field<String>>,
    /// With `code`: the account's current address
    #[serde(default)]
    pub email: Option<Field<String>>,
    /// With `email`: the 6-digit code sent to the new address
    #[serde(default)]
    pub code: Option<Field<String>>,
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct EmailChangedBody {
    pub message: &'static str,
    pub user: UserBody,
}

/// Confirm a change of email address
///
/// No token needed: the link's token is the proof. The account gets the new
/// address, verified. `409 email_taken` when another account took it
/// meanwhile.
#[api_v2_operation(tags(Account))]
pub async fn confirm_email_change(
    state: Data<AppState>,
    body: JsonBody<ConfirmEmailChangeRequest>,
) -> Result<Json<EmailChangedBody>, ApiError> {
    let body = body.0;
    let mut errors = FieldErrors::new();
    let proof = secret_proof(body.token, body.email, body.code, &mut errors)
        .ok_or(ApiError::Validation(errors))?;
    let user = state.email_change.confirm(proof).await?;
    Ok(Json(EmailChangedBody {
        message: "Email address changed.",
        user: UserBody::from(&user),
    }))
}

/// The token of the undo link sent to the old address
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct UndoEmailChangeRequest {
    /// The token of the link (`#token=...`)
    #[serde(default)]
    pub token: Field<String>,
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct EmailChangeUndoneBody {
    pub message: &'static str,
    pub user: UserBody,
}

/// Undo a change of email address
///
/// No token needed: the link sent to the old address is the proof (valid 7
/// days, before or after the change was confirmed). The old address comes
/// back, verified, a pending change is cancelled and every session of the
/// account ends. `409 email_taken` when another account registered the old
/// address meanwhile.
#[api_v2_operation(tags(Account))]
pub async fn undo_email_change(
    state: Data<AppState>,
    body: JsonBody<UndoEmailChangeRequest>,
) -> Result<Json<EmailChangeUndoneBody>, ApiError> {
    let token = body.0.token.or_invalid("token")?;
    let user = state.email_change.undo(token).await?;
    Ok(Json(EmailChangeUndoneBody {
        message: "Email change undone.",
        user: UserBody::from(&user),
    }))
}
