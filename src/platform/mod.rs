//! The Workers-runtime side: the `env.AI` binding, streams and HTTP responses. wasm32 only.

pub mod ai;
pub mod catalogue;
pub mod fetch;
pub mod http;
pub mod ids;
pub mod keep;
pub mod log;
pub mod openai;
pub mod rate_limit;
pub mod request;
pub mod store;

use wasm_bindgen::JsValue;
use worker::Env;

/// A binding by name (`AI`, `GATEWAY_KV`, `RATE_LIMITER`, …), if the deployment has it.
pub fn binding(env: &Env, name: &str) -> Option<JsValue> {
    let value = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
    (!value.is_undefined() && !value.is_null()).then_some(value)
}

/// Unix time in seconds.
pub fn now_seconds() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}
