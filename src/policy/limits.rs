//! Per-deployment request limits from vars: which models may be used, and how big a
//! conversation and an answer may be. Every refusal names the limit and the var; nothing is
//! silently truncated.

use serde_json::Value;

use crate::error::GatewayError;
use crate::models::ResolvedModel;
use crate::transform::openai::{ChatCompletionRequest, MessageContent};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestLimits {
    /// `ALLOWED_MODELS`: names or ids, `*` at the end matching any suffix. Empty: every model.
    allowed_models: Vec<String>,
    /// `MAX_MESSAGES`: messages (or input items) per request.
    max_messages: Option<usize>,
    /// `MAX_INPUT_CHARS`: characters of text across the conversation.
    max_input_chars: Option<usize>,
    /// `MAX_TOKENS`: the most output tokens a request may ask for; also the default when it
    /// asks for none and the model's default is higher.
    max_tokens: Option<u64>,
}

/// A var holding a positive whole number, if set; a clear 500 for anything else.
pub(crate) fn positive(var: &str, raw: Option<String>) -> Result<Option<u64>, GatewayError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| {
                GatewayError::Misconfigured(format!(
                    "{var} must be a positive whole number; it is `{text}`."
                ))
            }),
    }
}

impl RequestLimits {
    pub fn load(var: impl Fn(&str) -> Option<String>) -> Result<Self, GatewayError> {
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Ok(RequestLimits {
            allowed_models: var("ALLOWED_MODELS")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect(),
            max_messages: positive("MAX_MESSAGES", var("MAX_MESSAGES"))?.map(to_usize),
            max_input_chars: positive("MAX_INPUT_CHARS", var("MAX_INPUT_CHARS"))?.map(to_usize),
            max_tokens: positive("MAX_TOKENS", var("MAX_TOKENS"))?,
        })
    }

    /// Refuses a model outside `ALLOWED_MODELS`, or outside the key's own list (a stored key's
    /// `models`), by the name sent or the Workers AI id.
    pub fn check_model(
        &self,
        model: &ResolvedModel,
        key_models: Option<&[String]>,
    ) -> Result<(), GatewayError> {
        self.check_names(&model.requested, &model.upstream_id, key_models)
    }

    /// The same by names: the one sent and the one the upstream knows.
    pub fn check_names(
        &self,
        requested: &str,
        upstream_id: &str,
        key_models: Option<&[String]>,
    ) -> Result<(), GatewayError> {
        let allows = |patterns: &[String]| {
            matches_any(patterns, requested) || matches_any(patterns, upstream_id)
        };
        let refused = |allowed: &[String], whose: &str| GatewayError::Forbidden {
            message: format!(
                "Model `{requested}` is not enabled {whose}. Allowed: {}.",
                allowed.join(", ")
            ),
            code: "model_not_allowed",
        };
        if !self.allowed_models.is_empty() && !allows(&self.allowed_models) {
            return Err(refused(
                &self.allowed_models,
                "on this gateway (the operator sets ALLOWED_MODELS)",
            ));
        }
        match key_models {
            Some(list) if !allows(list) => Err(refused(list, "for this API key")),
            _ => Ok(()),
        }
    }

    /// Checks a chat conversation against `MAX_MESSAGES`, `MAX_INPUT_CHARS` and `MAX_TOKENS`
    /// (`tokens_param` is the name the client used, e.g. `max_output_tokens`), and applies
    /// `MAX_TOKENS` as the default when the request names no limit.
    pub fn apply_to_chat(
        &self,
        request: &mut ChatCompletionRequest,
        tokens_param: &'static str,
    ) -> Result<(), GatewayError> {
        let (count, chars) = conversation_size(request);
        if let Some(max) = self.max_messages.filter(|max| count > *max) {
            return Err(GatewayError::invalid(
                format!("The conversation has {count} messages; this gateway takes at most {max} (MAX_MESSAGES). Shorten the history."),
                Some(if request.messages.is_some() { "messages" } else { "input" }),
            ));
        }
        if let Some(max) = self.max_input_chars.filter(|max| chars > *max) {
            return Err(GatewayError::invalid(
                format!("The conversation has {chars} characters of text; this gateway takes at most {max} (MAX_INPUT_CHARS). Shorten it."),
                Some(if request.messages.is_some() { "messages" } else { "input" }),
            ));
        }
        let asked = request.max_completion_tokens.or(request.max_tokens);
        self.check_tokens(asked, tokens_param)?;
        if asked.is_none() {
            request.max_completion_tokens = self.max_tokens;
        }
        Ok(())
    }

    /// `MAX_TOKENS`, if set.
    pub fn max_tokens(&self) -> Option<u64> {
        self.max_tokens
    }

    /// Checks a requested output limit against `MAX_TOKENS`, naming the client's parameter.
    pub fn check_tokens(
        &self,
        asked: Option<u64>,
        param: &'static str,
    ) -> Result<(), GatewayError> {
        match (self.max_tokens, asked) {
            (Some(max), Some(asked)) if asked > max => Err(GatewayError::invalid(
                format!("`{param}` is {asked}; this gateway allows at most {max} (MAX_TOKENS)."),
                Some(param),
            )),
            _ => Ok(()),
        }
    }
}

/// Whether `name` matches one of `patterns` (`*` at the end: a prefix).
pub(crate) fn matches_any(patterns: &[String], name: &str) -> bool {
    patterns
        .iter()
        .any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => pattern == name,
        })
}

