//! The response cache: which requests it may answer, and what their key is made of. Pure; the
//! shell hashes the key and talks to KV or the Cache API.

use serde_json::Value;

use super::limits::positive;
use crate::error::GatewayError;

/// An hour: long enough to absorb retries and repeated batch jobs.
pub const DEFAULT_TTL_SECONDS: u64 = 3600;
/// KV's shortest expiry.
const MIN_TTL_SECONDS: u64 = 60;

/// `RESPONSE_CACHE`: whether the deployment caches, and whether requests must ask for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CacheMode {
    #[default]
    Off,
    /// Every eligible request (a request can opt out).
    On,
    /// Only requests that ask with `X-Gateway-Cache: on` (or `force`).
    OptIn,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CachePolicy {
    pub mode: CacheMode,
    pub ttl_seconds: u64,
}

/// What a request asked of the cache (`X-Gateway-Cache`, or `Cache-Control: no-store|no-cache`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CacheAsk {
    #[default]
    Default,
    /// Neither read nor write the cache.
    Skip,
    /// Use the cache (needed in opt-in mode).
    Use,
    /// Use it even for a sampled answer (temperature > 0).
    Force,
}

impl CacheAsk {
    pub fn from_headers(gateway_cache: Option<&str>, cache_control: Option<&str>) -> Self {
        match gateway_cache
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            Some("skip" | "off" | "bypass" | "no-store") => return CacheAsk::Skip,
            Some("on" | "use") => return CacheAsk::Use,
            Some("force") => return CacheAsk::Force,
            _ => {}
        }
        let control = cache_control.unwrap_or("").to_ascii_lowercase();
        if control.contains("no-store") || control.contains("no-cache") {
            CacheAsk::Skip
        } else {
            CacheAsk::Default
        }
    }
}

/// Whether a request is answered from (and stored in) the cache, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheDecision {
    /// Not cached; the reason goes to the log.
    Bypass(&'static str),
    /// Look it up (and store a miss) under the hash of this text.
    Use { key_material: String },
}

/// Routes whose answers are sampled: cached only at temperature 0, or when forced.
const SAMPLED_ROUTES: &[&str] = &["chat.completions", "completions", "responses.create"];
/// Routes whose answers the cache may hold.
const CACHEABLE_ROUTES: &[&str] = &[
    "chat.completions",
    "completions",
    "responses.create",
    "embeddings",
    "moderations",
];

