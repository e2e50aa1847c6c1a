//! Requests routed to the OpenAI-compatible upstream (`OPENAI_API_BASE`), through `glue.js`.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::web_sys::{self, ReadableStream};

use crate::error::{upstream_error_from_message, GatewayError};
use crate::platform::ai::error_message;
use crate::platform::http::{self, Response};
use crate::policy::upstream::OpenAiUpstream;

#[wasm_bindgen(module = "/src/platform/glue.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = upstreamFetch)]
    async fn upstream_fetch(
        url: &str,
        key: &str,
        body: &str,
        timeout_ms: f64,
    ) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_name = responseText)]
    async fn response_text(response: &JsValue) -> Result<JsValue, JsValue>;
}

/// POSTs `body` to `<base><path>` with the gateway's key and returns the upstream's answer as
/// it is: status, content type and a body streamed through. A refusal of the gateway's key
/// becomes a 502 for the operator instead of a 401 the client would blame on its own key; a
/// failure to connect or a timeout is an error, so the fallback chain can move on.
pub async fn forward(
    upstream: &OpenAiUpstream,
    path: &str,
    body: &str,
    timeout_ms: f64,
) -> Result<Response, GatewayError> {
    let url = format!("{}{path}", upstream.base);
    let response = upstream_fetch(&url, &upstream.key, body, timeout_ms)
        .await
        .map_err(
            |err| match upstream_error_from_message(&error_message(&err)) {
                GatewayError::Upstream { message, .. } => GatewayError::Unreachable(format!(
                    "The OpenAI-compatible upstream ({}) failed: {message}",
                    upstream.base
                )),
                other => other,
            },
        )?;
    let response: web_sys::Response = response.unchecked_into();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_else(|| "application/json".into());
    if status < 400 {
        return Ok(passed_through(status, &content_type, response.body()));
    }
    let detail = response_text(&response)
        .await
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_default();
    if status == 401 || status == 403 {
        return Err(GatewayError::UpstreamRefusedKey(format!(
            "The OpenAI-compatible upstream ({}) refused this gateway's OPENAI_API_KEY with HTTP {status}: {}. The operator must update the secret (`wrangler secret put OPENAI_API_KEY`).",
            upstream.base,
            upstream_message(&detail)
        )));
    }
    // An OpenAI error passes through as it is; anything else (a proxy's HTML page, an empty or
    // differently shaped body) becomes one, with its status.
    if is_openai_error(&detail) {
        return Ok(http::text(status, detail, &content_type));
    }
    Err(GatewayError::UpstreamStatus {
        status,
        message: format!(
            "The OpenAI-compatible upstream ({}) answered HTTP {status}: {}",
            upstream.base,
            upstream_message(&detail)
        ),
    })
}

/// The upstream's answer with only its status, content type and body: none of its other headers
/// (cookies, its own rate limits) reach the client.
fn passed_through(status: u16, content_type: &str, body: Option<ReadableStream>) -> Response {
    match body {
        Some(stream) => http::Response::streamed(status, content_type, stream),
        None => http::with_content_type(status, Vec::new(), content_type),
    }
}

/// Whether `body` is an OpenAI error: `{"error": {"message": "…", …}}`.
fn is_openai_error(body: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body).is_ok_and(|v| v["error"]["message"].is_string())
}

/// The `error.message` of an OpenAI error body, or the body's start.
fn upstream_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect())
}
