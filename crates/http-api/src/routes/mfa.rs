//! Two-factor authentication: `/users/me/mfa*` (enrol, confirm, status,
//! recovery codes, disable) and `POST /login/mfa`, the second step of a
//! login (`docs/http-api.md#two-factor-authentication`).

use actix_web::HttpRequest;
use actix_web::web::Data;
use application::{SecondFactorProof, SecondStepRequest};
use chrono::{DateTime, Utc};
use domain::RecoveryCode;
use paperclip::actix::web::Json;
use paperclip::actix::{Apiv2Schema, CreatedJson, api_v2_operation};
use serde::{Deserialize, Serialize};

use super::auth::LoginResponse;
use crate::error::{ApiError, FieldErrors};
use crate::extract::{
    Device, Field, FreshLiveAccessToken, FreshLiveAccessTokenAnyLevel, JsonBody,
    LiveAccessTokenAnyLevel, record_user,
};
use crate::state::AppState;

/// What an authenticator app needs: shown once
#[derive(Serialize, Apiv2Schema)]
pub struct TotpEnrolmentResponse {
    /// The shared secret in base32, to type into the app
    pub secret: String,
    /// `otpauth://totp/{issuer}:{email}?secret=...&issuer=...`
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG image
    pub qr_svg: String,
}

impl std::fmt::Debug for TotpEnrolmentResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolmentResponse([redacted])")
    }
}

/// Start turning on two-factor authentication (TOTP)
///
/// Makes a new secret, pending until `POST /users/me/mfa/totp/verify`
/// takes a first code from the app; a pending one is replaced. Needs a
/// fresh token.
#[api_v2_operation(tags(Account))]
pub async fn enrol_totp(
    state: Data<AppState>,
    token: FreshLiveAccessTokenAnyLevel,
) -> Result<CreatedJson<TotpEnrolmentResponse>, ApiError> {
    let kit = state.second_factor.enrol(&token.0).await?;
    Ok(CreatedJson(TotpEnrolmentResponse {
        secret: kit.secret,
        otpauth_uri: kit.otpauth_uri,
        qr_svg: kit.qr_svg,
    }))
}

/// A 6-digit code from the authenticator app
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct TotpCodeRequest {
    #[serde(default)]
    pub code: Field<String>,
}

/// The recovery codes: shown once, each usable once
#[derive(Serialize, Apiv2Schema)]
pub struct RecoveryCodesResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
    /// 10 codes, `xxxx-xxxx-xxxx-xxxx`
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for RecoveryCodesResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCodesResponse([redacted])")
    }
}

fn shown(codes: &[RecoveryCode]) -> Vec<String> {
    codes.iter().map(RecoveryCode::display).collect()
}

