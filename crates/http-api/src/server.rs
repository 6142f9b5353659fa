use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{HttpServer, web::Data};
use paperclip::actix::OpenApiExt;
use paperclip::v2::models::{DefaultApiRaw, Info};
use tracing_actix_web::TracingLogger;

use crate::middleware::{RequestIdRootSpan, json_errors, request_id, swagger_guard};
use crate::state::AppState;
use crate::{metrics, routes};

#[derive(Debug, Clone, Copy)]
pub struct ServerSettings {
    /// actix worker threads; `None` is one per core.
    pub workers: Option<usize>,
    /// How long in-flight requests may run after a stop signal.
    pub shutdown_timeout: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            workers: None,
            shutdown_timeout: Duration::from_secs(30),
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
                 Authorize with `Bearer <token>`."
                    .into(),
            ),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Starts serving on an already bound listener (port 0 in tests). The
/// returned server runs when awaited and stops gracefully on SIGTERM/SIGINT.
pub fn serve(
    listener: TcpListener,
    state: AppState,
    settings: ServerSettings,
) -> std::io::Result<Server> {
    // Install the metrics recorder before the first request is counted.
    metrics::prometheus();
    let state = Data::new(state);
    let mut server = HttpServer::new(move || {
        actix_web::App::new()
            .wrap_api_with_spec(spec())
            .app_data(state.clone())
            .configure(routes::configure)
            .with_json_spec_v3_at("/openapi.json")
            .with_swagger_ui_at(crate::middleware::SWAGGER_UI_PATH)
            .build()
            .route("/metrics", actix_web::web::get().to(metrics::render))
            .default_service(actix_web::web::to(routes::not_found))
            .wrap(json_errors())
            .wrap(from_fn(metrics::record_requests))
            .wrap(TracingLogger::<RequestIdRootSpan>::new())
            .wrap(from_fn(swagger_guard))
            .wrap(from_fn(request_id))
    })
    .listen(listener)?
    .shutdown_timeout(settings.shutdown_timeout.as_secs());
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}