/// Messages (or input items) and characters of text in a chat request.
fn conversation_size(request: &ChatCompletionRequest) -> (usize, usize) {
    if let Some(messages) = &request.messages {
        let chars = messages
            .iter()
            .map(|m| match &m.content {
                Some(MessageContent::Text(text)) => text.chars().count(),
                Some(MessageContent::Parts(parts)) => parts
                    .iter()
                    .filter_map(|p| p.text.as_deref())
                    .map(|t| t.chars().count())
                    .sum(),
                None => 0,
            })
            .sum();
        return (messages.len(), chars);
    }
    let items = request.input_items.as_deref().unwrap_or_default();
    let count = match &request.input {
        Some(Value::Array(list)) => list.len(),
        Some(Value::String(_)) => 1,
        _ => items.len(),
    };
    let chars = request.input.iter().chain(items).map(text_chars).sum();
    (count, chars)
}

/// Characters in every string of a JSON value except image data.
fn text_chars(value: &Value) -> usize {
    match value {
        Value::String(text) if !text.starts_with("data:") => text.chars().count(),
        Value::Array(list) => list.iter().map(text_chars).sum(),
        Value::Object(map) => map
            .iter()
            .filter(|(key, _)| !matches!(key.as_str(), "image_url" | "type" | "role"))
            .map(|(_, v)| text_chars(v))
            .sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{resolve, AliasOverrides};
    use std::collections::HashMap;

    fn limits(pairs: &[(&str, &str)]) -> Result<RequestLimits, GatewayError> {
        let vars: HashMap<_, _> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RequestLimits::load(|name| vars.get(name).cloned())
    }

    fn chat(json: &str) -> ChatCompletionRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn allowed_models_by_name_id_or_prefix() {
        let none = AliasOverrides::default();
        let model = |name: &str| resolve(name, &none).unwrap();
        let l = limits(&[("ALLOWED_MODELS", "gpt-4, @cf/meta/*")]).unwrap();
        assert!(l.check_model(&model("gpt-4"), None).is_ok());
        assert!(
            l.check_model(&model("gpt-3.5-turbo"), None).is_ok(),
            "its id is @cf/meta/…"
        );
        let err = l.check_model(&model("o3"), None).unwrap_err();
        assert_eq!(err.status(), 403);
        assert_eq!(
            err.to_body().error.code.as_deref(),
            Some("model_not_allowed")
        );
        assert!(err.to_string().contains("ALLOWED_MODELS"));
        let open = limits(&[]).unwrap();
        assert!(open.check_model(&model("o3"), None).is_ok());
        let key_list = vec!["gpt-4".to_owned()];
        let err = open.check_model(&model("o3"), Some(&key_list)).unwrap_err();
        assert!(err.to_string().contains("for this API key"));
        assert!(open.check_model(&model("gpt-4"), Some(&key_list)).is_ok());
    }

    #[test]
    fn conversation_limits() {
        let l = limits(&[("MAX_MESSAGES", "2"), ("MAX_INPUT_CHARS", "10")]).unwrap();
        let mut ok = chat(r#"{"messages":[{"role":"user","content":"hello"}]}"#);
        assert!(l.apply_to_chat(&mut ok, "max_tokens").is_ok());
        let mut many = chat(
            r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}"#,
        );
        let err = l.apply_to_chat(&mut many, "max_tokens").unwrap_err();
        assert!(err.to_string().contains("MAX_MESSAGES"));
        let mut long = chat(
            r#"{"messages":[{"role":"user","content":[{"type":"text","text":"0123456789x"}]}]}"#,
        );
        assert!(l
            .apply_to_chat(&mut long, "max_tokens")
            .unwrap_err()
            .to_string()
            .contains("MAX_INPUT_CHARS"));
        let mut items = chat(
            r#"{"input":[{"role":"user","content":[{"type":"input_text","text":"0123456789x"}]}]}"#,
        );
        let err = l.apply_to_chat(&mut items, "max_tokens").unwrap_err();
        assert_eq!(err.to_body().error.param, Some("input"));
        let mut image = chat(
            r#"{"input":[{"role":"user","content":[{"type":"input_image","image_url":"data:image/png;base64,AAAAAAAAAAAAAAAA"}]}]}"#,
        );
        assert!(
            l.apply_to_chat(&mut image, "max_tokens").is_ok(),
            "image data is not text"
        );
    }

    #[test]
    fn max_tokens_refuses_and_defaults() {
        let l = limits(&[("MAX_TOKENS", "100")]).unwrap();
        let mut over = chat(r#"{"messages":[],"max_tokens":101}"#);
        let err = l.apply_to_chat(&mut over, "max_tokens").unwrap_err();
        assert_eq!(err.to_body().error.param, Some("max_tokens"));
        let mut unset = chat(r#"{"messages":[]}"#);
        l.apply_to_chat(&mut unset, "max_tokens").unwrap();
        assert_eq!(unset.max_completion_tokens, Some(100));
        assert!(l.check_tokens(Some(100), "max_tokens").is_ok());
        assert!(l.check_tokens(Some(101), "max_tokens").is_err());
        assert!(l.check_tokens(None, "max_tokens").is_ok());
    }

    #[test]
    fn bad_vars_are_explained() {
        for var in ["MAX_MESSAGES", "MAX_INPUT_CHARS", "MAX_TOKENS"] {
            let err = limits(&[(var, "0")]).unwrap_err();
            assert_eq!(err.status(), 500);
            assert!(err.to_string().contains(var));
        }
    }
}
