//! Rate limits per key (per client IP on open routes): `RATE_LIMIT_REQUESTS` per
//! `RATE_LIMIT_PERIOD` seconds. Counted by the Workers Rate Limiting binding `RATE_LIMITER` when
//! bound (its own limit, set in wrangler.toml, decides), else by fixed windows in `GATEWAY_KV`.

use super::limits::positive;
use crate::error::GatewayError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u64,
    pub period_seconds: u64,
}

impl RateLimit {
    /// `None` when `RATE_LIMIT_REQUESTS` is unset. The period defaults to 60 seconds.
    pub fn load(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, GatewayError> {
        let number = |name: &str| positive(name, var(name));
        let Some(requests) = number("RATE_LIMIT_REQUESTS")? else {
            return Ok(None);
        };
        Ok(Some(RateLimit {
            requests,
            period_seconds: number("RATE_LIMIT_PERIOD")?.unwrap_or(60),
        }))
    }

    /// The current fixed window: its number and the seconds until it ends.
    pub fn window(&self, now_seconds: u64) -> (u64, u64) {
        let window = now_seconds / self.period_seconds;
        let reset = (window + 1) * self.period_seconds - now_seconds;
        (window, reset)
    }
}

/// Who is counted: a fingerprint of the key (never the key itself), or the client IP.
pub fn subject_for_key(key: &str) -> String {
    format!("key:{:016x}", fnv1a(key.as_bytes()))
}

pub fn subject_for_ip(ip: Option<&str>) -> String {
    format!("ip:{}", ip.filter(|ip| !ip.is_empty()).unwrap_or("unknown"))
}

/// 64-bit FNV-1a: a stable, non-reversible-enough label for KV keys and logs (not a secret hash;
/// keys have ≥128 bits of randomness, so the label reveals nothing useful).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The outcome of one check, with what the `x-ratelimit-*` headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    /// `None` when the binding decides (its limit lives in wrangler.toml) and no var says it.
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset_seconds: u64,
}

impl RateDecision {
    /// After counting `count` requests (this one included) in the current window.
    pub fn counted(limit: &RateLimit, count: u64, reset_seconds: u64) -> Self {
        RateDecision {
            allowed: count <= limit.requests,
            limit: Some(limit.requests),
            remaining: Some(limit.requests.saturating_sub(count)),
            reset_seconds,
        }
    }

    /// Headers for every response, in OpenAI's names.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::with_capacity(3);
        if let Some(limit) = self.limit {
            headers.push(("x-ratelimit-limit-requests", limit.to_string()));
        }
        if let Some(remaining) = self.remaining {
            headers.push(("x-ratelimit-remaining-requests", remaining.to_string()));
        }
        headers.push((
            "x-ratelimit-reset-requests",
            format!("{}s", self.reset_seconds),
        ));
        headers
    }

    /// The 429 for a refused request.
    pub fn error(&self) -> GatewayError {
        GatewayError::RateLimited {
            message: format!(
                "Rate limit reached{}. Try again in {} seconds.",
                self.limit
                    .map(|limit| format!(" ({limit} requests per window for this key)"))
                    .unwrap_or_default(),
                self.reset_seconds
            ),
            retry_after: u32::try_from(self.reset_seconds.max(1)).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<Option<RateLimit>, GatewayError> {
        let vars: HashMap<_, _> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RateLimit::load(|name| vars.get(name).cloned())
    }

    #[test]
    fn configuration() {
        assert_eq!(load(&[]).unwrap(), None);
        assert_eq!(
            load(&[("RATE_LIMIT_REQUESTS", "5")]).unwrap(),
            Some(RateLimit {
                requests: 5,
                period_seconds: 60
            })
        );
        assert_eq!(
            load(&[("RATE_LIMIT_REQUESTS", "5"), ("RATE_LIMIT_PERIOD", "10")])
                .unwrap()
                .unwrap()
                .period_seconds,
            10
        );
        let err = load(&[("RATE_LIMIT_REQUESTS", "many")]).unwrap_err();
        assert!(err.to_string().contains("RATE_LIMIT_REQUESTS"));
        assert!(load(&[("RATE_LIMIT_REQUESTS", "5"), ("RATE_LIMIT_PERIOD", "0")]).is_err());
    }

    #[test]
    fn windows_and_decisions() {
        let limit = RateLimit {
            requests: 2,
            period_seconds: 60,
        };
        assert_eq!(limit.window(125), (2, 55));
        assert_eq!(limit.window(120), (2, 60));
        let ok = RateDecision::counted(&limit, 2, 55);
        assert!(ok.allowed);
        assert_eq!(
            ok.headers(),
            vec![
                ("x-ratelimit-limit-requests", "2".to_owned()),
                ("x-ratelimit-remaining-requests", "0".to_owned()),
                ("x-ratelimit-reset-requests", "55s".to_owned()),
            ]
        );
        let refused = RateDecision::counted(&limit, 3, 55);
        assert!(!refused.allowed);
        let err = refused.error();
        assert_eq!(err.status(), 429);
        assert_eq!(err.retry_after(), Some(55));
        assert_eq!(
            err.to_body().error.code.as_deref(),
            Some("rate_limit_exceeded")
        );
        assert!(err.to_string().contains("55 seconds"));
    }

    #[test]
    fn subjects_never_hold_the_key() {
        let subject = subject_for_key("sk-alice-0123456789abcdef");
        assert!(subject.starts_with("key:") && !subject.contains("alice"));
        assert_ne!(subject, subject_for_key("sk-alice-0123456789abcdeg"));
        assert_eq!(subject_for_ip(Some("1.2.3.4")), "ip:1.2.3.4");
        assert_eq!(subject_for_ip(None), "ip:unknown");
    }
}
