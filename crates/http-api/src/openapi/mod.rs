//! Makes the generated OpenAPI document tell the truth. paperclip records
//! operations and schemas; it cannot say which errors an operation really
//! answers, nor the length and format rules of a field. This module sets
//! both: the statuses from each route's declaration in
//! [`crate::routes::ROUTES`], the field rules from the domain's own limits.

mod answers;
pub mod examples;

use domain::{EmailAddress, PasswordPolicy, Username};
use serde_json::{Map, Value, json};

use crate::routes::{Answer, Caller, ROUTES, Route};

fn envelope_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    })
}

/// The responses of the routes that write their bodies by hand, which
/// paperclip cannot see; `None` for the others.
fn hand_written_responses(route: &Route) -> Option<Value> {
    route.answers.iter().find_map(|answer| match answer {
        Answer::Readiness => Some(readiness_responses()),
        Answer::Jwks => Some(jwks_responses()),
        Answer::Discovery => Some(discovery_responses()),
        _ => None,
    })
}

fn jwks_responses() -> Value {
    json!({
        "200": {
            "description": "The public keys (RFC 7517 JWK Set): every standby, active and retired signing key; empty when tokens are signed with a shared secret",
            "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["keys"],
                "properties": {"keys": {"type": "array", "items": {
                    "type": "object",
                    "required": ["kid", "kty", "alg", "use"],
                    "properties": {
                        "kid": {"type": "string"},
                        "kty": {"type": "string", "enum": ["EC", "OKP", "RSA"]},
                        "alg": {"type": "string", "enum": ["ES256", "EdDSA", "RS256"]},
                        "use": {"type": "string", "enum": ["sig"]},
                        "crv": {"type": "string"},
                        "x": {"type": "string"},
                        "y": {"type": "string"},
                        "n": {"type": "string"},
                        "e": {"type": "string"},
                    },
                }}},
            }}},
        },
    })
}

fn discovery_responses() -> Value {
    json!({
        "200": {
            "description": "Where the public keys are",
            "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["issuer", "jwks_uri", "id_token_signing_alg_values_supported"],
                "properties": {
                    "issuer": {"type": "string"},
                    "jwks_uri": {"type": "string", "format": "uri"},
                    "id_token_signing_alg_values_supported": {"type": "array", "items": {"type": "string"}},
                },
            }}},
        },
    })
}

/// `/health/ready` returns its body by hand, so paperclip sees nothing.
fn readiness_responses() -> Value {
    let checks = json!({
        "type": "object",
        "description": "`ok` or `unavailable` for each dependency",
        "additionalProperties": {"type": "string", "enum": ["ok", "unavailable"]},
    });
    json!({
        "200": {
            "description": "PostgreSQL and Redis both answer within 1 s",
            "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["status", "checks"],
                "properties": {"status": {"type": "string", "enum": ["ok"]}, "checks": checks},
            }}},
        },
        "503": {
            "description": "A dependency did not answer; the message names it",
            "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["message", "error", "checks"],
                "properties": {
                    "message": {"type": "string"},
                    "error": {"type": "string", "enum": ["service_unavailable"]},
                    "checks": checks,
                },
            }}},
        },
    })
}

/// A username as stored: none of [`domain::refused_character_class`], and no white space
/// at either end (the parser trims, so the length rule counts the rest).
fn username_pattern() -> String {
    let refused = domain::refused_character_class();
    let edge = format!(r"[^\s{refused}]");
    format!("^{edge}(?:[^{refused}]*{edge})?$")
}

/// Where paperclip puts the schema of one session: inline in the list.
const SESSION_ITEMS: &str = "SessionsBody/properties/sessions/items";

/// The rules of each body field, in characters, as the domain states them.
fn field_rules(policy: PasswordPolicy) -> Vec<(&'static str, &'static str, Value)> {
    let new_password = json!({
        "minLength": policy.min_chars(),
        "maxLength": PasswordPolicy::MAX_CHARS,
        "pattern": format!("^[^{}]*$", domain::refused_character_class()),
    });
    vec![
        (
            "LogoutRequest",
            "scope",
            json!({"enum": ["local", "others", "global"]}),
        ),
        // Unknown when the login sent no User-Agent or had no peer address.
        // paperclip inlines a list's items, so the path reaches into them.
        (SESSION_ITEMS, "ip", json!({"nullable": true})),
        (SESSION_ITEMS, "user_agent", json!({"nullable": true})),
        // A client without one may send null: it counts as none.
        ("LoginRequest", "device_token", json!({"nullable": true})),
        // Until TOTP is enabled.
        (
            "MfaStatusResponse/properties/totp",
            "enabled_at",
            json!({"nullable": true}),
        ),
        (
            "RegisterRequest",
            "username",
            json!({
                "minLength": Username::MIN_CHARS,
                "maxLength": Username::MAX_CHARS,
                "pattern": username_pattern(),
            }),
        ),
        (
            "RegisterRequest",
            "email",
            json!({"format": "email", "maxLength": EmailAddress::MAX_CHARS}),
        ),
        ("RegisterRequest", "password", new_password.clone()),
        (
            "CreateUserRequest",
            "username",
            json!({
                "minLength": Username::MIN_CHARS,
                "maxLength": Username::MAX_CHARS,
                "pattern": username_pattern(),
            }),
        ),
        (
            "CreateUserRequest",
            "email",
            json!({"format": "email", "maxLength": EmailAddress::MAX_CHARS}),
        ),
        ("CreateUserRequest", "password", new_password.clone()),
        ("ResetPasswordRequest", "password", new_password.clone()),
        ("ChangePasswordRequest", "new_password", new_password),
        (
            "EmailChangeRequest",
            "new_email",
            json!({"format": "email", "maxLength": EmailAddress::MAX_CHARS}),
        ),
    ]
}

