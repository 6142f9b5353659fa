//! The pages email links open (`GET /verify-email`, `/reset-password`,
//! `/confirm-email-change`, `/undo-email-change`), their script and
//! stylesheet, and the plain forms they offer without JavaScript
//! (`POST {page}/form`, see [`forms`]). A fresh install works without a
//! front end of its own.
//!
//! Templates, script and stylesheet live in `templates/pages/` and are
//! compiled into the binary: it needs no file at run time. A page never
//! shows a secret: the token stays in the fragment (read by the script,
//! never sent to this server in a URL), and an outcome page echoes nothing
//! the form sent.
//!
//! The JSON routes on the same paths (`POST /verify-email`) are untouched:
//! the page resources only answer `GET` (a resource guard), so every other
//! method falls through to the API's own routes.

mod forms;
mod outcome;
mod page;

use actix_web::body::BoxBody;
use actix_web::dev::ServiceRequest;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderValue, REFERRER_POLICY, RETRY_AFTER,
};
use actix_web::middleware::{Next, from_fn};
use actix_web::web::{self, Data};
use actix_web::{HttpResponse, guard};
use application::rate_limits::Rule;
use tera::{Context, Tera};

use crate::rate_limit::limited_by;
use crate::state::AppState;

pub use outcome::Outcome;
pub use page::Page;

/// Every page answer carries this policy: only our own script, stylesheet
/// and API; no inline code, no framing, forms post only to us.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The content type of every page; the JSON error net lets it through.
pub const HTML_CONTENT_TYPE: &str = "text/html; charset=utf-8";

pub const SCRIPT_PATH: &str = "/pages/app.js";
pub const STYLESHEET_PATH: &str = "/pages/app.css";

const SCRIPT: &str = include_str!("../../../../templates/pages/app.js");
const STYLESHEET: &str = include_str!("../../../../templates/pages/app.css");

const TEMPLATES: &[(&str, &str)] = &[
    (
        "layout.html",
        include_str!("../../../../templates/pages/layout.html"),
    ),
    (
        "verify_email.html",
        include_str!("../../../../templates/pages/verify_email.html"),
    ),
    (
        "reset_password.html",
        include_str!("../../../../templates/pages/reset_password.html"),
    ),
    (
        "confirm_email_change.html",
        include_str!("../../../../templates/pages/confirm_email_change.html"),
    ),
    (
        "undo_email_change.html",
        include_str!("../../../../templates/pages/undo_email_change.html"),
    ),
    (
        "outcome.html",
        include_str!("../../../../templates/pages/outcome.html"),
    ),
];

/// The compiled templates, shared by every worker thread.
pub struct Pages {
    tera: Tera,
    /// Shown on the reset page (`PASSWORD_MIN_LENGTH`).
    min_password_length: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("the page templates do not compile")]
pub struct PagesError(#[source] tera::Error);

impl Pages {
    pub fn new(min_password_length: usize) -> Result<Self, PagesError> {
        let mut tera = Tera::default();
        tera.add_raw_templates(TEMPLATES.iter().copied())
            .map_err(PagesError)?;
        Ok(Self {
            tera,
            min_password_length,
        })
    }

    fn render(&self, template: &str, context: &Context) -> HttpResponse {
        match self.tera.render(template, context) {
            Ok(html) => html_response(StatusCode::OK, html),
            Err(error) => {
                tracing::error!(error = %application::ErrorChain(&error), template, "page does not render");
                html_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<!DOCTYPE html><title>Error</title><p>Something went wrong on our side.</p>"
                        .to_owned(),
                )
            }
        }
    }

    fn context(&self, page: Page, title: &str) -> Context {
        let mut context = Context::new();
        context.insert("page", page.name());
        context.insert("title", title);
        context.insert("min_length", &self.min_password_length);
        context
    }

    /// A page as its link opens it.
    pub fn page(&self, page: Page) -> HttpResponse {
        self.render(page.template(), &self.context(page, page.title()))
    }

    /// The answer to a plain form: its outcome in words, with `status`.
    pub fn outcome(&self, page: Page, outcome: &Outcome) -> HttpResponse {
        let mut context = self.context(page, outcome.title);
        context.insert("success", &outcome.status.is_success());
        context.insert("message", &outcome.message);
        context.insert("back", page.path());
        let mut response = self.render("outcome.html", &context);
        if response.status().is_success() {
            *response.status_mut() = outcome.status;
        }
        response
    }
}

/// An HTML answer with the pages' headers.
fn html_response(status: StatusCode, html: String) -> HttpResponse {
    let mut response = HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, HTML_CONTENT_TYPE))
        .body(html);
    page_headers(response.headers_mut());
    response
}

/// The headers of every page answer.
pub fn page_headers(headers: &mut actix_web::http::header::HeaderMap) {
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Mounts the pages, their assets and their forms. Call it before the API's
/// routes: a page resource answers only `GET`, the API's resource on the
/// same path answers the rest.
pub fn configure(config: &mut web::ServiceConfig, pages: Data<Pages>) {
    for page in Page::ALL {
        let pages = pages.clone();
        config.service(web::resource(page.path()).guard(guard::Get()).to(move || {
            let pages = pages.clone();
            async move { pages.page(page) }
        }));
    }
    config
        .route(SCRIPT_PATH, web::get().to(script))
        .route(STYLESHEET_PATH, web::get().to(stylesheet));
    form(config, &pages, Page::VerifyEmail, forms::verify_email);
    form(config, &pages, Page::ResetPassword, forms::reset_password);
    form(
        config,
        &pages,
        Page::ConfirmEmailChange,
        forms::confirm_email_change,
    );
    form(
        config,
        &pages,
        Page::UndoEmailChange,
        forms::undo_email_change,
    );
}

/// `POST {page}/form`: limited as the JSON route it stands for, answered
/// with an outcome page.
fn form<F, Fut>(config: &mut web::ServiceConfig, pages: &Data<Pages>, page: Page, handler: F)
where
    F: Fn(Data<AppState>, web::Bytes) -> Fut + Clone + 'static,
    Fut: Future<Output = Outcome> + 'static,
{
    let refusals = pages.clone();
    let pages = pages.clone();
    config.service(
        web::resource(page.form_path())
            .guard(guard::Post())
            .wrap(limited_by(&Rule::SECRET_ATTEMPTS))
            // Outside the limits: their 429 becomes a page too.
            .wrap(from_fn(
                move |request: ServiceRequest, next: Next<BoxBody>| {
                    let pages = refusals.clone();
                    async move {
                        let response = next.call(request).await?;
                        Ok(rate_limited_as_page(&pages, page, response))
                    }
                },
            ))
            .to(move |state: Data<AppState>, body: web::Bytes| {
                let pages = pages.clone();
                let handler = handler.clone();
                async move {
                    let outcome = handler(state, body).await;
                    pages.outcome(page, &outcome)
                }
            }),
    );
}

/// A `429` of the rate limits as the form's outcome page, keeping its
/// `Retry-After` and `RateLimit*` headers; any other answer as it is.
fn rate_limited_as_page(
    pages: &Pages,
    page: Page,
    response: ServiceResponse<BoxBody>,
) -> ServiceResponse<BoxBody> {
    if response.status() != StatusCode::TOO_MANY_REQUESTS {
        return response;
    }
    let (request, refused) = response.into_parts();
    let mut answer = pages.outcome(page, &Outcome::rate_limited());
    for (name, value) in refused.headers() {
        if name == RETRY_AFTER || name.as_str().starts_with("ratelimit") {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(request, answer)
}

async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLESHEET)
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(body)
}

#[cfg(test)]
mod tests;
