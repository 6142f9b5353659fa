//! Prometheus metrics: requests by route, method and status, a latency
//! histogram, connection pool usage and the revocation cache's counters,
//! rendered at `/metrics` on a listener of its own ([`serve_metrics`]),
//! never on the public port.

use std::net::TcpListener;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, HttpServer, web};
use metrics_exporter_prometheus::PrometheusHandle;

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

/// The revocation cache's counters at one instant (see redis-adapter's
/// `RevocationCacheStats`). Hit rate: hits / (hits + misses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RevocationCacheStatus {
    pub hits: u64,
    pub misses: u64,
    /// Keys Redis announced as changed.
    pub invalidations: u64,
    /// Times the whole cache was emptied (connection lost, Redis flushed).
    pub resets: u64,
    pub entries: u64,
    pub capacity: u64,
}

/// The revocation cache, read each time metrics are scraped.
#[derive(Clone)]
pub struct RevocationCacheGauge {
    pub status: Arc<dyn Fn() -> RevocationCacheStatus + Send + Sync>,
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

/// The method as a label from a fixed set: a client can send any token
/// as a method, and each new label value would be a series kept forever.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: &[(Method, &str)] = &[
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("OTHER", |(_, label)| label)
}

/// Counts and times every request by its route pattern (not its raw path,
/// which would make one series per user id).
pub async fn record_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = method_label(request.method());
    let response = next.call(request).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    Ok(response)
}

/// The pools reported at each scrape.
struct Pools(Vec<PoolGauge>);

/// The revocation cache reported at each scrape, when it is on, and what
/// was reported last: counters grow by the difference, so several caches
/// in one process (tests run many apps) add up instead of overwriting.
struct RevocationCache(Option<(RevocationCacheGauge, Mutex<RevocationCacheStatus>)>);

/// Serves `GET /metrics` (and nothing else) on its own listener, meant for
/// an operator's address (`METRICS_ADDR`), not the public one. One worker
/// is plenty for a scraper.
pub fn serve_metrics(listener: TcpListener, pools: Vec<PoolGauge>) -> std::io::Result<Server> {
    serve_metrics_with(listener, pools, None)
}

/// [`serve_metrics`], also reporting the revocation cache.
pub fn serve_metrics_with(
    listener: TcpListener,
    pools: Vec<PoolGauge>,
    revocation_cache: Option<RevocationCacheGauge>,
) -> std::io::Result<Server> {
    prometheus();
    let pools = web::Data::new(Pools(pools));
    let revocation_cache = web::Data::new(RevocationCache(
        revocation_cache.map(|gauge| (gauge, Mutex::new(RevocationCacheStatus::default()))),
    ));
    let server = HttpServer::new(move || {
        actix_web::App::new()
            .app_data(pools.clone())
            .app_data(revocation_cache.clone())
            .route("/metrics", web::get().to(render))
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok(server)
}

/// `GET /metrics` in the Prometheus text format.
async fn render(
    pools: web::Data<Pools>,
    revocation_cache: web::Data<RevocationCache>,
) -> HttpResponse {
    if let Some((cache, reported)) = &revocation_cache.0 {
        let status = (cache.status)();
        let mut reported = reported.lock().unwrap_or_else(PoisonError::into_inner);
        let counters = [
            ("revocation_cache_hits_total", status.hits, reported.hits),
            (
                "revocation_cache_misses_total",
                status.misses,
                reported.misses,
            ),
            (
                "revocation_cache_invalidations_total",
                status.invalidations,
                reported.invalidations,
            ),
            (
                "revocation_cache_resets_total",
                status.resets,
                reported.resets,
            ),
        ];
        for (name, now, before) in counters {
            metrics::counter!(name).increment(now.saturating_sub(before));
        }
        *reported = status;
        metrics::gauge!("revocation_cache_entries").set(status.entries as f64);
        metrics::gauge!("revocation_cache_capacity").set(status.capacity as f64);
    }
    for pool in &pools.0 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        for invented in ["FOO", "BREW", "X-ANYTHING", "get"] {
            let method = Method::from_bytes(invented.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "OTHER", "{invented}");
        }
    }
}
