//! `Idempotency-Key`: the first response to a key is kept and replayed to retries; a retry with a
//! different body, or one that arrives while the first is still running, is refused. Pure: the
//! shell keeps the records in KV.

use serde::{Deserialize, Serialize};

use super::limits::positive;
use crate::error::GatewayError;

/// A day, as Stripe and OpenAI-style APIs keep keys.
pub const DEFAULT_TTL_SECONDS: u64 = 24 * 60 * 60;
/// How long a claim lasts while the first request runs, so a crashed request does not block the
/// key for a day (KV's shortest expiry is 60 s; generations rarely take 5 minutes).
pub const IN_FLIGHT_TTL_SECONDS: u64 = 5 * 60;
const MAX_KEY_LENGTH: usize = 255;

/// `IDEMPOTENCY_TTL`: how long a finished response is replayed.
pub fn ttl_seconds(var: impl Fn(&str) -> Option<String>) -> Result<u64, GatewayError> {
    Ok(positive("IDEMPOTENCY_TTL", var("IDEMPOTENCY_TTL"))?
        .unwrap_or(DEFAULT_TTL_SECONDS)
        .max(60))
}

/// What is kept under a key: a claim while the first request runs, then its response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Hash of the route and body the key was first used with.
    pub body_hash: String,
    /// The response; `None` while the first request is in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<KeptResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptResponse {
    pub status: u16,
    pub content_type: String,
    /// Text as is; other bodies (speech audio) in base64.
    pub body: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base64: bool,
}

/// What to do with a request that carries a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyStep {
    /// First use: claim the key and run the request.
    Run,
    /// Answer with the kept response.
    Replay(KeptResponse),
}

/// Checks the key's shape: OpenAI-style clients send UUIDs; anything printable up to 255 works.
pub fn check_key(key: &str) -> Result<(), GatewayError> {
    if key.is_empty() || key.len() > MAX_KEY_LENGTH || key.chars().any(|c| c.is_control()) {
        return Err(GatewayError::invalid(
            format!("The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} printable characters, e.g. a UUID."),
            None,
        ));
    }
    Ok(())
}

/// Decides from the stored record (its JSON, if any) and this request's body hash.
pub fn decide(stored: Option<&str>, body_hash: &str) -> Result<IdempotencyStep, GatewayError> {
    // An unreadable record (e.g. written by another version) is treated as absent.
    let Some(record) = stored.and_then(|s| serde_json::from_str::<IdempotencyRecord>(s).ok())
    else {
        return Ok(IdempotencyStep::Run);
    };
    if record.body_hash != body_hash {
        return Err(GatewayError::Unprocessable {
            message: "This Idempotency-Key was already used with a different request body or endpoint. Use a new key for a new request.".into(),
            code: "idempotency_key_reused",
        });
    }
    match record.response {
        Some(response) => Ok(IdempotencyStep::Replay(response)),
        None => Err(GatewayError::Conflict {
            message: "A request with this Idempotency-Key is still in progress. Retry after it finishes to get its response.".into(),
            code: "idempotency_key_in_use",
        }),
    }
}

/// The claim written before the first request runs.
pub fn claim(body_hash: &str) -> String {
    encode(&IdempotencyRecord {
        body_hash: body_hash.to_owned(),
        response: None,
    })
}

/// The record of a finished response.
pub fn finished(body_hash: &str, response: KeptResponse) -> String {
    encode(&IdempotencyRecord {
        body_hash: body_hash.to_owned(),
        response: Some(response),
    })
}

fn encode(record: &IdempotencyRecord) -> String {
    serde_json::to_string(record).unwrap_or_default()
}

/// Whether a content type is kept as text (JSON, SSE, transcripts) rather than base64.
pub fn is_text(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim();
    media.starts_with("text/") || media.ends_with("json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_use_runs_then_replays() {
        assert_eq!(decide(None, "h1").unwrap(), IdempotencyStep::Run);
        assert_eq!(
            decide(Some("not json"), "h1").unwrap(),
            IdempotencyStep::Run
        );
        let kept = KeptResponse {
            status: 200,
            content_type: "application/json".into(),
            body: r#"{"id":"chatcmpl-1"}"#.into(),
            base64: false,
        };
        let record = finished("h1", kept.clone());
        assert_eq!(
            decide(Some(&record), "h1").unwrap(),
            IdempotencyStep::Replay(kept)
        );
    }

    #[test]
    fn in_flight_is_409_and_other_body_is_422() {
        let err = decide(Some(&claim("h1")), "h1").unwrap_err();
        assert_eq!(err.status(), 409);
        assert_eq!(err.code().as_deref(), Some("idempotency_key_in_use"));
        let err = decide(Some(&claim("h1")), "h2").unwrap_err();
        assert_eq!(err.status(), 422);
        assert_eq!(err.code().as_deref(), Some("idempotency_key_reused"));
    }

    #[test]
    fn key_shape_and_ttl() {
        assert!(check_key("4f1c2a9e-2b7d-4c31-9a57-8e0f1d2c3b4a").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key(&"k".repeat(256)).is_err());
        assert!(check_key("a\nb").is_err());
        assert_eq!(ttl_seconds(|_| None).unwrap(), DEFAULT_TTL_SECONDS);
        assert_eq!(ttl_seconds(|_| Some("3600".into())).unwrap(), 3600);
        assert!(ttl_seconds(|_| Some("a day".into())).is_err());
    }

    #[test]
    fn text_types() {
        assert!(is_text("application/json"));
        assert!(is_text("text/event-stream; charset=utf-8"));
        assert!(is_text("text/plain"));
        assert!(!is_text("audio/mpeg"));
    }
}
