//! Deployment configuration read from the Worker's vars and secrets.

use super::auth::KeyRing;
use super::cache::CachePolicy;
use super::cors::CorsPolicy;
use super::idempotency;
use super::limits::RequestLimits;
use super::rate_limit::RateLimit;
use super::upstream::UpstreamConfig;
use crate::error::GatewayError;
use crate::models::AliasOverrides;

/// Default request body limit: generous for long chats and inline images, far below Workers' own.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub keys: KeyRing,
    pub cors: CorsPolicy,
    pub max_body_bytes: usize,
    pub aliases: AliasOverrides,
    pub limits: RequestLimits,
    /// `RATE_LIMIT_REQUESTS` per `RATE_LIMIT_PERIOD`; `None`: only the `RATE_LIMITER` binding,
    /// if bound, limits.
    pub rate_limit: Option<RateLimit>,
    /// AI Gateway, the OpenAI-compatible upstream, fallback chains, the upstream timeout.
    pub upstream: UpstreamConfig,
    /// `RESPONSE_CACHE` and `RESPONSE_CACHE_TTL`.
    pub cache: CachePolicy,
    /// `IDEMPOTENCY_TTL`: seconds a response is replayed for its `Idempotency-Key`.
    pub idempotency_ttl: u64,
}

impl GatewayConfig {
    /// Reads configuration through `var`, which returns a var's or secret's value if set.
    pub fn load(var: impl Fn(&str) -> Option<String>) -> Result<Self, GatewayError> {
        let keys = KeyRing::from_secrets(var("API_KEYS").as_deref(), var("API_KEY").as_deref());
        let max_body_bytes = match var("MAX_BODY_BYTES") {
            None => DEFAULT_MAX_BODY_BYTES,
            Some(raw) => raw
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    GatewayError::Misconfigured(format!(
                        "MAX_BODY_BYTES must be a positive whole number of bytes; it is `{raw}`."
                    ))
                })?,
        };
        Ok(GatewayConfig {
            keys,
            cors: CorsPolicy::parse(var("ALLOWED_ORIGINS").as_deref()),
            max_body_bytes,
            aliases: AliasOverrides::parse(var("MODEL_ALIASES").as_deref().unwrap_or(""))?,
            limits: RequestLimits::load(&var)?,
            rate_limit: RateLimit::load(&var)?,
            upstream: UpstreamConfig::load(&var)?,
            cache: CachePolicy::load(&var)?,
            idempotency_ttl: idempotency::ttl_seconds(&var)?,
        })
    }

    /// The error every authenticated route returns while no key is configured.
    pub fn missing_keys_error() -> GatewayError {
        GatewayError::Misconfigured(
            "This gateway has no API keys configured, so it refuses to serve rather than run open. \
             The operator must set the API_KEYS secret (comma-separated keys, e.g. `wrangler secret put API_KEYS`)."
                .to_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<GatewayConfig, GatewayError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        GatewayConfig::load(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_and_overrides() {
        let config = load(&[]).unwrap();
        assert!(config.keys.is_empty());
        assert_eq!(config.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(config.cors, CorsPolicy::AnyOrigin);
        let config = load(&[("API_KEYS", "sk-a-1"), ("MAX_BODY_BYTES", "1024")]).unwrap();
        assert!(!config.keys.is_empty());
        assert_eq!(config.max_body_bytes, 1024);
    }

    #[test]
    fn bad_values_are_explained() {
        let err = load(&[("MAX_BODY_BYTES", "lots")]).unwrap_err();
        assert_eq!(err.status(), 500);
        assert!(err.to_string().contains("MAX_BODY_BYTES"));
        assert!(load(&[("MODEL_ALIASES", "{")])
            .unwrap_err()
            .to_string()
            .contains("MODEL_ALIASES"));
        assert!(GatewayConfig::missing_keys_error()
            .to_string()
            .contains("API_KEYS"));
    }
}