impl CachePolicy {
    pub fn load(var: impl Fn(&str) -> Option<String>) -> Result<Self, GatewayError> {
        let mode = match var("RESPONSE_CACHE")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("" | "off" | "false" | "0") => CacheMode::Off,
            Some("on" | "true" | "1") => CacheMode::On,
            Some("opt-in" | "optin") => CacheMode::OptIn,
            Some(other) => {
                return Err(GatewayError::Misconfigured(format!(
                    "RESPONSE_CACHE must be off, on or opt-in; it is `{other}`."
                )))
            }
        };
        let ttl_seconds = positive("RESPONSE_CACHE_TTL", var("RESPONSE_CACHE_TTL"))?
            .unwrap_or(DEFAULT_TTL_SECONDS)
            .max(MIN_TTL_SECONDS);
        Ok(CachePolicy { mode, ttl_seconds })
    }

    pub fn enabled(&self) -> bool {
        self.mode != CacheMode::Off
    }

    /// Decides for one request. The key covers the route, the caller (one user's cached answers
    /// never reveal another's prompts), the Workers AI model the name resolves to (so changing an
    /// alias starts afresh), and the body with its keys sorted and `user` removed.
    pub fn decide(
        &self,
        route: &str,
        body: &Value,
        upstream_model: &str,
        user: &str,
        ask: CacheAsk,
    ) -> CacheDecision {
        if ask == CacheAsk::Skip {
            return CacheDecision::Bypass("skipped by the request");
        }
        if self.mode == CacheMode::OptIn && !matches!(ask, CacheAsk::Use | CacheAsk::Force) {
            return CacheDecision::Bypass("not requested (RESPONSE_CACHE=opt-in)");
        }
        if !CACHEABLE_ROUTES.contains(&route) {
            return CacheDecision::Bypass("route not cached");
        }
        if body.get("stream").and_then(Value::as_bool) == Some(true) {
            return CacheDecision::Bypass("stream");
        }
        // OpenAI's default temperature is 1: without an explicit 0 the answer is a sample.
        let temperature = body.get("temperature").and_then(Value::as_f64);
        if SAMPLED_ROUTES.contains(&route) && temperature != Some(0.0) && ask != CacheAsk::Force {
            return CacheDecision::Bypass("temperature > 0");
        }
        let mut normalised = body.clone();
        if let Some(map) = normalised.as_object_mut() {
            map.remove("user");
            map.remove("stream");
        }
        // `Value` maps are sorted, so equal bodies serialise equally whatever their key order.
        CacheDecision::Use {
            key_material: format!("{route}\n{user}\n{upstream_model}\n{normalised}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn policy(pairs: &[(&str, &str)]) -> Result<CachePolicy, GatewayError> {
        let vars: HashMap<_, _> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CachePolicy::load(|name| vars.get(name).cloned())
    }

    fn key(decision: CacheDecision) -> String {
        match decision {
            CacheDecision::Use { key_material } => key_material,
            CacheDecision::Bypass(why) => panic!("bypassed: {why}"),
        }
    }

    #[test]
    fn configuration() {
        assert_eq!(policy(&[]).unwrap().mode, CacheMode::Off);
        assert!(!policy(&[]).unwrap().enabled());
        let on = policy(&[("RESPONSE_CACHE", "on"), ("RESPONSE_CACHE_TTL", "10")]).unwrap();
        assert_eq!(on.mode, CacheMode::On);
        assert_eq!(on.ttl_seconds, 60, "raised to KV's minimum");
        assert_eq!(
            policy(&[("RESPONSE_CACHE", "opt-in")]).unwrap().ttl_seconds,
            DEFAULT_TTL_SECONDS
        );
        assert!(policy(&[("RESPONSE_CACHE", "sometimes")])
            .unwrap_err()
            .to_string()
            .contains("RESPONSE_CACHE"));
    }

    #[test]
    fn header_asks() {
        assert_eq!(CacheAsk::from_headers(None, None), CacheAsk::Default);
        assert_eq!(CacheAsk::from_headers(Some("FORCE"), None), CacheAsk::Force);
        assert_eq!(CacheAsk::from_headers(Some("on"), None), CacheAsk::Use);
        assert_eq!(CacheAsk::from_headers(Some("skip"), None), CacheAsk::Skip);
        assert_eq!(
            CacheAsk::from_headers(None, Some("no-cache")),
            CacheAsk::Skip
        );
        assert_eq!(
            CacheAsk::from_headers(None, Some("max-age=0")),
            CacheAsk::Default
        );
    }

    #[test]
    fn key_ignores_key_order_and_user_but_not_content() {
        let on = policy(&[("RESPONSE_CACHE", "on")]).unwrap();
        let a = json!({"model": "gpt-4", "temperature": 0, "messages": [{"role": "user", "content": "hi"}], "user": "u1"});
        let b = json!({"messages": [{"content": "hi", "role": "user"}], "user": "u2", "temperature": 0, "model": "gpt-4"});
        let c = json!({"model": "gpt-4", "temperature": 0, "messages": [{"role": "user", "content": "hello"}]});
        let decide = |body: &Value, user: &str| {
            on.decide(
                "chat.completions",
                body,
                "@cf/qwen/qwen3-30b-a3b-fp8",
                user,
                CacheAsk::Default,
            )
        };
        assert_eq!(key(decide(&a, "alice")), key(decide(&b, "alice")));
        assert_ne!(key(decide(&a, "alice")), key(decide(&c, "alice")));
        assert_ne!(key(decide(&a, "alice")), key(decide(&a, "bob")));
        let other_model = on.decide(
            "chat.completions",
            &a,
            "@cf/meta/llama-3-8b-instruct",
            "alice",
            CacheAsk::Default,
        );
        assert_ne!(key(decide(&a, "alice")), key(other_model));
    }

    #[test]
    fn sampled_streamed_and_skipped_requests_bypass() {
        let on = policy(&[("RESPONSE_CACHE", "on")]).unwrap();
        let sampled = json!({"model": "gpt-4", "messages": []});
        let decide = |body: &Value, route: &str, ask| on.decide(route, body, "m", "u", ask);
        assert_eq!(
            decide(&sampled, "chat.completions", CacheAsk::Default),
            CacheDecision::Bypass("temperature > 0")
        );
        assert!(matches!(
            decide(&sampled, "chat.completions", CacheAsk::Force),
            CacheDecision::Use { .. }
        ));
        // Embeddings are not sampled.
        assert!(matches!(
            decide(
                &json!({"model": "m", "input": "x"}),
                "embeddings",
                CacheAsk::Default
            ),
            CacheDecision::Use { .. }
        ));
        let streamed = json!({"model": "gpt-4", "temperature": 0, "stream": true});
        assert_eq!(
            decide(&streamed, "chat.completions", CacheAsk::Force),
            CacheDecision::Bypass("stream")
        );
        assert_eq!(
            decide(
                &json!({"temperature": 0}),
                "chat.completions",
                CacheAsk::Skip
            ),
            CacheDecision::Bypass("skipped by the request")
        );
        assert_eq!(
            decide(
                &json!({"prompt": "x"}),
                "images.generations",
                CacheAsk::Force
            ),
            CacheDecision::Bypass("route not cached")
        );
        let opt_in = policy(&[("RESPONSE_CACHE", "opt-in")]).unwrap();
        let zero = json!({"temperature": 0});
        assert!(matches!(
            opt_in.decide("chat.completions", &zero, "m", "u", CacheAsk::Default),
            CacheDecision::Bypass(_)
        ));
        assert!(matches!(
            opt_in.decide("chat.completions", &zero, "m", "u", CacheAsk::Use),
            CacheDecision::Use { .. }
        ));
    }
}
