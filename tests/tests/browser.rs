#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! The hosted pages in a real headless Chromium, driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`): each page opened from the
//! emailed link (the script reads the fragment and calls the API), the
//! plain form with JavaScript off, and a cross-origin `fetch` from a page
//! on an origin listed in `CORS_ALLOWED_ORIGINS` (and one that is not).
//!
//! Without `chromedriver` these tests say SKIPPED and pass, except under
//! `CI=true`, where its absence fails them: `.ci/run` installs it.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use integration_tests::pages::fresh_address;
use integration_tests::processes::{Process, Vars};
use integration_tests::{PASSWORD, TestApp, json_body, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// One browser at a time: two cores are shared with the rest of the suite.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const WAIT: Duration = Duration::from_secs(15);

/// `chromedriver` on `PATH`, or `None` (with a message) when these tests
/// may skip; under `CI=true` its absence is a failure.
fn chromedriver() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromedriver"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromedriver is missing under CI=true: .ci/run must install chromium-driver"
        );
        eprintln!(
            "SKIPPED: chromedriver is not installed \
             (apt-get install chromium chromium-driver); the browser tests did not run"
        );
    }
    found
}

/// A chromedriver and one Chromium session; both end on drop (SIGTERM to
/// chromedriver, which takes its browser down, then SIGKILL).
struct Browser {
    client: Option<Client>,
    driver: Process,
    /// chromedriver's port and the session's id: a test that panics
    /// cannot `close()` (that needs its runtime), so [`Drop`] ends the
    /// session with a plain `DELETE`, which quits Chromium.
    port: u16,
    session: String,
}

