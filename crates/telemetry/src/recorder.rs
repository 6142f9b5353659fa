use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram bucket bounds for one metric name.
pub type Buckets = (&'static str, &'static [f64]);

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process-wide Prometheus recorder, installed on the first call with
/// these histogram buckets (later calls return the same handle: the
/// `metrics` facade has one global recorder, and tests start several apps
/// in one process).
pub fn prometheus(buckets: &[Buckets]) -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let mut builder = PrometheusBuilder::new();
        for (name, bounds) in buckets {
            builder =
                match builder.set_buckets_for_metric(Matcher::Full((*name).to_owned()), bounds) {
                    Ok(builder) => builder,
                    Err(error) => {
                        tracing::warn!(metric = name, %error, "ignoring histogram buckets");
                        PrometheusBuilder::new()
                    }
                };
        }
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Histograms keep every sample until upkeep folds them in; without
        // it memory grows with each observation between scrapes.
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start metrics upkeep; histograms grow until scraped");
        }
        // Fails only if another recorder was installed first; metrics then
        // go there, and this handle renders an empty page.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed");
        }
        handle
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_recorded() {
        let handle = prometheus(&[("telemetry_test_seconds", &[0.1, 1.0])]);
        metrics::counter!("telemetry_test_total").increment(3);
        metrics::histogram!("telemetry_test_seconds").record(0.5);
        handle.run_upkeep();
        let page = handle.render();
        assert!(page.contains("telemetry_test_total 3"), "{page}");
        assert!(
            page.contains("telemetry_test_seconds_bucket{le=\"1\"} 1"),
            "{page}"
        );
    }
}
