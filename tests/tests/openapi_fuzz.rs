#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! schemathesis (`--checks all`) against the server these tests start:
//! every response must match what `/openapi.json` documents, and no input
//! may produce a 5xx. Runs `scripts/schemathesis.sh`, which installs
//! schemathesis from PyPI when it is missing.

use std::path::PathBuf;
use std::process::Command;

use integration_tests::spawn_app;

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_nothing() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let tokens = app.login_tokens(&user).await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/schemathesis.sh");
    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(script)
            .arg(address)
            .arg(tokens.access)
            // Enough to cover every operation on a loaded CI machine; the
            // script's default (300) is for a run by hand.
            .env(
                "SCHEMATHESIS_MAX_EXAMPLES",
                std::env::var("SCHEMATHESIS_MAX_EXAMPLES").unwrap_or_else(|_| "100".into()),
            )
            .output()
    })
    .await
    .unwrap()
    .expect("run scripts/schemathesis.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis failed:\n{stdout}\n{stderr}"
    );
    println!("{stdout}");
}
