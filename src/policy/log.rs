//! One structured log line per request: what was asked, who asked, what answered, how it went.
//! Keys and bodies are never part of it; the caller appears by user name only.

use serde::Serialize;

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct RequestLog {
    pub request_id: String,
    pub method: String,
    pub path: String,
    /// The route's name (`chat.completions`, …); `null` for unknown paths.
    pub route: Option<&'static str>,
    pub status: u16,
    pub latency_ms: u64,
    /// The key's user; `null` before (or without) authentication.
    pub user: Option<String>,
    /// The model name the client sent, and the Workers AI model that served it.
    pub model: Option<String>,
    pub upstream_model: Option<String>,
    /// The OpenAI error code of a failed request.
    pub error_code: Option<String>,
}

impl RequestLog {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_json_line_without_secrets() {
        let log = RequestLog {
            request_id: "req-1".into(),
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            route: Some("chat.completions"),
            status: 200,
            latency_ms: 12,
            user: Some("alice".into()),
            model: Some("gpt-4".into()),
            upstream_model: Some("@cf/qwen/qwen3-30b-a3b-fp8".into()),
            error_code: None,
        };
        let line = log.to_json();
        assert!(!line.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["route"], "chat.completions");
        assert_eq!(value["upstream_model"], "@cf/qwen/qwen3-30b-a3b-fp8");
        assert!(value["error_code"].is_null());
    }
}
