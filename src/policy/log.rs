//! One structured log line per request: what was asked, who asked, what answered, how it went.
//! Keys and bodies are never part of it; the caller appears by user name only.

use serde::{Deserialize, Serialize};

// Serialize is derived for the test that checks `to_json` writes what serde would.
#[derive(Debug, Default, Clone, PartialEq)]
#[cfg_attr(test, derive(Serialize))]
pub struct RequestLog {
    pub request_id: String,
    pub method: String,
    pub path: String,
    /// The route's name (`chat.completions`, …); `null` for unknown paths.
    pub route: Option<&'static str>,
    pub status: u16,
    /// Until the response started; for a stream, `duration_ms` is until it ended.
    pub latency_ms: u64,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    pub duration_ms: Option<u64>,
    pub stream: bool,
    /// The key's user; `null` before (or without) authentication.
    pub user: Option<String>,
    /// The model name the client sent, and the Workers AI model that served it.
    pub model: Option<String>,
    pub upstream_model: Option<String>,
    /// Which upstream answered (`workers-ai`, `openai`), and how many models were tried.
    pub upstream: Option<&'static str>,
    pub attempts: u32,
    /// Tokens as the answer's `usage` reported them.
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
    /// `hit`, `miss` or `bypass: <why>`; `null` when the cache is off.
    pub cache: Option<String>,
    /// `stored`, `replayed`, `in_progress`, `reused`, `unavailable`; `null` without the header.
    pub idempotency: Option<&'static str>,
    /// The OpenAI error code of a failed request.
    pub error_code: Option<String>,
}

/// The token counts of an OpenAI answer's `usage` (chat and embeddings name them
/// `prompt_tokens`/`completion_tokens`, Responses `input_tokens`/`output_tokens`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct TokenUsage {
    #[serde(alias = "input_tokens")]
    pub prompt_tokens: Option<u64>,
    #[serde(alias = "output_tokens")]
    pub completion_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
}

impl From<crate::transform::openai::Usage> for TokenUsage {
    fn from(usage: crate::transform::openai::Usage) -> Self {
        TokenUsage {
            prompt_tokens: Some(usage.prompt_tokens),
            completion_tokens: Some(usage.completion_tokens),
            total_tokens: Some(usage.total_tokens),
        }
    }
}

impl TokenUsage {
    /// The last `"usage"` object of a JSON answer (text or bytes), found without parsing or
    /// validating the rest of it (answers put usage near the end; an embedding list before it can
    /// be large).
    pub fn of_json_answer(body: impl AsRef<[u8]>) -> Option<TokenUsage> {
        const KEY: &[u8] = b"\"usage\"";
        let body = body.as_ref();
        let at = body.windows(KEY.len()).rposition(|w| w == KEY)?;
        let rest = body.get(at + KEY.len()..)?;
        let colon = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        let rest = rest.get(colon..)?.strip_prefix(b":")?;
        let mut values = serde_json::Deserializer::from_slice(rest).into_iter::<TokenUsage>();
        values.next()?.ok()
    }
}

impl RequestLog {
    pub fn record_usage(&mut self, usage: TokenUsage) {
        self.prompt_tokens = usage.prompt_tokens;
        self.completion_tokens = usage.completion_tokens;
        self.total_tokens = usage.total_tokens;
    }

    /// The line as one JSON object, keys in declaration order; `duration_ms` only for streams.
    /// Written key by key rather than by a derived `Serialize`, which escapes each of the twenty
    /// constant keys again on every request (about half of the line's cost).
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(384);
        put(&mut out, "{\"request_id\":", &self.request_id);
        put(&mut out, ",\"method\":", &self.method);
        put(&mut out, ",\"path\":", &self.path);
        put(&mut out, ",\"route\":", &self.route);
        put(&mut out, ",\"status\":", &self.status);
        put(&mut out, ",\"latency_ms\":", &self.latency_ms);
        if let Some(duration_ms) = self.duration_ms {
            put(&mut out, ",\"duration_ms\":", &duration_ms);
        }
        put(&mut out, ",\"stream\":", &self.stream);
        put(&mut out, ",\"user\":", &self.user);
        put(&mut out, ",\"model\":", &self.model);
        put(&mut out, ",\"upstream_model\":", &self.upstream_model);
        put(&mut out, ",\"upstream\":", &self.upstream);
        put(&mut out, ",\"attempts\":", &self.attempts);
        put(&mut out, ",\"prompt_tokens\":", &self.prompt_tokens);
        put(&mut out, ",\"completion_tokens\":", &self.completion_tokens);
        put(&mut out, ",\"total_tokens\":", &self.total_tokens);
        put(&mut out, ",\"cache\":", &self.cache);
        put(&mut out, ",\"idempotency\":", &self.idempotency);
        put(&mut out, ",\"error_code\":", &self.error_code);
        out.push(b'}');
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Appends `key` (already JSON, with its punctuation) and `value` as JSON.
fn put<T: Serialize + ?Sized>(out: &mut Vec<u8>, key: &str, value: &T) {
    out.extend_from_slice(key.as_bytes());
    // Strings, numbers, booleans and options of them: serde_json cannot fail on these.
    let _ = serde_json::to_writer(&mut *out, value);
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
            ..RequestLog::default()
        };
        let line = log.to_json();
        assert!(!line.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["route"], "chat.completions");
        assert_eq!(value["upstream_model"], "@cf/qwen/qwen3-30b-a3b-fp8");
        assert!(value["error_code"].is_null());
        assert!(value["cache"].is_null());
        assert!(value.get("duration_ms").is_none());
    }

    #[test]
    fn the_line_is_what_serde_would_write() {
        let mut log = RequestLog {
            request_id: "req \"quoted\" \\ \u{1}\n é".into(),
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            route: Some("chat.completions"),
            status: 429,
            latency_ms: 3,
            stream: true,
            user: Some("alice".into()),
            model: Some("gpt-4".into()),
            upstream: Some("workers-ai"),
            attempts: 2,
            prompt_tokens: Some(5),
            cache: Some("bypass: no-store".into()),
            idempotency: Some("stored"),
            error_code: Some("rate_limit_exceeded".into()),
            ..RequestLog::default()
        };
        assert_eq!(log.to_json(), serde_json::to_string(&log).unwrap());
        log.duration_ms = Some(1234);
        assert_eq!(log.to_json(), serde_json::to_string(&log).unwrap());
        let empty = RequestLog::default();
        assert_eq!(empty.to_json(), serde_json::to_string(&empty).unwrap());
    }

    #[test]
    fn usage_is_read_from_the_end_of_an_answer() {
        let chat = r#"{"id":"x","choices":[{"message":{"content":"the \"usage\" word"}}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#;
        let usage = TokenUsage::of_json_answer(chat).unwrap();
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens
            ),
            (Some(5), Some(7), Some(12))
        );
        let responses = r#"{"output":[],"usage":{"input_tokens":3,"input_tokens_details":{"cached_tokens":0},"output_tokens":4,"total_tokens":7}}"#;
        let usage = TokenUsage::of_json_answer(responses).unwrap();
        assert_eq!(
            (usage.prompt_tokens, usage.completion_tokens),
            (Some(3), Some(4))
        );
        assert_eq!(TokenUsage::of_json_answer(r#"{"data":[]}"#), None);
        assert_eq!(TokenUsage::of_json_answer(r#"{"usage": null}"#), None);
        assert_eq!(TokenUsage::of_json_answer(r#"{"usage":"#), None);
        let mut log = RequestLog::default();
        log.record_usage(TokenUsage::of_json_answer(chat).unwrap());
        assert_eq!(log.total_tokens, Some(12));
    }
}
