//! The OpenAPI document does not lie: each operation lists the statuses it
//! can answer with the envelope, token routes name the bearer scheme, and
//! body fields carry the rules the server applies.

use std::collections::BTreeSet;

use http_api::openapi::{REFUSES_VALID_INPUT, error_statuses, operation_pointer};
use http_api::routes::{Answer, ROUTES};
use integration_tests::{json_body, spawn_app, spawn_app_with};
use serde_json::Value;

fn codes(operation: &Value) -> Vec<&str> {
    operation["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn every_operation_documents_what_it_answers() {
    let app = spawn_app().await;
    let spec = json_body(app.get("/openapi.json", None).await).await;
    let paths = &spec["paths"];
    let token_routes = [
        ("/refresh", "post"),
        ("/logout", "post"),
        ("/protected", "get"),
        ("/fresh-protected", "get"),
        ("/users/me", "get"),
        ("/users/{id}", "get"),
        ("/users/{id}", "delete"),
        ("/user/{id}", "get"),
        ("/user/{id}", "delete"),
        ("/users/me/sessions", "get"),
        ("/users/me/sessions/{id}", "delete"),
        ("/users/{id}/sessions", "get"),
        ("/users/{id}/sessions", "delete"),
        ("/users/me/email", "post"),
    ];
    for (path, method) in token_routes {
        let operation = &paths[path][method];
        let codes = codes(operation);
        for code in ["401", "503"] {
            assert!(codes.contains(&code), "{method} {path}: {codes:?}");
        }
        let scheme = if matches!(path, "/refresh" | "/logout") {
            "refresh_token"
        } else {
            "access_token"
        };
        assert_eq!(
            operation["security"],
            serde_json::json!([{ scheme: [] }]),
            "{method} {path}"
        );
        let envelope = &operation["responses"]["401"]["content"]["application/json"]["schema"];
        assert_eq!(envelope["$ref"], "#/components/schemas/ErrorBody");
    }
    for path in ["/register", "/login"] {
        let codes = codes(&paths[path]["post"]);
        for code in ["400", "413", "415", "422", "429", "503"] {
            assert!(codes.contains(&code), "{path}: {codes:?}");
        }
    }
    assert_eq!(codes(&paths["/health/ready"]["get"]), ["200", "503"]);
    let resend = codes(&paths["/verify-email/resend"]["post"]);
    assert!(
        resend.contains(&"202") && !resend.contains(&"200"),
        "{resend:?}"
    );
    assert!(codes(&paths["/verify-email"]["post"]).contains(&"400"));
    let change = codes(&paths["/users/me/email"]["post"]);
    for code in ["202", "403", "422", "429"] {
        assert!(change.contains(&code), "/users/me/email: {change:?}");
    }
    let undo = &paths["/email-change/undo"]["post"];
    for code in ["200", "400", "409", "422", "429", "503"] {
        assert!(
            codes(undo).contains(&code),
            "/email-change/undo: {:?}",
            codes(undo)
        );
    }
    assert!(undo.get("security").is_none(), "the link is the proof");
    assert!(codes(&paths["/login"]["post"]).contains(&"403"));
    // Token checks are never rate limited.
    for (path, method) in [("/protected", "get"), ("/users/me", "get")] {
        assert!(!codes(&paths[path][method]).contains(&"429"), "{path}");
    }
    assert_eq!(codes(&paths["/guest"]["get"]), ["200"]);
    for scheme in ["access_token", "refresh_token"] {
        assert_eq!(
            spec["components"]["securitySchemes"][scheme]["scheme"],
            "bearer"
        );
    }
}

#[tokio::test]
async fn body_schemas_carry_the_real_rules() {
    let app = spawn_app_with(|settings| {
        settings.set("PASSWORD_MIN_LENGTH", "10");
    })
    .await;
    let spec = json_body(app.get("/openapi.json", None).await).await;
    let fields = &spec["components"]["schemas"]["RegisterRequest"]["properties"];
    assert_eq!(fields["username"]["minLength"], 3);
    assert_eq!(fields["username"]["maxLength"], 80);
    assert_eq!(fields["email"]["format"], "email");
    assert_eq!(fields["email"]["maxLength"], 254);
    assert_eq!(fields["password"]["minLength"], 10);
    assert_eq!(fields["password"]["maxLength"], 128);

    assert_eq!(
        spec["components"]["schemas"]["VerifyEmailRequest"]["anyOf"],
        serde_json::json!([{"required": ["token"]}, {"required": ["email", "code"]}])
    );
    let scope = &spec["components"]["schemas"]["LogoutRequest"]["properties"]["scope"];
    assert_eq!(
        scope["enum"],
        serde_json::json!(["local", "others", "global"])
    );
    let session = &spec["components"]["schemas"]["SessionsBody"]["properties"]["sessions"]["items"];
    for field in ["ip", "user_agent"] {
        assert_eq!(session["properties"][field]["nullable"], true, "{field}");
    }
    let id = &spec["paths"]["/users/me/sessions/{id}"]["delete"]["parameters"][0]["schema"];
    assert_eq!(id["type"], "string", "a session id is not a user id");
}

/// The route table is the only list of routes: the server serves each
/// declared route, the document lists exactly those with exactly their
/// declared statuses and scheme, and another method is a `405` naming the
/// declared ones.
#[tokio::test]
async fn the_document_and_the_server_follow_the_route_table() {
    let app = spawn_app().await;
    let spec = json_body(app.get("/openapi.json", None).await).await;
    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, operations)| {
            operations
                .as_object()
                .unwrap()
                .keys()
                .map(move |method| (path.clone(), method.clone()))
        })
        .collect();
    let declared: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|route| (route.path.to_owned(), route.verb.openapi_key().to_owned()))
        .collect();
    assert_eq!(documented, declared);

    for route in ROUTES {
        let operation = spec.pointer(&operation_pointer(route)).unwrap();
        let errors: Vec<String> = codes(operation)
            .into_iter()
            .filter(|code| !code.starts_with('2'))
            .map(str::to_owned)
            .collect();
        let expected: Vec<String> = if route.answers.contains(&Answer::Readiness) {
            vec!["503".to_owned()]
        } else {
            error_statuses(route)
                .iter()
                .map(|(status, _)| status.to_string())
                .collect()
        };
        assert_eq!(errors, expected, "{route:?}");
        assert_eq!(
            operation.get("security").is_some(),
            route.caller.needs_token(),
            "{route:?}"
        );

        let path = route.path.replace("{id}", "1");
        let method = reqwest::Method::from_bytes(route.verb.as_str().as_bytes()).unwrap();
        let served = app
            .client
            .request(method, app.url(&path))
            .send()
            .await
            .unwrap();
        let body = json_body(served).await;
        assert_ne!(body["error"], "not_found", "{route:?} is not served");
        assert_ne!(
            body["error"], "method_not_allowed",
            "{route:?} is not served"
        );
    }

    for routes in ROUTES.chunk_by(|a, b| a.path == b.path) {
        let path = routes[0].path.replace("{id}", "1");
        let other = app.client.put(app.url(&path)).send().await.unwrap();
        assert_eq!(other.status(), 405, "{path}");
        let allow: Vec<&str> = routes.iter().map(|route| route.verb.as_str()).collect();
        assert_eq!(
            other.headers()["allow"],
            allow.join(", ").as_str(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn operations_name_the_statuses_a_valid_request_may_still_get() {
    let app = spawn_app().await;
    let spec = json_body(app.get("/openapi.json", None).await).await;
    let refusals = |path: &str| spec["paths"][path]["post"][REFUSES_VALID_INPUT].clone();
    assert_eq!(refusals("/verify-email"), serde_json::json!([400]));
    assert_eq!(
        refusals("/users/me/password"),
        serde_json::json!([403, 422])
    );
    assert_eq!(refusals("/register"), Value::Null);
}
