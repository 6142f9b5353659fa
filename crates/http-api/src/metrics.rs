//! Prometheus metrics: requests by route, method and status, a latency
//! histogram, and connection pool usage, rendered at `/metrics`.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::state::AppState;

const REQUESTS: &str = "http_requests_total";
const DURATION: &str = "http_request_duration_seconds";

/// A connection pool's occupancy at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    pub max_size: usize,
    pub size: usize,
    pub available: usize,
    pub waiting: usize,
}

/// A named pool whose status is read each time metrics are scraped.
#[derive(Clone)]
pub struct PoolGauge {
    pub name: &'static str,
    pub status: Arc<dyn Fn() -> PoolStatus + Send + Sync>,
}

/// The process-wide Prometheus recorder, with the API's latency buckets.
pub fn prometheus() -> &'static PrometheusHandle {
    telemetry::prometheus(&[(
        DURATION,
        &[
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ],
    )])
}

/// Counts and times every request by its route pattern (not its raw path,
/// which would make one series per user id).
pub async fn record_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let response = next.call(request).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    Ok(response)
}

/// `GET /metrics` in the Prometheus text format.
pub async fn render(state: web::Data<AppState>) -> HttpResponse {
    for pool in &state.pools {
        let status = (pool.status)();
        let gauge = |state: &'static str, value: usize| {
            metrics::gauge!("pool_connections", "pool" => pool.name, "state" => state)
                .set(value as f64);
        };
        gauge("max", status.max_size);
        gauge("open", status.size);
        gauge("idle", status.available);
        gauge("in_use", status.size.saturating_sub(status.available));
        metrics::gauge!("pool_waiting_requests", "pool" => pool.name).set(status.waiting as f64);
    }
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"))
        .body(prometheus().render())
}
