//! Stored responses in the optional `GATEWAY_KV` namespace.

use wasm_bindgen::JsValue;
use worker::kv::KvStore;
use worker::Env;

use crate::error::GatewayError;
use crate::transform::responses::StoredResponse;

pub const BINDING: &str = "GATEWAY_KV";
/// OpenAI keeps stored responses for 30 days.
pub const TTL_SECONDS: u64 = 30 * 24 * 60 * 60;

pub struct ResponseStore {
    kv: KvStore,
    /// The binding as JS sees it, for the stream glue that stores a streamed response at its end.
    raw: JsValue,
}

impl ResponseStore {
    /// The store, if the deployment binds `GATEWAY_KV`.
    pub fn of(env: &Env) -> Option<Self> {
        let raw = js_sys::Reflect::get(env, &JsValue::from_str(BINDING)).ok()?;
        if raw.is_undefined() || raw.is_null() {
            return None;
        }
        Some(ResponseStore {
            kv: env.kv(BINDING).ok()?,
            raw,
        })
    }

    /// Keys are scoped by the caller, so one key's responses are invisible to another's.
    pub fn key(user: &str, id: &str) -> String {
        format!("responses/{user}/{id}")
    }

    pub fn raw(&self) -> &JsValue {
        &self.raw
    }

    pub async fn load(&self, user: &str, id: &str) -> Result<Option<StoredResponse>, GatewayError> {
        let text = self
            .kv
            .get(&Self::key(user, id))
            .text()
            .await
            .map_err(|err| storage_error("read", err))?;
        Ok(text.and_then(|text| serde_json::from_str(&text).ok()))
    }

    pub async fn save(&self, user: &str, id: &str, record: &str) -> Result<(), GatewayError> {
        self.kv
            .put(&Self::key(user, id), record)
            .map_err(|err| storage_error("write", err))?
            .expiration_ttl(TTL_SECONDS)
            .execute()
            .await
            .map_err(|err| storage_error("write", err))
    }

    pub async fn delete(&self, user: &str, id: &str) -> Result<(), GatewayError> {
        self.kv
            .delete(&Self::key(user, id))
            .await
            .map_err(|err| storage_error("delete", err))
    }
}

fn storage_error(action: &str, err: impl std::fmt::Display) -> GatewayError {
    GatewayError::Internal(format!(
        "could not {action} the stored response in {BINDING}: {err}"
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
        param: Some("previous_response_id"),
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
