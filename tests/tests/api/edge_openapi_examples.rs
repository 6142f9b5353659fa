//! The OpenAPI examples, run as Swagger UI's "Try it out" would send them:
//! every request body has one that fits its schema; register, login,
//! refresh and logout succeed in that order with them as given; and no
//! example of any operation gets a 5xx.

use integration_tests::{TestApp, json_body, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};

/// One operation of the document, ready to be sent.
struct Operation {
    id: String,
    method: Method,
    path: String,
    body: Option<Value>,
    scheme: Option<String>,
}

fn operations(spec: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    for (path, methods) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in methods.as_object().expect("methods") {
            let mut path = path.clone();
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["in"] == "path" {
                    let name = parameter["name"].as_str().expect("name");
                    let example = &parameter["example"];
                    let value = example
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| example.to_string());
                    assert!(!example.is_null(), "{path}: no example for {name}");
                    path = path.replace(&format!("{{{name}}}"), &value);
                }
            }
            operations.push(Operation {
                id: operation["operationId"]
                    .as_str()
                    .expect("operationId")
                    .to_owned(),
                method: Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"),
                path,
                body: operation
                    .pointer("/requestBody/content/application~1json")
                    .map(|content| content["example"].clone()),
                scheme: operation["security"][0]
                    .as_object()
                    .and_then(|schemes| schemes.keys().next().cloned()),
            });
        }
    }
    operations
}

/// The properties of a `#/components/schemas/...` reference.
fn properties<'a>(spec: &'a Value, schema: &Value) -> &'a Map<String, Value> {
    let name = schema["$ref"]
        .as_str()
        .and_then(|reference| reference.strip_prefix("#/components/schemas/"))
        .expect("a schema reference");
    spec["components"]["schemas"][name]["properties"]
        .as_object()
        .expect("properties")
}

#[derive(Default)]
struct Tokens {
    access: String,
    refresh: String,
}

async fn send(app: &TestApp, operation: &Operation, tokens: &Tokens) -> reqwest::Response {
    let token = match operation.scheme.as_deref() {
        Some("access_token") => Some(tokens.access.as_str()),
        Some("refresh_token") => Some(tokens.refresh.as_str()),
        Some(other) => panic!("{}: unknown scheme {other}", operation.id),
        None => None,
    };
    let mut request = app.request(operation.method.clone(), &operation.path, token);
    if let Some(body) = &operation.body {
        request = request.json(body);
    }
    request.send().await.expect("request")
}

fn tokens_of(body: &Value) -> Tokens {
    Tokens {
        access: body["access_token"].as_str().unwrap_or_default().to_owned(),
        refresh: body["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

#[tokio::test]
async fn every_example_runs_in_order_and_none_gets_a_5xx() {
    let app = spawn_app().await;
    let spec = json_body(app.get("/openapi.json", None).await).await;
    let operations = operations(&spec);

    // Every body has an example, and it only names fields of its schema.
    for (path, methods) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in methods.as_object().expect("methods") {
            let Some(content) = operation.pointer("/requestBody/content/application~1json") else {
                continue;
            };
            let example = content["example"].as_object().unwrap_or_else(|| {
                panic!("{method} {path}: the request body has no example object")
            });
            let fields = properties(&spec, &content["schema"]);
            for name in example.keys() {
                assert!(fields.contains_key(name), "{method} {path}: {name}");
            }
        }
    }

    let by_id = |id: &str| {
        operations
            .iter()
            .find(|operation| operation.id == id)
            .unwrap_or_else(|| panic!("no operation {id}"))
    };
    // The story Swagger UI's description tells, with the examples as given.
    let mut tokens = Tokens::default();
    for id in ["register", "login", "refresh", "logout"] {
        let response = send(&app, by_id(id), &tokens).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{id}: {status} {body}");
        if matches!(id, "login" | "refresh") {
            tokens = tokens_of(&body);
            assert!(!tokens.refresh.is_empty(), "{id}: {body}");
        }
    }

    // Then every other operation, each with a new login (an example may
    // end the session, change the password or delete the account, so those
    // that delete go last); none may answer 5xx.
    let mut rest: Vec<&Operation> = operations
        .iter()
        .filter(|operation| !matches!(operation.id.as_str(), "register" | "login"))
        .collect();
    rest.sort_by_key(|operation| operation.method == Method::DELETE);
    let login = by_id("login");
    // After the password change's example, the account's password is the
    // new one of that example.
    let mut changed = serde_json::json!({
        "email": login.body.as_ref().expect("login body")["email"],
        "password": by_id("changePassword").body.as_ref().expect("body")["new_password"],
    });
    let login_after_change = Operation {
        id: "login".to_owned(),
        method: Method::POST,
        path: login.path.clone(),
        body: Some(changed.take()),
        scheme: None,
    };
    let mut answered = Vec::new();
    for operation in rest {
        for login in [login, &login_after_change] {
            let response = send(&app, login, &Tokens::default()).await;
            if response.status() == StatusCode::OK {
                tokens = tokens_of(&json_body(response).await);
                break;
            }
        }
        let response = send(&app, operation, &tokens).await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(
            !status.is_server_error(),
            "{} {} {}: {status} {body}",
            operation.id,
            operation.method,
            operation.path
        );
        answered.push(format!("{} {}", operation.id, status.as_u16()));
    }
    eprintln!("answers: {answered:?}");
    assert!(answered.len() > 25, "{answered:?}");
}
