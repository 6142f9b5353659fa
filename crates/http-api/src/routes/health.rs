use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::header;
use actix_web::web::Data;
use futures_util::future::join_all;
use paperclip::actix::{Apiv2Schema, api_v2_operation, web::Json};
use serde::Serialize;

use application::ErrorChain;

use crate::error::RETRY_AFTER_SECS;
use crate::state::AppState;

/// How long a dependency may take to answer before it counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct LiveBody {
    pub status: &'static str,
}

/// The process is running
#[api_v2_operation(tags(Operations))]
pub async fn live() -> Json<LiveBody> {
    Json(LiveBody { status: "ok" })
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ReadyBody {
    pub status: &'static str,
    /// `ok` or `unavailable` for each dependency
    pub checks: BTreeMap<String, String>,
}

/// PostgreSQL and Redis both answer within 1 s
///
/// `503` names the failing dependencies.
#[api_v2_operation(tags(Operations))]
pub async fn ready(state: Data<AppState>) -> HttpResponse {
    let results = join_all(state.probes.iter().map(|probe| async move {
        let outcome = match tokio::time::timeout(PROBE_TIMEOUT, probe.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(ErrorChain(&error).to_string()),
            Err(_) => Err("no answer within 1 s".to_owned()),
        };
        (probe.name(), outcome)
    }))
    .await;

    let mut checks = BTreeMap::new();
    let mut failing = Vec::new();
    for (name, outcome) in results {
        let verdict = match outcome {
            Ok(()) => "ok",
            Err(error) => {
                tracing::warn!(dependency = name, error.chain = %error, "readiness probe failed");
                failing.push(name);
                "unavailable"
            }
        };
        checks.insert(name.to_owned(), verdict.to_owned());
    }
    if failing.is_empty() {
        return HttpResponse::Ok().json(ReadyBody {
            status: "ok",
            checks,
        });
    }
    let message = format!("Not ready: {} unavailable.", failing.join(" and "));
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS))
        .json(serde_json::json!({
            "message": message,
            "error": "service_unavailable",
            "checks": checks,
        }))
}
