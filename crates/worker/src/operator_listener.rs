//! The worker's small HTTP listener for operators: `/health/live`,
//! `/health/ready` (the queue answers within 1 s) and `/metrics`
//! (Prometheus: jobs by kind and outcome, attempts, queue depth, dead
//! letters).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
use actix_web::{App, HttpResponse, HttpServer, web};
use application::ErrorChain;
use application::delivery::QueueAdmin;

const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// Sets up the process-wide metrics recorder with the worker's histogram
/// buckets and renders what it holds.
pub fn render_metrics() -> String {
    telemetry::prometheus(&[
        (
            "email_job_attempt",
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 16.0, 20.0],
        ),
        (
            "email_job_duration_seconds",
            &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
        ),
    ])
    .render()
}

type Admin = web::Data<Arc<dyn QueueAdmin>>;

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn ready(queue: Admin) -> HttpResponse {
    match tokio::time::timeout(READY_TIMEOUT, queue.depths()).await {
        Ok(Ok(_)) => HttpResponse::Ok().json(serde_json::json!({
            "status": "ok",
            "checks": {"redis": "ok"},
        })),
        outcome => {
            let error = match outcome {
                Ok(Err(error)) => ErrorChain(&error).to_string(),
                _ => "no answer within 1 s".to_owned(),
            };
            tracing::warn!(error.chain = %error, "readiness probe failed");
            HttpResponse::ServiceUnavailable()
                .insert_header((RETRY_AFTER, "5"))
                .json(serde_json::json!({
                    "message": "Not ready: redis unavailable.",
                    "error": "service_unavailable",
                    "checks": {"redis": "unavailable"},
                }))
        }
    }
}

#[allow(clippy::cast_precision_loss)] // Gauges are f64; depths are far below 2^52.
async fn metrics(queue: Admin) -> HttpResponse {
    // Depths are read at scrape time; if Redis is down they keep their
    // last values and readiness says why.
    if let Ok(Ok(depths)) = tokio::time::timeout(READY_TIMEOUT, queue.depths()).await {
        metrics::gauge!("email_queue_depth", "part" => "stream").set(depths.stream as f64);
        metrics::gauge!("email_queue_depth", "part" => "retrying").set(depths.retrying as f64);
        metrics::gauge!("email_dead_letters").set(depths.dead as f64);
    }
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"))
        .body(render_metrics())
}

/// Binds the listener; the returned server runs when awaited or spawned.
/// Signals are left to the worker, which stops the server after draining.
pub fn serve(
    address: SocketAddr,
    queue: Arc<dyn QueueAdmin>,
) -> std::io::Result<actix_web::dev::Server> {
    render_metrics();
    let queue: Admin = web::Data::new(queue);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(queue.clone())
            .route("/health/live", web::get().to(live))
            .route("/health/ready", web::get().to(ready))
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .disable_signals()
    .bind(address)?
    .run())
}
