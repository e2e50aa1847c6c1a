//! The live model list from `env.AI.models()`, kept in this isolate's memory for a while: the
//! list changes rarely, and `/v1/models` is what clients (n8n's credential test, for one) call
//! most. A failure is not cached, and falls back to the static catalogue.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use worker::Env;

use crate::models::listing::{parse_upstream_models, UpstreamModel};

#[wasm_bindgen(module = "/src/platform/glue.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = aiModels)]
    async fn ai_models(ai: &JsValue) -> Result<JsValue, JsValue>;
}

const CACHE_MILLIS: f64 = 10.0 * 60.0 * 1000.0;

thread_local! {
    static CACHED: RefCell<Option<(f64, Rc<[UpstreamModel]>)>> = const { RefCell::new(None) };
}

/// The binding's model list, from memory when fetched in the last ten minutes. `None` when the
/// binding is missing, has no `models()`, or failed: callers then use the static catalogue.
pub async fn upstream_models(env: &Env) -> Option<Rc<[UpstreamModel]>> {
    let now = js_sys::Date::now();
    let fresh = CACHED.with(|cached| {
        cached
            .borrow()
            .as_ref()
            .filter(|(at, _)| now - at < CACHE_MILLIS)
            .map(|(_, models)| Rc::clone(models))
    });
    if fresh.is_some() {
        return fresh;
    }
    let ai = crate::platform::binding(env, "AI")?;
    let json = match ai_models(&ai).await {
        Ok(json) => json.as_string()?,
        Err(err) => {
            worker::console_warn!(
                "env.AI.models() failed, listing the static catalogue: {}",
                crate::platform::ai::error_message(&err)
            );
            return None;
        }
    };
    let models: Rc<[UpstreamModel]> = parse_upstream_models(&json)?.into();
    CACHED.with(|cached| *cached.borrow_mut() = Some((now, Rc::clone(&models))));
    Some(models)
}
