use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, HttpServer, web, web::Data};
use paperclip::actix::OpenApiExt;
use paperclip::v2::models::{DefaultApiRaw, Info};
use tracing_actix_web::TracingLogger;

use crate::client_ip::TrustedProxies;
use crate::cors::AllowedOrigins;
use crate::extract::BodyReadTimeout;
use crate::middleware::{RequestIdRootSpan, json_errors, request_id, security_headers};
use crate::pages::Pages;
use crate::state::AppState;
use crate::{metrics, openapi, pages, routes, swagger_ui};

#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// actix worker threads; `None` is one per core.
    pub workers: Option<usize>,
    /// How long in-flight requests may run after a stop signal.
    pub shutdown_timeout: Duration,
    /// How long a client may take to send the request line and headers
    /// (actix answers `408` after it).
    pub client_request_timeout: Duration,
    /// How long a client may take to send a JSON body (`408` envelope).
    pub body_read_timeout: Duration,
    /// Peers whose `X-Forwarded-For` is believed ([`crate::client_ip`]).
    pub trusted_proxies: TrustedProxies,
    /// Browser origins allowed to call the API ([`crate::cors`]).
    pub cors_allowed_origins: AllowedOrigins,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            workers: None,
            shutdown_timeout: Duration::from_secs(30),
            client_request_timeout: Duration::from_secs(5),
            body_read_timeout: BodyReadTimeout::default().0,
            trusted_proxies: TrustedProxies::default(),
            cors_allowed_origins: AllowedOrigins::default(),
        }
    }
}

fn spec() -> DefaultApiRaw {
    DefaultApiRaw {
        info: Info {
            title: "Auth service".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: Some(
                "JWT authentication: register, login, refresh, logout, users. \
                 Try it in this order: register, login, then Authorize: paste the \
                 `access_token` under access_token and the `refresh_token` under \
                 refresh_token, each alone (no `Bearer ` in front)."
                    .into(),
            ),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The finished OpenAPI document, served at [`swagger_ui::SPEC_PATH`].
struct Document(serde_json::Value);

async fn document(document: Data<Document>) -> HttpResponse {
    HttpResponse::Ok().json(&document.0)
}

/// Starts serving on an already bound listener (port 0 in tests). The
/// returned server runs when awaited and stops gracefully on SIGTERM/SIGINT.
/// `/metrics` is not served here: see [`metrics::serve_metrics`].
pub fn serve(
    listener: TcpListener,
    state: AppState,
    settings: ServerSettings,
) -> std::io::Result<Server> {
    // Install the metrics recorder before the first request is counted.
    metrics::prometheus();
    let policy = state.password_policy;
    let state = Data::new(state);
    let body_read_timeout = BodyReadTimeout(settings.body_read_timeout);
    let trusted_proxies = Data::new(settings.trusted_proxies.clone());
    let cors_allowed_origins = settings.cors_allowed_origins.clone();
    let pages = Data::new(Pages::new(policy.min_chars()).map_err(std::io::Error::other)?);
    let mut server = HttpServer::new(move || {
        let mut raw_spec = serde_json::Value::Null;
        // The pages first: they answer GET on paths whose other methods
        // are the API's (`/verify-email`).
        let pages = pages.clone();
        let app = actix_web::App::new()
            .configure(move |config| pages::configure(config, pages))
            .wrap_api_with_spec(spec())
            .app_data(state.clone())
            .app_data(body_read_timeout)
            .app_data(trusted_proxies.clone())
            .app_data(query_errors())
            .configure(routes::configure)
            .with_raw_json_spec_v3(|app, spec| {
                raw_spec = spec;
                app
            })
            .build();
        app.app_data(Data::new(Document(openapi::finish(raw_spec, policy))))
            .route(swagger_ui::SPEC_PATH, web::get().to(document))
            .configure(swagger_ui::configure)
            .default_service(web::to(routes::not_found))
            // Inside json_errors: a refused preflight gets the envelope.
            .wrap(cors_allowed_origins.middleware())
            .wrap(json_errors())
            .wrap(from_fn(metrics::record_requests))
            .wrap(TracingLogger::<RequestIdRootSpan>::new())
            .wrap(from_fn(swagger_ui::guard))
            .wrap(from_fn(security_headers))
            .wrap(from_fn(request_id))
    })
    .client_request_timeout(settings.client_request_timeout)
    .listen(listener)?
    .shutdown_timeout(settings.shutdown_timeout.as_secs());
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// A query string that does not fit its handler's struct (a parameter
/// given twice): `422` in the error envelope, like any other refused
/// input, rather than actix's plain-text `400`.
fn query_errors() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _| {
        crate::error::ApiError::validation("query", error.to_string()).into()
    })
}