/// Turn on two-factor authentication with a first code
///
/// Answers the 10 recovery codes. Every other session of the user ends
/// and "Two-factor authentication was turned on" is sent; this session
/// stays (as `aal1`: a new login gives `aal2`).
#[api_v2_operation(tags(Account))]
pub async fn confirm_totp(
    state: Data<AppState>,
    token: LiveAccessTokenAnyLevel,
    device: Device,
    body: JsonBody<TotpCodeRequest>,
) -> Result<Json<RecoveryCodesResponse>, ApiError> {
    let code = body.0.code.or_invalid("code")?;
    let codes = state
        .second_factor
        .confirm(&token.0, &code, &device.0)
        .await?;
    Ok(Json(RecoveryCodesResponse {
        message: Some("Two-factor authentication enabled."),
        recovery_codes: shown(&codes),
    }))
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct TotpStatus {
    pub enabled: bool,
    pub enabled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct MfaStatusResponse {
    pub totp: TotpStatus,
    pub recovery_codes_remaining: u32,
}

/// The state of two-factor authentication
#[api_v2_operation(tags(Account))]
pub async fn mfa_status(
    state: Data<AppState>,
    token: LiveAccessTokenAnyLevel,
) -> Result<Json<MfaStatusResponse>, ApiError> {
    let status = state.second_factor.status(&token.0).await?;
    Ok(Json(MfaStatusResponse {
        totp: TotpStatus {
            enabled: status.totp_enabled_at.is_some(),
            enabled_at: status.totp_enabled_at,
        },
        recovery_codes_remaining: status.recovery_codes_remaining,
    }))
}

/// Make new recovery codes
///
/// The old ones, used or not, stop working. Needs a fresh token from a
/// login that passed the second factor.
#[api_v2_operation(tags(Account))]
pub async fn replace_recovery_codes(
    state: Data<AppState>,
    token: FreshLiveAccessToken,
) -> Result<Json<RecoveryCodesResponse>, ApiError> {
    let codes = state.second_factor.replace_recovery_codes(&token.0).await?;
    Ok(Json(RecoveryCodesResponse {
        message: None,
        recovery_codes: shown(&codes),
    }))
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct MfaMessage {
    pub message: &'static str,
}

/// Turn off two-factor authentication
///
/// Every other session of the user ends and "Two-factor authentication was
/// turned off" is sent. Needs a fresh token from a login that passed the
/// second factor.
#[api_v2_operation(tags(Account))]
pub async fn disable_totp(
    state: Data<AppState>,
    token: FreshLiveAccessToken,
    device: Device,
) -> Result<Json<MfaMessage>, ApiError> {
    state.second_factor.disable(&token.0, &device.0).await?;
    Ok(Json(MfaMessage {
        message: "Two-factor authentication disabled.",
    }))
}

/// The `mfa_token` of the login, and a code from the app or a recovery code
// `Debug` shows no value: `Field` hides it.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct SecondStepBody {
    #[serde(default)]
    pub mfa_token: Field<String>,
    /// 6 digits from the authenticator app (or give `recovery_code`)
    #[serde(default)]
    pub code: Option<Field<String>>,
    /// One of the recovery codes (or give `code`)
    #[serde(default)]
    pub recovery_code: Option<Field<String>>,
}

impl SecondStepBody {
    /// The request, or a `422` naming every bad field: exactly one of
    /// `code` and `recovery_code`.
    fn into_request(self) -> Result<SecondStepRequest, ApiError> {
        let mut errors = FieldErrors::new();
        let mfa_token = self.mfa_token.take("mfa_token", &mut errors);
        let proof = match (self.code, self.recovery_code) {
            (Some(code), None) => code.take("code", &mut errors).map(SecondFactorProof::Totp),
            (None, Some(code)) => code
                .take("recovery_code", &mut errors)
                .map(SecondFactorProof::RecoveryCode),
            (None, None) => {
                errors
                    .entry("code".to_owned())
                    .or_default()
                    .push("Give code or recovery_code.".to_owned());
                None
            }
            (Some(_), Some(_)) => {
                errors
                    .entry("recovery_code".to_owned())
                    .or_default()
                    .push("Give code or recovery_code, not both.".to_owned());
                None
            }
        };
        match (mfa_token, proof) {
            (Some(mfa_token), Some(proof)) if errors.is_empty() => {
                Ok(SecondStepRequest { mfa_token, proof })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// Finish a login with its second factor
///
/// After `POST /login` answered `mfa_required`: the same answer as a login
/// without a second factor, with tokens of assurance `aal2`. Every refusal
/// (a wrong, replayed or refused code; an unknown, used, expired or dead
/// `mfa_token`) is `400 invalid_or_expired_token`; an `mfa_token` takes 5
/// wrong codes.
#[api_v2_operation(tags(Auth))]
pub async fn login_second_step(
    request: HttpRequest,
    state: Data<AppState>,
    body: JsonBody<SecondStepBody>,
) -> Result<Json<LoginResponse>, ApiError> {
    let second_step = body.0.into_request()?;
    let tokens = state.authentication.complete_login(second_step).await?;
    record_user(&request, tokens.user_id);
    Ok(Json(LoginResponse::signed_in(tokens)))
}
