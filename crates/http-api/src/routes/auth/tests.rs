use crate::extract::field::{MISSING, NOT_A_STRING};

use super::*;

fn register(body: serde_json::Value) -> Result<Registration, ApiError> {
    serde_json::from_value::<RegisterRequest>(body)
        .unwrap()
        .into_registration(PasswordPolicy::default())
}

fn errors<T: std::fmt::Debug>(result: Result<T, ApiError>) -> FieldErrors {
    match result {
        Err(ApiError::Validation(fields)) => fields,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn reports_every_invalid_field_at_once() {
    let fields = errors(register(serde_json::json!({
        "username": "ab", "email": "nope", "password": "short"
    })));
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
fn reports_every_wrong_type_at_once_without_the_values() {
    let fields = errors(register(serde_json::json!({
        "username": true, "email": [1], "password": 271828
    })));
    for field in ["username", "email", "password"] {
        assert_eq!(fields[field], [NOT_A_STRING], "{field}");
    }
    assert!(!format!("{fields:?}").contains("271828"));
}

#[test]
fn reports_missing_fields() {
    let fields = errors(register(serde_json::json!({})));
    for field in ["username", "email", "password"] {
        assert_eq!(fields[field], [MISSING], "{field}");
    }
}

#[test]
fn applies_the_configured_password_minimum() {
    let policy = PasswordPolicy::new(12).unwrap();
    let request: RegisterRequest = serde_json::from_value(serde_json::json!({
        "username": "ada", "email": "a@b.io", "password": "elevenchars"
    }))
    .unwrap();
    let fields = errors(request.into_registration(policy));
    assert_eq!(
        fields["password"],
        ["Password must be at least 12 characters long."]
    );
}

#[test]
fn accepts_a_valid_request_and_trims() {
    let registration = register(serde_json::json!({
        "username": "  ada ", "email": " Ada@B.io ", "password": "long enough"
    }))
    .unwrap();
    assert_eq!(registration.username.as_str(), "ada");
    assert_eq!(registration.email.as_str(), "Ada@B.io");
}

#[test]
fn login_names_both_bad_fields() {
    let request: LoginRequest =
        serde_json::from_value(serde_json::json!({"email": [1], "password": 2})).unwrap();
    let fields = errors(request.into_login(ClientDevice::new(None, None)));
    assert_eq!(fields["email"], [NOT_A_STRING]);
    assert_eq!(fields["password"], [NOT_A_STRING]);
}

#[test]
fn a_device_token_is_optional_and_counts_as_none_unless_well_formed() {
    let login = |body: serde_json::Value| {
        serde_json::from_value::<LoginRequest>(body)
            .unwrap()
            .into_login(ClientDevice::new(None, None))
    };
    let token = "A".repeat(43);
    let with =
        login(serde_json::json!({"email": "a@b.io", "password": "pw", "device_token": token}));
    assert_eq!(
        with.unwrap().device_token.map(|t| t.as_str().to_owned()),
        Some(token)
    );
    let odd =
        login(serde_json::json!({"email": "a@b.io", "password": "pw", "device_token": "short"}));
    assert_eq!(odd.unwrap().device_token, None);
    let absent = login(serde_json::json!({"email": "a@b.io", "password": "pw"}));
    assert_eq!(absent.unwrap().device_token, None);
    let fields = errors(login(
        serde_json::json!({"email": "a@b.io", "password": "pw", "device_token": 7}),
    ));
    assert_eq!(fields["device_token"], [NOT_A_STRING]);
}

#[test]
fn logout_scope_defaults_to_local_and_refuses_others() {
    let scope = |body: serde_json::Value| {
        LogoutRequest::scope(Some(serde_json::from_value::<LogoutRequest>(body).unwrap()))
    };
    assert_eq!(LogoutRequest::scope(None).unwrap(), LogoutScope::Local);
    assert_eq!(scope(serde_json::json!({})).unwrap(), LogoutScope::Local);
    assert_eq!(
        scope(serde_json::json!({"scope": "global"})).unwrap(),
        LogoutScope::Global
    );
    assert_eq!(
        scope(serde_json::json!({"scope": "others"})).unwrap(),
        LogoutScope::Others
    );
    for bad in [serde_json::json!("everywhere"), serde_json::json!(1)] {
        let fields = errors(scope(serde_json::json!({ "scope": bad })));
        assert_eq!(fields["scope"].len(), 1, "{fields:?}");
    }
}

#[test]
fn debug_never_prints_a_password() {
    let register: RegisterRequest = serde_json::from_value(serde_json::json!({
        "username": "ada", "email": "a@b.io", "password": "hunter2hunter2"
    }))
    .unwrap();
    let login: LoginRequest = serde_json::from_value(serde_json::json!({
        "email": "a@b.io", "password": "hunter2hunter2"
    }))
    .unwrap();
    let credentials = serde_json::from_value::<LoginRequest>(serde_json::json!({
        "email": "a@b.io", "password": "hunter2hunter2", "device_token": "B".repeat(43)
    }))
    .unwrap()
    .into_login(ClientDevice::new(None, None))
    .unwrap();
    let response = LoginResponse {
        access_token: Some("access-secret".into()),
        refresh_token: Some("refresh-secret".into()),
        token_type: Some("Bearer"),
        expires_in: 300,
        device_token: Some("C".repeat(43)),
        mfa_required: Some(true),
        mfa_token: Some("D".repeat(43)),
        methods: None,
    };
    for debug in [
        format!("{register:?}"),
        format!("{login:?}"),
        format!("{credentials:?}"),
        format!("{response:?}"),
    ] {
        for secret in [
            "hunter2",
            "BBBB",
            "CCCC",
            "DDDD",
            "access-secret",
            "refresh-secret",
        ] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}
