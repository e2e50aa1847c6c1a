//! The Workers-runtime side: the `env.AI` binding, streams and HTTP responses. wasm32 only.

pub mod ai;
pub mod catalogue;
pub mod fetch;
pub mod http;
pub mod ids;
pub mod keep;
pub mod log;
pub mod openai;
pub mod promise;
pub mod rate_limit;
pub mod request;
pub mod store;

use wasm_bindgen::prelude::*;
use worker::Env;

#[wasm_bindgen(module = "/src/platform/glue.js")]
extern "C" {
    /// A binding by name (`AI`, `GATEWAY_KV`, `RATE_LIMITER`, …), if the deployment has it. (One
    /// call across the boundary, where `Reflect::get` and the two checks took four.)
    #[wasm_bindgen(js_name = bindingOf)]
    pub fn binding(env: &Env, name: &str) -> Option<JsValue>;
}

/// Unix time in seconds.
pub fn now_seconds() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}
