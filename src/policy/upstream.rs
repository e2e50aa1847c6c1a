//! Where a model request goes: the `AI` binding (optionally through an AI Gateway), or an
//! OpenAI-compatible upstream for the models routed there; and which models to try next when
//! one fails. Pure: the shell calls what this decides.

use std::collections::BTreeMap;

use serde::Serialize;

use super::limits::{matches_any, positive};
use crate::error::GatewayError;

/// Model names starting with this go to the OpenAI-compatible upstream, without it.
pub const OPENAI_PREFIX: &str = "openai/";
pub const DEFAULT_OPENAI_BASE: &str = "https://api.openai.com/v1";

/// The OpenAI-compatible upstream (`OPENAI_API_KEY`, `OPENAI_API_BASE`, `OPENAI_MODELS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiUpstream {
    /// Base URL without a trailing slash, e.g. `https://api.openai.com/v1`.
    pub base: String,
    /// The gateway's own key for it; the client's key is never forwarded.
    pub key: String,
    /// Names (or `prefix*` patterns) routed there as they are, without `openai/`.
    pub models: Vec<String>,
}

/// The binding's `gateway` option: calls go through this AI Gateway (logs, caching, limits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AiGateway {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_ttl: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skip_cache: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamConfig {
    pub openai: Option<OpenAiUpstream>,
    pub ai_gateway: Option<AiGateway>,
    /// `MODEL_FALLBACKS`: model name (or `*`) → the models to try, in order, after it fails.
    fallbacks: BTreeMap<String, Vec<String>>,
    /// `UPSTREAM_TIMEOUT_MS`: how long to wait for an upstream to start answering.
    pub timeout_ms: Option<u64>,
}

/// Which upstream serves a model name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    WorkersAi,
    /// The OpenAI-compatible upstream, with the model name it knows.
    OpenAi(&'a str),
}

impl Target<'_> {
    /// The upstream's name in headers and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Target::WorkersAi => "workers-ai",
            Target::OpenAi(_) => "openai",
        }
    }
}

impl UpstreamConfig {
    pub fn load(var: impl Fn(&str) -> Option<String>) -> Result<Self, GatewayError> {
        let set = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let openai = set("OPENAI_API_KEY").map(|key| OpenAiUpstream {
            base: set("OPENAI_API_BASE")
                .unwrap_or_else(|| DEFAULT_OPENAI_BASE.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            key,
            models: list(set("OPENAI_MODELS")),
        });
        if let Some(base) = openai.as_ref().map(|o| &o.base) {
            if !(base.starts_with("https://") || base.starts_with("http://")) {
                return Err(GatewayError::Misconfigured(format!(
                    "OPENAI_API_BASE must be an http(s) URL such as {DEFAULT_OPENAI_BASE}; it is `{base}`."
                )));
            }
        }
        let ai_gateway = set("AI_GATEWAY_ID").map(|id| AiGateway {
            id,
            cache_ttl: None,
            skip_cache: false,
        });
        let ai_gateway = match ai_gateway {
            Some(gateway) => Some(AiGateway {
                cache_ttl: positive("AI_GATEWAY_CACHE_TTL", var("AI_GATEWAY_CACHE_TTL"))?,
                skip_cache: flag("AI_GATEWAY_SKIP_CACHE", set("AI_GATEWAY_SKIP_CACHE"))?,
                ..gateway
            }),
            None => None,
        };
        Ok(UpstreamConfig {
            openai,
            ai_gateway,
            fallbacks: parse_fallbacks(set("MODEL_FALLBACKS").as_deref())?,
            timeout_ms: positive("UPSTREAM_TIMEOUT_MS", var("UPSTREAM_TIMEOUT_MS"))?,
        })
    }

    /// Which upstream serves `model`. `openai/…` on a gateway without `OPENAI_API_KEY` is a 400
    /// that says so.
    pub fn target<'a>(&self, model: &'a str) -> Result<Target<'a>, GatewayError> {
        if let Some(name) = model.strip_prefix(OPENAI_PREFIX) {
            return match self.openai {
                Some(_) if !name.is_empty() => Ok(Target::OpenAi(name)),
                Some(_) => Err(GatewayError::invalid(
                    "`openai/` needs a model name after it, e.g. `openai/gpt-4o-mini`.",
                    Some("model"),
                )),
                None => Err(no_openai_upstream(model)),
            };
        }
        match &self.openai {
            Some(openai) if matches_any(&openai.models, model) => Ok(Target::OpenAi(model)),
            _ => Ok(Target::WorkersAi),
        }
    }

    /// Whether any request could be routed or retried anywhere but the `AI` binding.
    pub fn routes_beyond_binding(&self) -> bool {
        self.openai.is_some() || !self.fallbacks.is_empty()
    }

    /// The models to try, in order, for a request for `model`: itself, then its chain (or the
    /// `*` chain), without repeats.
    pub fn chain<'a>(&'a self, model: &'a str) -> Vec<&'a str> {
        let next = self
            .fallbacks
            .get(model)
            .or_else(|| self.fallbacks.get("*"))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut chain = vec![model];
        for candidate in next {
            if !chain.contains(&candidate.as_str()) {
                chain.push(candidate);
            }
        }
        chain
    }

    /// The third argument of `env.AI.run` as JSON: the AI Gateway, with the caller's user name
    /// as metadata so the gateway's logs can be filtered by it. Empty without a gateway.
    pub fn ai_run_options(&self, user: Option<&str>) -> String {
        #[derive(Serialize)]
        struct Options<'a> {
            gateway: GatewayOption<'a>,
        }
        #[derive(Serialize)]
        struct GatewayOption<'a> {
            #[serde(flatten)]
            gateway: &'a AiGateway,
            #[serde(skip_serializing_if = "Option::is_none")]
            metadata: Option<BTreeMap<&'static str, &'a str>>,
        }
        let Some(gateway) = &self.ai_gateway else {
            return String::new();
        };
        let options = Options {
            gateway: GatewayOption {
                gateway,
                metadata: user.map(|user| BTreeMap::from([("user", user)])),
            },
        };
        serde_json::to_string(&options).unwrap_or_default()
    }
}

