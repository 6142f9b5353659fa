//! `POST /verify-email` and `POST /verify-email/resend`.

use actix_web::web::Data;
use domain::SecretProof;
use paperclip::actix::web::Json;
use paperclip::actix::{AcceptedJson, Apiv2Schema, api_v2_operation};
use serde::{Deserialize, Serialize};

use super::users::UserBody;
use crate::error::{ApiError, FieldErrors};
use crate::extract::{Field, JsonBody};
use crate::state::AppState;

/// The link's token, or the account's email with the 6-digit code
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct VerifyEmailRequest {
    /// The token of the link (`#token=...`)
    #[serde(default)]
    pub token: Option<Field<String>>,
    /// With `code`: the address the code was sent to
    #[serde(default)]
    pub email: Option<Field<String>>,
    /// With `email`: the 6-digit code of the email
    #[serde(default)]
    pub code: Option<Field<String>>,
}

impl VerifyEmailRequest {
    /// `{"token"}`, or `{"email", "code"}`; a `422` names what is missing.
    pub fn into_proof(self) -> Result<SecretProof, ApiError> {
        let mut errors = FieldErrors::new();
        secret_proof(self.token, self.email, self.code, &mut errors)
            .ok_or(ApiError::Validation(errors))
    }
}

/// The proof of a one-time secret from a body's `token`, or its `email`
/// with `code`; `None` after recording in `errors` what is missing or
/// mistyped (`token` when the body has none of the three).
pub(super) fn secret_proof(
    token: Option<Field<String>>,
    email: Option<Field<String>>,
    code: Option<Field<String>>,
    errors: &mut FieldErrors,
) -> Option<SecretProof> {
    if let Some(token) = token {
        return token.take("token", errors).map(SecretProof::Token);
    }
    if email.is_none() && code.is_none() {
        errors
            .entry("token".to_owned())
            .or_default()
            .push(crate::extract::field::MISSING.to_owned());
        return None;
    }
    let email = email.unwrap_or_default().take("email", errors);
    let code = code.unwrap_or_default().take("code", errors);
    Some(SecretProof::Code {
        email: email?,
        code: code?,
    })
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct VerifiedBody {
    pub message: &'static str,
    pub user: UserBody,
}

/// Confirm an email address with the link's token or the emailed code
///
/// Every failure (unknown, expired, used, wrong code, 5 wrong tries) is
/// `400 invalid_or_expired_token`. A GET never consumes anything: only this
/// POST does, so mail scanners opening the link change nothing.
#[api_v2_operation(tags(Account))]
pub async fn verify_email(
    state: Data<AppState>,
    body: JsonBody<VerifyEmailRequest>,
) -> Result<Json<VerifiedBody>, ApiError> {
    let proof = body.0.into_proof()?;
    let user = state.verification.verify(proof).await?;
    Ok(Json(VerifiedBody {
        message: "Email verified.",
        user: UserBody::from(&user),
    }))
}

/// An address
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct ResendRequest {
    #[serde(default)]
    pub email: Field<String>,
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct AcceptedBody {
    pub message: &'static str,
}

impl AcceptedBody {
    /// `202` with `{"message"}`: the answer of the routes that must not
    /// tell whether an account exists.
    pub fn new(message: &'static str) -> AcceptedJson<Self> {
        AcceptedJson(Self { message })
    }
}

/// Send a new verification email
///
/// Always `202`, whether the account exists, is verified already, or was
/// sent one less than 60 s ago (then nothing is sent).
#[api_v2_operation(tags(Account))]
pub async fn resend_verification(
    state: Data<AppState>,
    body: JsonBody<ResendRequest>,
) -> Result<AcceptedJson<AcceptedBody>, ApiError> {
    let email = body.0.email.or_invalid("email")?;
    state.verification.resend(&email).await?;
    Ok(AcceptedBody::new(
        "If an unverified account uses that address, a new email is on its way.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof(body: serde_json::Value) -> Result<SecretProof, ApiError> {
        serde_json::from_value::<VerifyEmailRequest>(body)
            .unwrap()
            .into_proof()
    }

    fn fields(result: Result<SecretProof, ApiError>) -> FieldErrors {
        match result {
            Err(ApiError::Validation(fields)) => fields,
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn a_token_or_an_email_with_a_code() {
        assert_eq!(
            proof(serde_json::json!({"token": "t"})).unwrap(),
            SecretProof::Token("t".into())
        );
        assert_eq!(
            proof(serde_json::json!({"email": "a@b.io", "code": "123456"})).unwrap(),
            SecretProof::Code {
                email: "a@b.io".into(),
                code: "123456".into()
            }
        );
    }

    #[test]
    fn what_is_missing_or_mistyped_is_named() {
        assert!(fields(proof(serde_json::json!({}))).contains_key("token"));
        assert!(fields(proof(serde_json::json!({"email": "a@b.io"}))).contains_key("code"));
        assert!(fields(proof(serde_json::json!({"code": "123456"}))).contains_key("email"));
        assert!(fields(proof(serde_json::json!({"token": 5}))).contains_key("token"));
    }
}
