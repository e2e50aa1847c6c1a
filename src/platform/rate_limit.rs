//! Counting requests: the `RATE_LIMITER` binding when bound, else fixed windows in `GATEWAY_KV`
//! (approximate: KV is eventually consistent, so bursts across locations can pass a little over
//! the limit). A limiter that fails lets the request through and logs why: an outage of the
//! counter should not become an outage of the gateway.

use std::cell::OnceCell;

use wasm_bindgen::prelude::*;
use worker::Env;

use crate::platform::ai::error_message;
use crate::platform::store::{kv_get, kv_put, BINDING as KV_BINDING};
use crate::platform::{binding, now_seconds};
use crate::policy::rate_limit::{RateDecision, RateLimit};

#[wasm_bindgen(module = "/src/platform/glue.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = rateLimit)]
    async fn rate_limit(limiter: &JsValue, key: &str) -> Result<JsValue, JsValue>;
}

pub const LIMITER_BINDING: &str = "RATE_LIMITER";

thread_local! {
    /// Whether the deployment binds `RATE_LIMITER`. Bindings, like vars, are fixed for the life
    /// of an isolate, so most deployments (without one) skip the lookup on every request.
    static HAS_LIMITER: OnceCell<bool> = const { OnceCell::new() };
}

fn limiter(env: &Env) -> Option<JsValue> {
    let bound =
        HAS_LIMITER.with(|has| *has.get_or_init(|| binding(env, LIMITER_BINDING).is_some()));
    bound.then(|| binding(env, LIMITER_BINDING)).flatten()
}

/// Counts this request for `subject`. `None` when nothing limits this deployment.
pub async fn check(env: &Env, limit: Option<&RateLimit>, subject: &str) -> Option<RateDecision> {
    if let Some(limiter) = limiter(env) {
        let now = now_seconds();
        // The binding's own period is 10 or 60 seconds; the var, if set, tells clients which.
        let period = limit.map_or(60, |l| l.period_seconds);
        let reset_seconds = period - now % period;
        return match rate_limit(&limiter, subject).await {
            Ok(success) => Some(RateDecision {
                allowed: success.as_bool().unwrap_or(true),
                limit: limit.map(|l| l.requests),
                remaining: None,
                reset_seconds,
            }),
            Err(err) => {
                worker::console_warn!(
                    "RATE_LIMITER failed, request let through: {}",
                    error_message(&err)
                );
                None
            }
        };
    }
    let limit = limit?;
    let kv = binding(env, KV_BINDING)?;
    let now = now_seconds();
    let (window, reset_seconds) = limit.window(now);
    let key = format!("ratelimit/{subject}/{window}");
    let count = match kv_get(&kv, &key).await {
        Ok(value) => {
            value
                .as_string()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
                + 1
        }
        Err(err) => {
            worker::console_warn!(
                "rate-limit count unreadable, request let through: {}",
                error_message(&err)
            );
            return None;
        }
    };
    // KV's shortest expiry is 60 seconds.
    let ttl = reset_seconds.max(60) as f64;
    if let Err(err) = kv_put(&kv, &key, &count.to_string(), ttl).await {
        worker::console_warn!("rate-limit count not stored: {}", error_message(&err));
    }
    Some(RateDecision::counted(limit, count, reset_seconds))
}
