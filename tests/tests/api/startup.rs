//! Settings the codec cannot honour stop the
//! server at start with one line naming the variable, never a panic.

use api_server::{Application, Config};

/// Loads the configuration and builds the app, as `serve` does: a refusal
/// at either step is the one line the binary prints.
async fn build(settings: &[(&'static str, String)]) -> Result<Application, String> {
    let settings = settings.to_vec();
    let config = Config::from_lookup(move |name: &str| {
        let value = settings
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone());
        value.or_else(|| match name {
            "DATABASE_URL" => Some("postgres://postgres@127.0.0.1:5432/startup".to_owned()),
            "REDIS_URL" => Some("redis://127.0.0.1:6379".to_owned()),
            "MFA_ENCRYPTION_KEY" => Some(test_support::MFA_ENCRYPTION_KEY.to_owned()),
            "PORT" => Some("0".to_owned()),
            _ => None,
        })
    })
    .map_err(|error| error.to_string())?;
    Application::build(&config)
        .await
        .map_err(|error| error.to_string())
}

async fn refusal(settings: &[(&'static str, String)]) -> String {
    match build(settings).await {
        Ok(_) => panic!("the server started with {settings:?}"),
        Err(error) => error,
    }
}

#[tokio::test]
async fn a_key_shorter_than_the_hash_output_is_refused_naming_the_variable() {
    for (algorithm, min) in [("HS384", 48), ("HS512", 64)] {
        let short = "k".repeat(min - 1);
        let error = refusal(&[
            ("JWT_ALGORITHM", algorithm.to_owned()),
            ("JWT_SECRET_KEY", short.clone()),
        ])
        .await;
        assert!(error.contains("JWT_SECRET_KEY"), "{error}");
        assert!(error.contains(&min.to_string()), "{error}");
        assert!(!error.contains(&short), "{error}");
    }
}

#[tokio::test]
async fn a_key_as_long_as_the_hash_output_is_accepted() {
    for (algorithm, min) in [("HS256", 32), ("HS384", 48), ("HS512", 64)] {
        let started = build(&[
            ("JWT_ALGORITHM", algorithm.to_owned()),
            (
                "JWT_SECRET_KEY",
                "0123456789abcdef".repeat(4)[..min].to_owned(),
            ),
        ])
        .await;
        assert!(started.is_ok(), "{algorithm}");
    }
}

#[tokio::test]
async fn a_lifetime_past_the_calendar_is_refused_naming_the_variable() {
    let key = ("JWT_SECRET_KEY", "0123456789abcdef".repeat(2));
    for variable in ["JWT_ACCESS_TOKEN_EXPIRES", "JWT_REFRESH_TOKEN_EXPIRES"] {
        for seconds in [i64::MAX, 1_000_000_000_000_000] {
            let error = refusal(&[key.clone(), (variable, seconds.to_string())]).await;
            assert!(error.contains(variable), "{error}");
        }
    }
}

#[tokio::test]
async fn an_asymmetric_algorithm_needs_a_valid_encryption_key_named_at_start() {
    let error = refusal(&[("JWT_ALGORITHM", "ES256".to_owned())]).await;
    assert!(
        error.contains("SIGNING_KEYS_ENCRYPTION_KEY is required"),
        "{error}"
    );
    for bad in ["short", "bm90IDMyIGJ5dGVz", "!!!"] {
        let error = refusal(&[
            ("JWT_ALGORITHM", "EdDSA".to_owned()),
            ("SIGNING_KEYS_ENCRYPTION_KEY", bad.to_owned()),
        ])
        .await;
        assert!(
            error.starts_with("SIGNING_KEYS_ENCRYPTION_KEY is invalid"),
            "{error}"
        );
        assert!(!error.contains(bad), "{error}");
    }
    let error = refusal(&[("JWT_ALGORITHM", "PS256".to_owned())]).await;
    assert!(error.contains("JWT_ALGORITHM"), "{error}");
}
