//! The example of every request body, as Swagger UI pre-fills it. They
//! tell one story about one account, so that "Try it out" in the order
//! register, login, refresh, logout succeeds as given; the others are
//! well-formed and answer what they say (a code that was never sent is a
//! `400`, never a `5xx`). Where a body takes one of two proofs, the example
//! shows one: a body with every alternative at once is refused.
//! `tests/tests/api/edge_openapi_examples.rs` runs them all, in order,
//! against a live server.

use serde_json::{Value, json};

pub const USERNAME: &str = "ada";
pub const EMAIL: &str = "ada@example.com";
pub const PASSWORD: &str = "analytical engine 1843";
pub const NEW_PASSWORD: &str = "difference engine 1822";
/// What a six-digit code looks like; no email carries this one.
const CODE: &str = "123456";

/// The example body of the operation `operation_id`, when it has a body.
pub fn request_body(operation_id: &str) -> Option<Value> {
    Some(match operation_id {
        "register" => json!({"username": USERNAME, "email": EMAIL, "password": PASSWORD}),
        "login" => json!({"email": EMAIL, "password": PASSWORD}),
        "completeLogin" => json!({
            "mfa_token": "the mfa_token of the login's mfa_required answer",
            "code": CODE,
        }),
        "logout" => json!({"scope": "local"}),
        "verifyEmail" => json!({"email": EMAIL, "code": CODE}),
        "resendVerificationEmail" | "forgotPassword" => json!({"email": EMAIL}),
        "resetPassword" => json!({"email": EMAIL, "code": CODE, "password": NEW_PASSWORD}),
        "changePassword" => json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        "requestEmailChange" => json!({
            "new_email": "ada.lovelace@example.com",
            "current_password": PASSWORD,
        }),
        "confirmEmailChange" => json!({"email": EMAIL, "code": CODE}),
        "undoEmailChange" => json!({"token": "the token of the undo link (#token=...)"}),
        "confirmTotp" => json!({"code": CODE}),
        // An invitation: no password, so the user sets one from the email.
        "adminCreateUser" => json!({
            "username": "grace",
            "email": "grace@example.com",
            "role": "user",
            "email_verified": true,
        }),
        "adminUpdateUser" => json!({"username": "grace_hopper", "email_verified": true}),
        "adminBanUser" => json!({"until": null, "reason": "Sent spam to other users"}),
        _ => return None,
    })
}

/// The example of a path parameter: the first account's id.
pub fn path_id(operation_id: &str) -> Value {
    match operation_id {
        "revokeMySession" => json!("the sid claim of one of your access tokens"),
        _ => json!(1),
    }
}