fn merge(target: Option<&mut Value>, extra: Value) {
    if let (Some(Value::Object(target)), Value::Object(extra)) = (target, extra) {
        target.extend(extra);
    }
}

/// The document paperclip built, made accurate: per-operation error
/// responses, the bearer scheme, typed path ids and field rules.
pub fn finish(mut spec: Value, policy: PasswordPolicy) -> Value {
    for route in ROUTES {
        // Every route is an `api_v2_operation`, so paperclip lists it; the
        // tests check that none is missing.
        if let Some(Value::Object(operation)) = spec.pointer_mut(&operation_pointer(route)) {
            document_operation(operation, route);
        }
    }
    if let Some(components) = spec.pointer_mut("/components") {
        components["securitySchemes"] = security_schemes();
    }
    for (schema, field, rules) in field_rules(policy) {
        let pointer = format!("/components/schemas/{schema}/properties/{field}");
        merge(spec.pointer_mut(&pointer), rules);
    }
    // A proof is the link's token, or the email with the code: paperclip
    // can only mark single fields required.
    for schema in [
        "VerifyEmailRequest",
        "ResetPasswordRequest",
        "ConfirmEmailChangeRequest",
    ] {
        merge(
            spec.pointer_mut(&format!("/components/schemas/{schema}")),
            json!({"anyOf": [{"required": ["token"]}, {"required": ["email", "code"]}]}),
        );
    }
    spec
}

/// The schemes a route's [`Caller`] names: two, so that Swagger UI holds
/// an access token and a refresh token at once. Swagger UI writes the
/// `Bearer ` prefix itself; typing it too sends `Bearer Bearer ...`.
fn security_schemes() -> Value {
    let scheme = |what: &str| {
        json!({
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": format!(
                "Paste the {what} alone, without `Bearer ` in front: it is added for you"
            ),
        })
    };
    json!({
        ACCESS_TOKEN_SCHEME: scheme("`access_token` of a login or refresh answer"),
        REFRESH_TOKEN_SCHEME: scheme("`refresh_token` of a login or refresh answer (for /refresh and /logout)"),
    })
}

pub const ACCESS_TOKEN_SCHEME: &str = "access_token";
pub const REFRESH_TOKEN_SCHEME: &str = "refresh_token";

/// The extension listing [`answers::refusals_of_valid_input`]; read by
/// `scripts/schemathesis.sh`.
pub const REFUSES_VALID_INPUT: &str = "x-refuses-valid-input";

pub use answers::statuses as error_statuses;

/// Where `route`'s operation sits in the document.
pub fn operation_pointer(route: &Route) -> String {
    format!(
        "/paths/{}/{}",
        route.path.replace('/', "~1"),
        route.verb.openapi_key()
    )
}

fn document_operation(operation: &mut Map<String, Value>, route: &Route) {
    operation.insert("operationId".to_owned(), json!(route.operation_id));
    if route.deprecated {
        operation.insert("deprecated".to_owned(), json!(true));
    }
    match route.caller {
        Caller::Anyone => operation.remove("security"),
        Caller::Bearer => {
            operation.insert("security".to_owned(), json!([{ACCESS_TOKEN_SCHEME: []}]))
        }
        Caller::RefreshToken => {
            operation.insert("security".to_owned(), json!([{REFRESH_TOKEN_SCHEME: []}]))
        }
    };
    if let (Some(example), Some(content)) = (
        examples::request_body(route.operation_id),
        operation
            .get_mut("requestBody")
            .and_then(|body| body.pointer_mut("/content/application~1json")),
    ) {
        content["example"] = example;
    }
    let responses = if let Some(responses) = hand_written_responses(route) {
        responses
    } else {
        let mut responses = match operation.remove("responses") {
            // Keep the success responses paperclip derived from the handler.
            Some(Value::Object(derived)) => derived
                .into_iter()
                .filter(|(status, _)| status.starts_with('2'))
                .collect(),
            _ => Map::new(),
        };
        for (status, description) in answers::statuses(route) {
            responses.insert(status.to_string(), envelope_response(description));
        }
        Value::Object(responses)
    };
    operation.insert("responses".to_owned(), responses);
    let refusals = answers::refusals_of_valid_input(route);
    if !refusals.is_empty() {
        operation.insert(REFUSES_VALID_INPUT.to_owned(), json!(refusals));
    }
    if let Some(Value::Array(parameters)) = operation.get_mut("parameters") {
        for parameter in parameters.iter_mut() {
            if parameter["in"] == "path" && parameter["name"] == "id" {
                parameter["schema"] = if route.answers.contains(&Answer::SessionInPath) {
                    json!({"type": "string", "description": "A session id (the `sid` claim)"})
                } else {
                    json!({"type": "integer", "format": "int64"})
                };
                parameter["example"] = examples::path_id(route.operation_id);
            }
        }
    }
}

#[cfg(test)]
mod tests;
