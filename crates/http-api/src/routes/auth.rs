use actix_web::web::Data;
use application::Registration;
use domain::{EmailAddress, Password, PasswordPolicy, Username};
use garde::Validate;
use paperclip::actix::web::Json;
use paperclip::actix::{Apiv2Schema, CreatedJson, api_v2_operation};
use serde::{Deserialize, Serialize};

use super::users::UserBody;
use crate::error::{ApiError, FieldErrors};
use crate::extract::{JsonBody, RefreshToken, Required};
use crate::state::AppState;

const MISSING: &str = "Missing data for required field.";

/// The value of a required field, or garde's error for its absence.
fn present(value: &Required<String>) -> Result<&str, garde::Error> {
    value
        .as_ref()
        .map(String::as_str)
        .ok_or_else(|| garde::Error::new(MISSING))
}

fn required(value: &Required<String>, _: &impl Sized) -> garde::Result {
    present(value).map(drop)
}

/// Each rule delegates to the domain type, so the HTTP layer and the
/// domain can never disagree about what is valid.
fn valid_username(value: &Required<String>, _: &PasswordPolicy) -> garde::Result {
    Username::parse(present(value)?)
        .map(drop)
        .map_err(|error| garde::Error::new(error.to_string()))
}

fn valid_email(value: &Required<String>, _: &PasswordPolicy) -> garde::Result {
    EmailAddress::parse(present(value)?)
        .map(drop)
        .map_err(|error| garde::Error::new(error.to_string()))
}

fn valid_password(value: &Required<String>, policy: &PasswordPolicy) -> garde::Result {
    Password::parse(present(value)?, *policy)
        .map(drop)
        .map_err(|error| garde::Error::new(error.to_string()))
}

fn field_errors(report: &garde::Report) -> FieldErrors {
    let mut fields = FieldErrors::new();
    for (path, error) in report.iter() {
        fields
            .entry(path.to_string())
            .or_default()
            .push(error.message().to_string());
    }
    fields
}

#[derive(Debug, Deserialize, Validate, Apiv2Schema)]
#[garde(context(PasswordPolicy))]
pub struct RegisterRequest {
    /// 3 to 80 characters after trimming, no control characters
    #[serde(default)]
    #[garde(custom(valid_username))]
    pub username: Required<String>,
    /// A valid address of at most 254 characters; case-insensitive
    #[serde(default)]
    #[garde(custom(valid_email))]
    pub email: Required<String>,
    /// PASSWORD_MIN_LENGTH (default 8) to 128 characters
    #[serde(default)]
    #[garde(custom(valid_password))]
    pub password: Required<String>,
}

impl RegisterRequest {
    fn into_registration(self, policy: PasswordPolicy) -> Result<Registration, ApiError> {
        self.validate_with(&policy)
            .map_err(|report| ApiError::Validation(field_errors(&report)))?;
        // Validation above used these same parsers, so they succeed; the
        // mapping only keeps the edge honest should the two ever diverge.
        let invalid = |field: &str, error: &dyn std::fmt::Display| {
            ApiError::validation(field, error.to_string())
        };
        let username = self.username.into_inner().unwrap_or_default();
        let email = self.email.into_inner().unwrap_or_default();
        let password = self.password.into_inner().unwrap_or_default();
        Ok(Registration {
            username: Username::parse(&username).map_err(|e| invalid("username", &e))?,
            email: EmailAddress::parse(&email).map_err(|e| invalid("email", &e))?,
            password: Password::parse(&password, policy).map_err(|e| invalid("password", &e))?,
        })
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
    body: JsonBody<RegisterRequest>,
) -> Result<CreatedJson<RegisterResponse>, ApiError> {
    let registration = body.0.into_registration(state.password_policy)?;
    let user = state.accounts.register(registration).await?;
    Ok(CreatedJson(RegisterResponse {
        message: "User created successfully.",
        user: UserBody::from(&user),
    }))
}

#[derive(Debug, Deserialize, Validate, Apiv2Schema)]
pub struct LoginRequest {
    #[serde(default)]
    #[garde(custom(required))]
    pub email: Required<String>,
    #[serde(default)]
    #[garde(custom(required))]
    pub password: Required<String>,
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct LoginResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires
    pub expires_in: u64,
}

/// Log in with email and password
///
/// Returns a fresh access token and a refresh token of a new login session.
#[api_v2_operation(tags(Auth))]
pub async fn login(
    state: Data<AppState>,
    body: JsonBody<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let request = body.0;
    request
        .validate()
        .map_err(|report| ApiError::Validation(field_errors(&report)))?;
    let (Some(email), Some(password)) = (request.email.into_inner(), request.password.into_inner())
    else {
        return Err(ApiError::validation("body", MISSING));
    };
    let tokens = state
        .authentication
        .login(&email, secrecy::SecretString::from(password))
        .await?;
    Ok(Json(LoginResponse {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        token_type: "Bearer",
        expires_in: tokens.expires_in,
    }))
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct RefreshResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

/// Get a new (non-fresh) access token with a refresh token
#[api_v2_operation(tags(Auth))]
pub async fn refresh(
    state: Data<AppState>,
    token: RefreshToken,
) -> Result<Json<RefreshResponse>, ApiError> {
    let issued = state.authentication.refresh(&token.0).await?;
    Ok(Json(RefreshResponse {
        access_token: issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
    }))
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct LogoutResponse {
    pub message: &'static str,
}

/// Log out: revoke the refresh token and every token of its login session
#[api_v2_operation(tags(Auth))]
pub async fn logout(
    state: Data<AppState>,
    token: RefreshToken,
) -> Result<Json<LogoutResponse>, ApiError> {
    state.authentication.logout(&token.0).await?;
    Ok(Json(LogoutResponse {
        message: "Successfully logged out.",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        username: Option<&str>,
        email: Option<&str>,
        password: Option<&str>,
    ) -> RegisterRequest {
        RegisterRequest {
            username: Required(username.map(str::to_owned)),
            email: Required(email.map(str::to_owned)),
            password: Required(password.map(str::to_owned)),
        }
    }

    fn errors(result: Result<Registration, ApiError>) -> FieldErrors {
        match result {
            Err(ApiError::Validation(fields)) => fields,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn reports_every_invalid_field_at_once() {
        let fields = errors(
            request(Some("ab"), Some("nope"), Some("short"))
                .into_registration(PasswordPolicy::default()),
        );
        assert_eq!(
            fields["username"],
            ["Username must be between 3 and 80 characters long."]
        );
        assert_eq!(fields["email"], ["Not a valid email address."]);
        assert_eq!(
            fields["password"],
            ["Password must be at least 8 characters long."]
        );
    }

    #[test]
    fn reports_missing_fields() {
        let fields = errors(request(None, None, None).into_registration(PasswordPolicy::default()));
        for field in ["username", "email", "password"] {
            assert_eq!(fields[field], [MISSING], "{field}");
        }
    }

    #[test]
    fn applies_the_configured_password_minimum() {
        let policy = PasswordPolicy::new(12).unwrap();
        let fields = errors(
            request(Some("ada"), Some("a@b.io"), Some("elevenchars")).into_registration(policy),
        );
        assert_eq!(
            fields["password"],
            ["Password must be at least 12 characters long."]
        );
    }

    #[test]
    fn accepts_a_valid_request_and_trims() {
        let registration = request(Some("  ada "), Some(" Ada@B.io "), Some("long enough"))
            .into_registration(PasswordPolicy::default())
            .unwrap();
        assert_eq!(registration.username.as_str(), "ada");
        assert_eq!(registration.email.as_str(), "Ada@B.io");
    }
}