/// The 400 for an `openai/…` model on a gateway without `OPENAI_API_KEY`.
pub fn no_openai_upstream(model: &str) -> GatewayError {
    GatewayError::InvalidRequest {
        message: format!("`{model}` is routed to an OpenAI-compatible upstream, and this gateway has none configured (the operator sets the OPENAI_API_KEY secret). Use a Workers AI model instead; GET /v1/models lists them."),
        param: Some("model".into()),
        code: Some("model_not_available"),
    }
}

/// The `model` of a JSON request body, read without building the rest of it.
pub fn model_of(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct ModelField {
        model: Option<String>,
    }
    serde_json::from_str::<ModelField>(body).ok()?.model
}

/// The body with `model` set to another name (a fallback, or the upstream's own name).
pub fn with_model(body: &str, model: &str) -> Result<String, GatewayError> {
    let mut value: serde_json::Value = serde_json::from_str(body)
        .map_err(|err| GatewayError::invalid(format!("The body is not valid JSON: {err}"), None))?;
    match value.as_object_mut() {
        Some(map) => {
            map.insert("model".into(), serde_json::Value::String(model.to_owned()));
            Ok(value.to_string())
        }
        None => Err(GatewayError::invalid(
            "The body must be a JSON object.",
            None,
        )),
    }
}

/// Whether a failed attempt should be retried on the next model of the chain: rate limits,
/// server errors and timeouts, but not "this endpoint is not served" (501).
pub fn is_retryable(status: u16) -> bool {
    status == 429 || (status >= 500 && status != 501)
}

fn list(raw: Option<String>) -> Vec<String> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect()
}

fn flag(var: &str, raw: Option<String>) -> Result<bool, GatewayError> {
    match raw.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no" | "off") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some(other) => Err(GatewayError::Misconfigured(format!(
            "{var} must be true or false; it is `{other}`."
        ))),
    }
}

