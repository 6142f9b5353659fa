//! The OpenAPI document does not lie: each operation lists the statuses it
//! can answer with the envelope, token routes name the bearer scheme, and
//! body fields carry the rules the server applies.

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
        assert_eq!(
            operation["security"],
            serde_json::json!([{"bearer": []}]),
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
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
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
