//! Keeping whole responses: the response cache (GATEWAY_KV when bound, else the Cache API) and
//! `Idempotency-Key` records (GATEWAY_KV only), plus turning a response into the kept form and
//! back.

use base64::Engine;
use wasm_bindgen::prelude::*;
use worker::web_sys::ReadableStream;
use worker::Env;

use crate::error::GatewayError;
use crate::platform::ai::{error_message, read_all};
use crate::platform::binding;
use crate::platform::http::{self, Body, Response};
use crate::platform::store::{kv_get, kv_put, BINDING as KV_BINDING};
use crate::policy::idempotency::{is_text, KeptResponse};

#[wasm_bindgen(module = "/src/platform/glue.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = cacheGet)]
    async fn cache_get(key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = cachePut)]
    async fn cache_put(key: &str, value: &str, ttl_seconds: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = keepStream)]
    fn keep_stream(
        stream: &ReadableStream,
        kv: &JsValue,
        key: &str,
        meta: &str,
        ttl_seconds: f64,
    ) -> ReadableStream;
}

/// The KV namespace, if bound.
pub fn kv(env: &Env) -> Option<JsValue> {
    binding(env, KV_BINDING)
}

/// Where cached answers live: KV if bound (works on every hostname), else the Cache API.
pub async fn cache_lookup(env: &Env, hash: &str) -> Option<KeptResponse> {
    let key = format!("cache/{hash}");
    let text = match kv(env) {
        Some(kv) => kv_get(&kv, &key).await,
        None => cache_get(&key).await,
    };
    let text = text
        .map_err(|err| worker::console_warn!("response cache unreadable: {}", error_message(&err)))
        .ok()?
        .as_string()?;
    serde_json::from_str(&text).ok()
}

pub async fn cache_store(env: &Env, hash: &str, kept: &KeptResponse, ttl_seconds: u64) {
    let key = format!("cache/{hash}");
    let Ok(text) = serde_json::to_string(kept) else {
        return;
    };
    let stored = match kv(env) {
        Some(kv) => kv_put(&kv, &key, &text, ttl_seconds as f64).await,
        None => cache_put(&key, &text, ttl_seconds as f64).await,
    };
    if let Err(err) = stored {
        worker::console_warn!("response not cached: {}", error_message(&err));
    }
}

/// Reads a whole (non-stream) response into its kept form, and a response to send instead of it
/// (its body has been read).
pub async fn whole(mut response: Response) -> Result<(Response, KeptResponse), GatewayError> {
    let status = response.status_code();
    let content_type = match response.content_type() {
        "" => "application/json".to_owned(),
        t => t.to_owned(),
    };
    let bytes = match response.take_body() {
        Body::Text(text) => text.into_bytes(),
        Body::Bytes(bytes) => bytes,
        Body::Empty => Vec::new(),
        Body::Stream(stream) => read_all(&stream).await?,
    };
    let kept = kept_of(status, content_type, bytes);
    let mut replacement = response_of(&kept);
    // Keep what else was set on it (retry-after, x-gateway-*, …).
    for (name, value) in response.headers() {
        replacement.set_header(name, value);
    }
    Ok((replacement, kept))
}

fn kept_of(status: u16, content_type: String, bytes: Vec<u8>) -> KeptResponse {
    let text = match is_text(&content_type) {
        true => String::from_utf8(bytes).map_err(|err| err.into_bytes()),
        false => Err(bytes),
    };
    let (body, base64) = match text {
        Ok(text) => (text, false),
        Err(bytes) => (
            base64::engine::general_purpose::STANDARD.encode(bytes),
            true,
        ),
    };
    KeptResponse {
        status,
        content_type,
        body,
        base64,
    }
}

/// A kept response, sent again.
pub fn response_of(kept: &KeptResponse) -> Response {
    match kept.base64 {
        true => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&kept.body)
                .unwrap_or_default();
            http::with_content_type(kept.status, bytes, &kept.content_type)
        }
        false => http::text(kept.status, kept.body.clone(), &kept.content_type),
    }
}

/// A stream response whose text is stored under `key` (with `meta`, a finished record missing
/// only the body) once it has been sent in full.
pub fn kept_stream(
    response: Response,
    kv: &JsValue,
    key: &str,
    meta: &str,
    ttl_seconds: u64,
) -> Response {
    let stream = match response.body() {
        Body::Stream(stream) if response.status_code() == 200 => stream.clone(),
        _ => return response,
    };
    http::event_stream(keep_stream(&stream, kv, key, meta, ttl_seconds as f64))
}