/// `MODEL_FALLBACKS`: `{"gpt-4": ["@cf/meta/llama-3.3-70b-instruct-fp8-fast", "openai/gpt-4o-mini"], "*": [...]}`.
fn parse_fallbacks(raw: Option<&str>) -> Result<BTreeMap<String, Vec<String>>, GatewayError> {
    let Some(raw) = raw else {
        return Ok(BTreeMap::new());
    };
    serde_json::from_str::<BTreeMap<String, Vec<String>>>(raw).map_err(|err| {
        GatewayError::Misconfigured(format!(
            "MODEL_FALLBACKS must be a JSON object of model name (or \"*\") → list of models to try next, e.g. {{\"gpt-4\":[\"@cf/meta/llama-3.3-70b-instruct-fp8-fast\",\"openai/gpt-4o-mini\"]}}: {err}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<UpstreamConfig, GatewayError> {
        let vars: HashMap<_, _> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        UpstreamConfig::load(|name| vars.get(name).cloned())
    }

    #[test]
    fn nothing_configured_means_the_binding_alone() {
        let config = load(&[]).unwrap();
        assert!(!config.routes_beyond_binding());
        assert_eq!(config.target("gpt-4").unwrap(), Target::WorkersAi);
        assert_eq!(config.chain("gpt-4"), vec!["gpt-4"]);
        assert_eq!(config.ai_run_options(Some("alice")), "");
        let err = config.target("openai/gpt-4o").unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("OPENAI_API_KEY"));
    }

    #[test]
    fn openai_routing_by_prefix_and_by_list() {
        let config = load(&[
            ("OPENAI_API_KEY", "sk-upstream"),
            (
                "OPENAI_API_BASE",
                "https://gateway.ai.cloudflare.com/v1/acc/gw/openai/",
            ),
            ("OPENAI_MODELS", "gpt-4o-2024*, o1-pro"),
        ])
        .unwrap();
        let openai = config.openai.as_ref().unwrap();
        assert_eq!(
            openai.base,
            "https://gateway.ai.cloudflare.com/v1/acc/gw/openai"
        );
        assert_eq!(
            config.target("openai/gpt-4o").unwrap(),
            Target::OpenAi("gpt-4o")
        );
        assert_eq!(
            config.target("gpt-4o-2024-08-06").unwrap(),
            Target::OpenAi("gpt-4o-2024-08-06")
        );
        assert_eq!(config.target("o1-pro").unwrap(), Target::OpenAi("o1-pro"));
        assert_eq!(config.target("gpt-4").unwrap(), Target::WorkersAi);
        assert!(config.target("openai/").is_err());
        assert_eq!(
            load(&[("OPENAI_API_KEY", "k")])
                .unwrap()
                .openai
                .unwrap()
                .base,
            DEFAULT_OPENAI_BASE
        );
        let err = load(&[
            ("OPENAI_API_KEY", "k"),
            ("OPENAI_API_BASE", "api.openai.com"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("OPENAI_API_BASE"));
    }

    #[test]
    fn fallback_chains() {
        let config = load(&[(
            "MODEL_FALLBACKS",
            r#"{"gpt-4": ["@cf/meta/llama-3.3-70b-instruct-fp8-fast", "gpt-4", "openai/gpt-4o-mini"], "*": ["gpt-3.5-turbo"]}"#,
        )])
        .unwrap();
        assert!(config.routes_beyond_binding());
        assert_eq!(
            config.chain("gpt-4"),
            vec![
                "gpt-4",
                "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
                "openai/gpt-4o-mini"
            ]
        );
        assert_eq!(config.chain("mistral"), vec!["mistral", "gpt-3.5-turbo"]);
        assert_eq!(config.chain("gpt-3.5-turbo"), vec!["gpt-3.5-turbo"]);
        let err = load(&[("MODEL_FALLBACKS", r#"["gpt-4"]"#)]).unwrap_err();
        assert!(err.to_string().contains("MODEL_FALLBACKS"));
    }

    #[test]
    fn ai_gateway_options() {
        let config = load(&[
            ("AI_GATEWAY_ID", "my-gateway"),
            ("AI_GATEWAY_CACHE_TTL", "300"),
            ("AI_GATEWAY_SKIP_CACHE", "true"),
        ])
        .unwrap();
        assert_eq!(
            config.ai_run_options(Some("alice")),
            r#"{"gateway":{"id":"my-gateway","cacheTtl":300,"skipCache":true,"metadata":{"user":"alice"}}}"#
        );
        let config = load(&[("AI_GATEWAY_ID", "gw")]).unwrap();
        assert_eq!(config.ai_run_options(None), r#"{"gateway":{"id":"gw"}}"#);
        assert!(load(&[("AI_GATEWAY_ID", "gw"), ("AI_GATEWAY_SKIP_CACHE", "maybe")]).is_err());
        assert!(load(&[("AI_GATEWAY_ID", "gw"), ("AI_GATEWAY_CACHE_TTL", "-1")]).is_err());
    }

    #[test]
    fn retryable_statuses() {
        for status in [429, 500, 502, 503, 504] {
            assert!(is_retryable(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 413, 501] {
            assert!(!is_retryable(status), "{status}");
        }
    }

    #[test]
    fn model_in_the_body() {
        let body = r#"{"messages":[{"role":"user","content":"hi"}],"model":"gpt-4","n":1}"#;
        assert_eq!(model_of(body).as_deref(), Some("gpt-4"));
        assert_eq!(model_of(r#"{"input":"x"}"#), None);
        assert_eq!(model_of(r#"{"model":7}"#), None);
        assert_eq!(model_of("not json"), None);
        let swapped = with_model(body, "openai/gpt-4o-mini").unwrap();
        assert_eq!(model_of(&swapped).as_deref(), Some("openai/gpt-4o-mini"));
        assert!(swapped.contains(r#""content":"hi""#));
        assert!(with_model("[1]", "m").is_err());
        assert!(with_model("{", "m").is_err());
    }

    #[test]
    fn timeout() {
        assert_eq!(
            load(&[("UPSTREAM_TIMEOUT_MS", "2500")]).unwrap().timeout_ms,
            Some(2500)
        );
        assert!(load(&[("UPSTREAM_TIMEOUT_MS", "soon")]).is_err());
    }
}
