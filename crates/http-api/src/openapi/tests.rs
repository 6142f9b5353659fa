use super::*;

fn operation(responses: Value) -> Value {
    json!({"paths": {
        "/login": {"post": {"responses": responses}},
        "/users/{id}": {"get": {
            "responses": {"200": {"description": "OK"}},
            "parameters": [{"in": "path", "name": "id", "schema": {"type": "string"}}],
        }},
        "/health/ready": {"get": {"responses": {}}},
    }, "components": {
        "securitySchemes": {"bearer": {"type": "apiKey"}},
        "schemas": {"RegisterRequest": {"properties": {
            "username": {"type": "string"}, "email": {"type": "string"}, "password": {"type": "string"},
        }}},
    }})
}

fn codes(spec: &Value, pointer: &str) -> Vec<String> {
    spec.pointer(pointer)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn each_operation_lists_exactly_what_it_can_answer() {
    let spec = finish(
        operation(json!({"200": {"description": "OK"}, "403": {}, "409": {}})),
        PasswordPolicy::default(),
    );
    assert_eq!(
        codes(&spec, "/paths/~1login/post/responses"),
        [
            "200", "400", "401", "403", "408", "413", "415", "422", "429", "500", "503"
        ]
    );
    assert_eq!(
        codes(&spec, "/paths/~1users~1{id}/get/responses"),
        ["200", "401", "403", "404", "500", "503"]
    );
    assert_eq!(
        codes(&spec, "/paths/~1health~1ready/get/responses"),
        ["200", "503"]
    );
    let error = &spec["paths"]["/login"]["post"]["responses"]["401"];
    assert_eq!(
        error["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
}

#[test]
fn ids_are_integers_and_tokens_have_a_scheme_each() {
    let spec = finish(operation(json!({})), PasswordPolicy::default());
    let get_user = &spec["paths"]["/users/{id}"]["get"];
    assert_eq!(get_user["parameters"][0]["schema"]["type"], "integer");
    assert_eq!(get_user["parameters"][0]["example"], 1);
    assert_eq!(get_user["security"], json!([{"access_token": []}]));
    assert_eq!(get_user["operationId"], "getUser");
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(
        schemes.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["access_token", "refresh_token"]
    );
    for scheme in ["access_token", "refresh_token"] {
        assert_eq!(schemes[scheme]["type"], "http");
        assert_eq!(schemes[scheme]["scheme"], "bearer");
        let description = schemes[scheme]["description"].as_str().unwrap();
        assert!(description.contains("alone"), "{description}");
    }
    assert_eq!(spec["paths"]["/login"]["post"].get("security"), None);
}

#[test]
fn every_route_has_a_unique_operation_id() {
    let mut seen = std::collections::HashSet::new();
    for route in ROUTES {
        let id = route.operation_id;
        assert!(!id.is_empty(), "{route:?} has no operationId");
        assert!(
            id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && id.chars().all(|c| c.is_ascii_alphanumeric()),
            "{route:?}: {id} is not lowerCamelCase"
        );
        assert!(seen.insert(id), "{id} twice");
    }
}

#[test]
fn the_singular_aliases_are_deprecated_and_only_they() {
    for route in ROUTES {
        assert_eq!(
            route.deprecated,
            route.path.starts_with("/user/"),
            "{route:?}"
        );
    }
}

#[test]
fn refresh_tokens_are_asked_for_by_refresh_and_logout_only() {
    let refreshing: Vec<_> = ROUTES
        .iter()
        .filter(|route| route.caller == Caller::RefreshToken)
        .map(|route| route.path)
        .collect();
    assert_eq!(refreshing, ["/refresh", "/logout"]);
}

#[test]
fn body_fields_carry_the_domain_rules() {
    let spec = finish(operation(json!({})), PasswordPolicy::new(12).unwrap());
    let fields = &spec["components"]["schemas"]["RegisterRequest"]["properties"];
    assert_eq!(fields["username"]["minLength"], 3);
    assert_eq!(fields["username"]["maxLength"], 80);
    let pattern = fields["username"]["pattern"].as_str().unwrap();
    for refused in [r"\u0000", r"\u202e", r"\u200b", r"\s"] {
        assert!(pattern.contains(refused), "{refused} in {pattern}");
    }
    assert_eq!(fields["email"]["format"], "email");
    assert_eq!(fields["email"]["maxLength"], 254);
    assert_eq!(fields["password"]["minLength"], 12);
    assert_eq!(fields["password"]["maxLength"], 128);
    let pattern = fields["password"]["pattern"].as_str().unwrap();
    assert!(pattern.contains(r"\u0000-\u001f"), "{pattern}");
}