impl Browser {
    async fn start(javascript: bool) -> Option<Self> {
        let program = chromedriver()?;
        let port = integration_tests::deployment::free_port();
        let dir = std::env::temp_dir();
        let driver = Process::spawn(
            &format!("chromedriver-{port}"),
            &program,
            &[&format!("--port={port}")],
            &Vars::new(),
            &dir,
        );
        let mut prefs = json!({});
        if !javascript {
            prefs = json!({"profile.managed_default_content_settings.javascript": 2});
        }
        let capabilities = json!({
            "goog:chromeOptions": {
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--no-first-run"],
                "prefs": prefs,
            }
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + WAIT;
        let client = loop {
            let connected = ClientBuilder::rustls()
                .unwrap()
                .capabilities(capabilities.clone())
                .connect(&url)
                .await;
            match connected {
                Ok(client) => break client,
                Err(error) if tokio::time::Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => panic!("no WebDriver session: {error}\n{}", driver.log_tail(30)),
            }
        };
        let session = client.session_id().await.unwrap().unwrap_or_default();
        Some(Self {
            client: Some(client),
            driver,
            port,
            session,
        })
    }

    fn client(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    async fn open(&self, url: &str) {
        self.client().goto(url).await.unwrap();
    }

    /// The text of the first element `css` finds, once it is there.
    async fn text_of(&self, css: &str) -> String {
        let element = self
            .client()
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no {css}: {error}"));
        element.text().await.unwrap()
    }

    /// The outcome the page says in its live region, once it has one of
    /// `class` (`success` or `failure`).
    async fn outcome(&self, class: &str) -> String {
        self.text_of(&format!("#status.{class}")).await
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.client().find(Locator::Css(css)).await.unwrap();
        element.clear().await.unwrap();
        element.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        let element = self.client().find(Locator::Css(css)).await.unwrap();
        element.click().await.unwrap();
    }

    async fn displayed(&self, css: &str) -> bool {
        let element = self.client().find(Locator::Css(css)).await.unwrap();
        element.is_displayed().await.unwrap()
    }

    /// The address bar: the fragment must be gone once read.
    async fn url(&self) -> String {
        self.client().current_url().await.unwrap().to_string()
    }

    async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }
}

/// `DELETE /session/{id}` to chromedriver, blocking, no runtime needed.
fn end_session(port: u16, session: &str) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if self.client.take().is_some() && !self.session.is_empty() {
            end_session(self.port, &self.session);
        }
        if self.driver.try_status().is_none() {
            self.driver.terminate();
            for _ in 0..40 {
                if self.driver.try_status().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

async fn access_of(app: &TestApp, email: &str, password: &str) -> String {
    let response = app.login(email, password).await;
    assert_eq!(response.status(), StatusCode::OK, "login as {email}");
    json_body(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn me(app: &TestApp, email: &str, password: &str) -> Value {
    let access = access_of(app, email, password).await;
    json_body(app.get("/users/me", Some(&access)).await).await
}

#[tokio::test]
async fn the_verify_link_confirms_the_address_and_leaves_no_token_in_the_address_bar() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = Browser::start(true).await else {
        return;
    };
    // Default PUBLIC_APP_URL: the link opens this server's page.
    let app = spawn_app().await;
    let user = app.register_user().await;
    let link = app.welcome(&user).await.link;
    assert!(link.starts_with(&app.address), "{link}");

    browser.open(&link).await;
    let said = browser.outcome("success").await;
    assert_eq!(
        said,
        "Your email address is confirmed. You can close this page."
    );
    assert_eq!(browser.url().await, app.url("/verify-email"));
    assert!(
        !browser.displayed("#manual").await,
        "no form after a success"
    );
    assert_eq!(
        me(&app, &user.email, PASSWORD).await["email_verified"],
        true
    );

    // A link whose token is not ours (opened in the same tab: only the
    // fragment changes): said in words, and the form is offered.
    let bogus = format!("{}#token={}", app.url("/verify-email"), "A".repeat(43));
    browser.open(&bogus).await;
    let said = browser.outcome("failure").await;
    assert!(said.contains("invalid or has expired"), "{said}");
    assert!(browser.displayed("#code").await);
    browser.close().await;
}

#[tokio::test]
async fn the_reset_link_asks_for_the_password_twice_and_shows_the_policy() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = Browser::start(true).await else {
        return;
    };
    let app = spawn_app().await;
    let user = app.register_user().await;
    let link = app.reset_email(&user).await.link;

    browser.open(&link).await;
    browser.text_of("#password").await;
    assert!(
        !browser.displayed("#email").await,
        "the link stands for the code"
    );
    assert_eq!(browser.url().await, app.url("/reset-password"));

    // A mismatch is caught before anything is sent.
    browser
        .type_into("#password", "a brand new passphrase")
        .await;
    browser
        .type_into("#password_confirm", "another passphrase")
        .await;
    browser.click("button[type=submit]").await;
    let said = browser.outcome("failure").await;
    assert!(said.contains("do not match"), "{said}");

    // The policy's message, from the API's 422.
    browser.type_into("#password", "short").await;
    browser.type_into("#password_confirm", "short").await;
    browser.click("button[type=submit]").await;
    let said = browser.outcome("failure").await;
    assert_eq!(said, "Password must be at least 8 characters long.");

    browser
        .type_into("#password", "a brand new passphrase")
        .await;
    browser
        .type_into("#password_confirm", "a brand new passphrase")
        .await;
    browser.click("button[type=submit]").await;
    let said = browser.outcome("success").await;
    assert!(said.starts_with("Your password was changed."), "{said}");
    access_of(&app, &user.email, "a brand new passphrase").await;
    browser.close().await;
}

#[tokio::test]
async fn the_email_change_links_confirm_and_then_undo_the_change() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = Browser::start(true).await else {
        return;
    };
    let app = spawn_app().await;
    let user = app.register_user().await;
    let new_email = fresh_address();
    let (confirm, undo) = app.email_change(&user, &new_email).await;

    browser.open(&confirm.link).await;
    let said = browser.outcome("success").await;
    assert!(said.starts_with("Your email address is changed."), "{said}");
    assert_eq!(me(&app, &new_email, PASSWORD).await["email"], new_email);

    browser.open(&undo.link).await;
    let said = browser.outcome("success").await;
    assert!(said.starts_with("The change is undone"), "{said}");
    assert_eq!(browser.url().await, app.url("/undo-email-change"));
    assert_eq!(me(&app, &user.email, PASSWORD).await["email"], user.email);
    browser.close().await;
}

#[tokio::test]
async fn with_javascript_off_the_verify_form_works_with_the_emailed_code() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = Browser::start(false).await else {
        return;
    };
    let app = spawn_app().await;
    let user = app.register_user().await;
    let emailed = app.welcome(&user).await;

    // The link as sent: with no script, nothing reads the fragment; the
    // form is there.
    browser.open(&emailed.link).await;
    browser.type_into("#email", &user.email).await;
    browser.type_into("#code", emailed.code()).await;
    browser.click("button[type=submit]").await;
    let said = browser.outcome("success").await;
    assert_eq!(
        said,
        "Your email address is confirmed. You can close this page."
    );
    assert_eq!(
        me(&app, &user.email, PASSWORD).await["email_verified"],
        true
    );
    browser.close().await;
}

/// Serves, on `server`, a page whose script calls the API with `fetch`
/// (a JSON POST, so the browser sends a preflight) and writes what
/// happened into `#out`.
async fn serve_probe(server: &MockServer, api: &str) {
    let html = "<!DOCTYPE html><title>other origin</title>\
                <p id=\"out\">pending</p><script src=\"/probe.js\"></script>";
    let script = format!(
        "fetch('{api}/login', {{method: 'POST', headers: {{'Content-Type': 'application/json'}}, \
         body: JSON.stringify({{email: 'nobody@example.com', password: 'wrong password'}})}})\
         .then(r => r.json().then(b => {{ document.getElementById('out').textContent = \
         'answered ' + r.status + ' ' + b.error; }}))\
         .catch(e => {{ document.getElementById('out').textContent = 'blocked ' + e.name; }});"
    );
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(html, "text/html"))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/probe.js"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(script, "text/javascript"))
        .mount(server)
        .await;
}

/// What the probe page on `origin` wrote once its fetch settled.
async fn probe_result(browser: &Browser, origin: &str) -> String {
    browser.open(&format!("{origin}/")).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let out = browser.text_of("#out").await;
        if out != "pending" || tokio::time::Instant::now() >= deadline {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_listed_origin_can_fetch_the_api_and_another_cannot() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = Browser::start(true).await else {
        return;
    };
    // Two other origins (other ports); the API lists the first.
    let listed = MockServer::start().await;
    let unlisted = MockServer::start().await;
    let app = spawn_app_with(|settings| {
        settings.set("CORS_ALLOWED_ORIGINS", listed.uri());
    })
    .await;
    serve_probe(&listed, &app.address).await;
    serve_probe(&unlisted, &app.address).await;

    // The preflight passes and the answer (an error, CORS headers and all)
    // is readable by the page's script.
    let out = probe_result(&browser, &listed.uri()).await;
    assert_eq!(out, "answered 401 invalid_credentials");
    let out = probe_result(&browser, &unlisted.uri()).await;
    assert_eq!(out, "blocked TypeError");
    browser.close().await;
}
