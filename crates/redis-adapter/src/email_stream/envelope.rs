//! How jobs are written to and read from stream entries and the retry set.

use application::delivery::{Delivery, FailedAttempt, Retry};
use deadpool_redis::redis::streams::StreamId;

use crate::keys;

/// A job on its way back to the stream after failed attempts, as JSON:
/// `{"id": <job id>, "job": <job JSON as text>, "history": [FailedAttempt]}`.
pub(super) fn envelope_json(retry: &Retry) -> Result<String, serde_json::Error> {
    serde_json::to_string(&serde_json::json!({
        "id": retry.job_id,
        "job": retry.payload,
        "history": retry.history,
    }))
}

fn parse_envelope(raw: &str) -> Option<(String, Vec<FailedAttempt>)> {
    let mut value: serde_json::Value = serde_json::from_str(raw).ok()?;
    let job = value.get("job")?.as_str()?.to_owned();
    let history = serde_json::from_value(value.get_mut("history")?.take()).ok()?;
    Some((job, history))
}

/// Reads a stream entry handed out for the `handed_out`-th time. Anything
/// unreadable still becomes a delivery (with the raw text as payload) so
/// the use case dead-letters it rather than it being stuck pending forever.
pub(super) fn delivery_from(entry: &StreamId, handed_out: u32) -> Delivery {
    let mut delivery = Delivery::new(entry.id.clone(), String::new());
    delivery.handed_out = handed_out;
    if let Some(raw) = entry.get::<String>(keys::EMAIL_ENVELOPE_FIELD) {
        match parse_envelope(&raw) {
            Some((payload, history)) => {
                delivery.payload = payload;
                delivery.history = history;
            }
            None => delivery.payload = raw,
        }
        return delivery;
    }
    delivery.payload = entry
        .get::<String>(keys::EMAIL_JOB_FIELD)
        .unwrap_or_default();
    delivery
}
