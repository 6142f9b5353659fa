//! `POST /users/me/email` and `POST /users/me/email/confirm`.

use actix_web::HttpResponse;
use actix_web::web::Data;
use domain::EmailAddress;
use paperclip::actix::web::Json;
use paperclip::actix::{Apiv2Schema, api_v2_operation};
use serde::{Deserialize, Serialize};

use super::auth::parsed;
use super::email_verification::{AcceptedBody, secret_proof};
use super::users::UserBody;
use crate::error::{ApiError, FieldErrors};
use crate::extract::{Field, FreshLiveAccessToken, JsonBody};
use crate::state::AppState;

/// The address to move the account to
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct EmailChangeRequest {
    /// A valid address of at most 254 characters
    #[serde(default)]
    pub new_email: Field<String>,
}

/// Change your email address; needs a fresh token
///
/// Sends "Confirm your new email address" to the new address and "Your
/// email address is changing" to the current one. Also `202` when another
/// account uses the new address (nothing is sent to it then). The change
/// happens once the new address confirms it.
#[api_v2_operation(tags(Account))]
pub async fn request_email_change(
    state: Data<AppState>,
    token: FreshLiveAccessToken,
    body: JsonBody<EmailChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let new_email = body
        .0
        .new_email
        .take("new_email", &mut errors)
        .and_then(|raw| parsed(EmailAddress::parse(&raw), "new_email", &mut errors))
        .ok_or(ApiError::Validation(errors))?;
    state.email_change.request(&token.0, new_email).await?;
    Ok(AcceptedBody::response(
        "Confirm the change from the new address.",
    ))
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
