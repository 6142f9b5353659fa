//! The worker's small HTTP listener for operators: `/health/live`,
//! `/health/ready` (Redis answers within 1 s) and `/metrics` (Prometheus:
//! jobs by kind and outcome, attempts, queue depth, dead letters).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
use actix_web::{App, HttpResponse, HttpServer, web};
use metrics_exporter_prometheus::PrometheusHandle;
use redis_adapter::RedisDeliveryQueue;

const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// The process-wide metrics recorder, with the worker's histogram buckets.
pub fn prometheus() -> &'static PrometheusHandle {
    telemetry::prometheus(&[
        (
            "email_job_attempt",
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 15.0, 20.0],
        ),
        (
            "email_job_duration_seconds",
            &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
        ),
    ])
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn ready(queue: web::Data<Arc<RedisDeliveryQueue>>) -> HttpResponse {
    match tokio::time::timeout(READY_TIMEOUT, queue.depths()).await {
        Ok(Ok(_)) => HttpResponse::Ok().json(serde_json::json!({
            "status": "ok",
            "checks": {"redis": "ok"},
        })),
        outcome => {
            let error = match outcome {
                Ok(Err(error)) => error.to_string(),
                _ => "no answer within 1 s".to_owned(),
            };
            tracing::warn!(%error, "readiness probe failed");
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

async fn render(queue: web::Data<Arc<RedisDeliveryQueue>>) -> HttpResponse {
    // Depths are read at scrape time; if Redis is down they keep their
    // last values and readiness says why.
    if let Ok(Ok(depths)) = tokio::time::timeout(READY_TIMEOUT, queue.depths()).await {
        metrics::gauge!("email_queue_depth", "part" => "stream").set(depths.stream as f64);
        metrics::gauge!("email_queue_depth", "part" => "retrying").set(depths.retrying as f64);
        metrics::gauge!("email_dead_letters").set(depths.dead as f64);
    }
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"))
        .body(prometheus().render())
}

/// Binds the listener; the returned server runs when awaited or spawned.
/// Signals are left to the worker, which stops the server after draining.
pub fn serve(
    address: SocketAddr,
    queue: Arc<RedisDeliveryQueue>,
) -> std::io::Result<actix_web::dev::Server> {
    prometheus();
    let queue = web::Data::new(queue);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(queue.clone())
            .route("/health/live", web::get().to(live))
            .route("/health/ready", web::get().to(ready))
            .route("/metrics", web::get().to(render))
    })
    .workers(1)
    .disable_signals()
    .bind(address)?
    .run())
}
