//! Stored responses in the optional `GATEWAY_KV` namespace. KV is reached through `glue.js`:
//! `worker::kv` would add its own error types and builders to the wasm for three calls.

use wasm_bindgen::prelude::*;
use worker::Env;

use crate::error::GatewayError;
use crate::platform::ai::error_message;
use crate::platform::binding;
use crate::policy::auth::stored_key_name;
use crate::transform::responses::StoredResponse;

#[wasm_bindgen(module = "/src/platform/glue.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = kvGet)]
    pub(crate) async fn kv_get(kv: &JsValue, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = kvPut)]
    pub(crate) async fn kv_put(
        kv: &JsValue,
        key: &str,
        value: &str,
        ttl_seconds: f64,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = sha256Hex)]
    async fn sha256_hex(text: &str) -> JsValue;
    #[wasm_bindgen(catch, js_name = kvDelete)]
    pub(crate) async fn kv_delete(kv: &JsValue, key: &str) -> Result<JsValue, JsValue>;
}

pub const BINDING: &str = "GATEWAY_KV";

/// SHA-256 of `text`, as hex (stored keys, cache keys and idempotency keys are filed by it).
pub async fn sha256(text: &str) -> String {
    sha256_hex(text).await.as_string().unwrap_or_default()
}
/// OpenAI keeps stored responses for 30 days.
pub const TTL_SECONDS: u64 = 30 * 24 * 60 * 60;

pub struct ResponseStore {
    /// The binding as JS sees it.
    kv: JsValue,
}

/// The record of a key stored in `GATEWAY_KV` (`scripts/new-key --store`), if any.
pub async fn stored_key_record(env: &Env, key: &str) -> Result<Option<String>, GatewayError> {
    let Some(kv) = binding(env, BINDING) else {
        return Ok(None);
    };
    let hash = sha256(key).await;
    let record = kv_get(&kv, &stored_key_name(&hash)).await.map_err(|err| {
        GatewayError::Internal(format!(
            "Could not read API keys from GATEWAY_KV: {}",
            error_message(&err)
        ))
    })?;
    Ok(record.as_string())
}

impl ResponseStore {
    /// The store, if the deployment binds `GATEWAY_KV`.
    pub fn of(env: &Env) -> Option<Self> {
        binding(env, BINDING).map(|kv| ResponseStore { kv })
    }

    /// Keys are scoped by the caller, so one key's responses are invisible to another's.
    pub fn key(user: &str, id: &str) -> String {
        format!("responses/{user}/{id}")
    }

    /// The binding, for the stream glue that stores a streamed response at its end.
    pub fn raw(&self) -> &JsValue {
        &self.kv
    }

    pub async fn load(&self, user: &str, id: &str) -> Result<Option<StoredResponse>, GatewayError> {
        let text = kv_get(&self.kv, &Self::key(user, id))
            .await
            .map_err(|err| storage_error("read", &err))?;
        Ok(text
            .as_string()
            .and_then(|text| serde_json::from_str(&text).ok()))
    }

    pub async fn save(&self, user: &str, id: &str, record: &str) -> Result<(), GatewayError> {
        kv_put(&self.kv, &Self::key(user, id), record, TTL_SECONDS as f64)
            .await
            .map(drop)
            .map_err(|err| storage_error("write", &err))
    }

    pub async fn delete(&self, user: &str, id: &str) -> Result<(), GatewayError> {
        kv_delete(&self.kv, &Self::key(user, id))
            .await
            .map(drop)
            .map_err(|err| storage_error("delete", &err))
    }
}

fn storage_error(action: &str, err: &JsValue) -> GatewayError {
    GatewayError::Internal(format!(
        "could not {action} the stored response in {BINDING}: {}",
        error_message(err)
    ))
}
/// The 404 for a response that is not stored (or not the caller's).
pub fn not_found(id: &str) -> GatewayError {
    GatewayError::NotFound(format!(
        "Response with id '{id}' not found. Responses are kept for 30 days when created with `store: true` (the default), and only for the API key that created them."
    ))
}

/// The 400 for a `previous_response_id` that is not stored, as OpenAI answers it (clients such as
/// the Agents SDK fall back to sending the whole conversation on this code).
pub fn previous_not_found(id: &str) -> GatewayError {
    GatewayError::InvalidRequest {
        message: format!("Previous response with id '{id}' not found. Stored responses are kept for 30 days, only for the API key that created them; send the whole conversation in `input` instead."),
        param: Some("previous_response_id".into()),
        code: Some("previous_response_not_found"),
    }
}

/// The 400 for stored-response features on a deployment without the binding.
pub fn unavailable(param: &'static str) -> GatewayError {
    GatewayError::invalid(
        format!("`{param}` needs stored responses, and this gateway has no {BINDING} KV namespace bound. Send the whole conversation in `input` instead, or ask the operator to bind {BINDING} (see wrangler.toml)."),
        Some(param),
    )
}
