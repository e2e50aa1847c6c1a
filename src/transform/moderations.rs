//! `POST /v1/moderations` through Llama Guard 3: one run per input text, its verdict
//! (`{safe, categories: ["S1", …]}`) mapped onto OpenAI's categories.
//!
//! Llama Guard gives no scores, so `category_scores` is 1 for a flagged category and 0 otherwise.
//! The hazard codes it answered are kept in `llama_guard_categories` for callers who want them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::GatewayError;
use crate::models::{self, AliasOverrides, Family, ResolvedModel};

#[derive(Debug, Default, Deserialize)]
pub struct ModerationRequest {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub input: Option<Value>,
}

/// OpenAI's default moderation model.
const DEFAULT_MODEL: &str = "omni-moderation-latest";
/// Most texts one request may hold: each is one Llama Guard run, and a Worker invocation's
/// subrequests are limited (50 on the free plan).
const MAX_INPUTS: usize = 32;

/// OpenAI's categories, in the order of its schema.
const CATEGORIES: [&str; 13] = [
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
];

/// Llama Guard 3's hazard codes (MLCommons taxonomy) → OpenAI categories. S6 (specialised
/// advice), S7 (privacy), S8 (intellectual property) and S13 (elections) have no OpenAI
/// counterpart: they flag the input without setting a category.
fn openai_categories(hazard: &str) -> &'static [&'static str] {
    match hazard.trim().to_ascii_uppercase().as_str() {
        "S1" => &["violence", "illicit/violent"],
        "S2" => &["illicit"],
        "S3" => &["sexual", "illicit"],
        "S4" => &["sexual", "sexual/minors"],
        "S5" => &["harassment"],
        "S9" => &["illicit/violent", "violence"],
        "S10" => &["hate"],
        "S11" => &["self-harm"],
        "S12" => &["sexual"],
        "S14" => &["illicit"],
        _ => &[],
    }
}

#[derive(Debug)]
pub struct ModerationPlan {
    pub model: ResolvedModel,
    /// One Llama Guard input per text, in order.
    pub upstream_inputs: Vec<String>,
}

#[derive(Serialize)]
struct GuardInput<'a> {
    messages: [GuardMessage<'a>; 1],
}

#[derive(Serialize)]
struct GuardMessage<'a> {
    role: &'static str,
    content: &'a str,
}

pub fn plan_moderation(
    body: &str,
    overrides: &AliasOverrides,
) -> Result<ModerationPlan, GatewayError> {
    let request: ModerationRequest =
        super::json_body::parse_body(body, r#"{"input":"Text to check"}"#)?;
    let model = models::resolve(request.model.as_deref().unwrap_or(DEFAULT_MODEL), overrides)?;
    if model.listed && model.spec.family != Family::Safety {
        return Err(GatewayError::invalid(
            format!(
                "Model `{}` ({}) is for {}, not moderation. Use `omni-moderation-latest` (@cf/meta/llama-guard-3-8b).",
                model.requested, model.upstream_id, model.spec.family.task_name()
            ),
            Some("model"),
        ));
    }
    let texts = input_texts(request.input.as_ref())?;
    let upstream_inputs = texts
        .iter()
        .map(|text| {
            serde_json::to_string(&GuardInput {
                messages: [GuardMessage {
                    role: "user",
                    content: text,
                }],
            })
            .map_err(|err| GatewayError::Internal(format!("could not encode the input: {err}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(ModerationPlan {
        model,
        upstream_inputs,
    })
}

fn input_texts(input: Option<&Value>) -> Result<Vec<String>, GatewayError> {
    let invalid = |message: String| GatewayError::invalid(message, Some("input"));
    let texts: Vec<String> = match input {
        None | Some(Value::Null) => {
            return Err(invalid(
                "`input` is required: a string, a list of strings, or a list of `{type:\"text\", text}` parts.".into(),
            ))
        }
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(invalid("`input` must not be an empty list.".into()))
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(text) => Ok(text.clone()),
                Value::Object(part) => match (part.get("type").and_then(Value::as_str), part.get("text")) {
                    (Some("text"), Some(Value::String(text))) => Ok(text.clone()),
                    (Some("image_url"), _) => Err(invalid(format!(
                        "input[{index}] is an image; Llama Guard 3 checks text only. Send the text parts."
                    ))),
                    _ => Err(invalid(format!(
                        "input[{index}] must be a string or `{{\"type\":\"text\",\"text\":\"…\"}}`."
                    ))),
                },
                _ => Err(invalid(format!("input[{index}] must be a string."))),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid("`input` must be a string or a list of strings.".into())),
    };
    if texts.len() > MAX_INPUTS {
        return Err(invalid(format!(
            "`input` holds {} texts; at most {MAX_INPUTS} per request.",
            texts.len()
        )));
    }
    Ok(texts)
}

/// What Llama Guard answered: `{response: {safe, categories}}`, or the raw text form
/// (`"safe"` / `"unsafe\nS1,S10"`).
#[derive(Deserialize)]
struct GuardOutput {
    response: Value,
}

/// The hazard codes of one verdict; empty when safe.
fn verdict(json: &str, model: &str) -> Result<Vec<String>, GatewayError> {
    let unreadable = || GatewayError::Upstream {
        code: None,
        message: format!("`{model}` answered something that is not a safety verdict."),
    };
    let output: GuardOutput = serde_json::from_str(json).map_err(|_| unreadable())?;
    match output.response {
        Value::Object(verdict) => {
            let safe = verdict
                .get("safe")
                .and_then(Value::as_bool)
                .ok_or_else(unreadable)?;
            let categories = verdict
                .get("categories")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            Ok(match (safe, categories.is_empty()) {
                (true, _) => Vec::new(),
                // Unsafe without a code still flags the input.
                (false, true) => vec!["unspecified".to_owned()],
                (false, false) => categories,
            })
        }
        Value::String(text) => {
            let text = text.trim();
            let mut lines = text.lines();
            match lines.next().map(str::trim) {
                Some("safe") => Ok(Vec::new()),
                Some("unsafe") => {
                    let codes: Vec<String> = lines
                        .flat_map(|line| line.split(','))
                        .map(|code| code.trim().to_owned())
                        .filter(|code| !code.is_empty())
                        .collect();
                    Ok(if codes.is_empty() {
                        vec!["unspecified".to_owned()]
                    } else {
                        codes
                    })
                }
                _ => Err(unreadable()),
            }
        }
        _ => Err(unreadable()),
    }
}

#[derive(Serialize)]
struct ModerationResult {
    flagged: bool,
    categories: serde_json::Map<String, Value>,
    category_scores: serde_json::Map<String, Value>,
    category_applied_input_types: serde_json::Map<String, Value>,
    llama_guard_categories: Vec<String>,
}

/// The `CreateModerationResponse` body from each text's answer, in order.
pub fn moderation_response(
    outputs: &[&str],
    plan: &ModerationPlan,
    id: &str,
) -> Result<String, GatewayError> {
    let results = outputs
        .iter()
        .map(|json| {
            let hazards = verdict(json, &plan.model.upstream_id)?;
            let flagged_categories: Vec<&str> = hazards
                .iter()
                .flat_map(|h| openai_categories(h).iter().copied())
                .collect();
            let mut result = ModerationResult {
                flagged: !hazards.is_empty(),
                categories: Default::default(),
                category_scores: Default::default(),
                category_applied_input_types: Default::default(),
                llama_guard_categories: hazards,
            };
            for category in CATEGORIES {
                let on = flagged_categories.contains(&category);
                result.categories.insert(category.into(), Value::Bool(on));
                result.category_scores.insert(
                    category.into(),
                    serde_json::json!(if on { 1.0 } else { 0.0 }),
                );
                result
                    .category_applied_input_types
                    .insert(category.into(), serde_json::json!(["text"]));
            }
            Ok(result)
        })
        .collect::<Result<Vec<_>, GatewayError>>()?;
    serde_json::to_string(&serde_json::json!({
        "id": id,
        "model": plan.model.requested,
        "results": results,
    }))
    .map_err(|err| GatewayError::Internal(format!("could not encode the moderation: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_for(body: &str) -> Result<ModerationPlan, GatewayError> {
        plan_moderation(body, &AliasOverrides::default())
    }

    #[test]
    fn one_guard_run_per_text() {
        let plan = plan_for(r#"{"input":["a",{"type":"text","text":"b"}]}"#).unwrap();
        assert_eq!(plan.model.upstream_id, "@cf/meta/llama-guard-3-8b");
        assert_eq!(plan.model.requested, "omni-moderation-latest");
        assert_eq!(
            plan.upstream_inputs,
            vec![
                r#"{"messages":[{"role":"user","content":"a"}]}"#,
                r#"{"messages":[{"role":"user","content":"b"}]}"#
            ]
        );
        for bad in [
            r#"{}"#,
            r#"{"input":[]}"#,
            r#"{"input":[1]}"#,
            r#"{"input":[{"type":"image_url","image_url":{"url":"https://x"}}]}"#,
            r#"{"input":"x","model":"gpt-4"}"#,
        ] {
            assert_eq!(plan_for(bad).unwrap_err().status(), 400, "{bad}");
        }
    }

    #[test]
    fn verdicts_map_to_openai_categories() {
        let plan = plan_for(r#"{"input":["a","b","c"],"model":"text-moderation-latest"}"#).unwrap();
        let outputs = [
            r#"{"response":{"safe":true,"categories":[]}}"#,
            r#"{"response":{"safe":false,"categories":["S1","S10"]},"usage":{}}"#,
            r#"{"response":"unsafe\nS11"}"#,
        ];
        let body: Value =
            serde_json::from_str(&moderation_response(&outputs, &plan, "modr-1").unwrap()).unwrap();
        assert_eq!(body["id"], "modr-1");
        assert_eq!(body["model"], "text-moderation-latest");
        let results = body["results"].as_array().unwrap();
        assert_eq!(results[0]["flagged"], false);
        assert_eq!(results[0]["categories"].as_object().unwrap().len(), 13);
        assert_eq!(results[1]["flagged"], true);
        assert_eq!(results[1]["categories"]["violence"], true);
        assert_eq!(results[1]["categories"]["hate"], true);
        assert_eq!(results[1]["categories"]["sexual"], false);
        assert_eq!(results[1]["category_scores"]["hate"], 1.0);
        assert_eq!(
            results[1]["llama_guard_categories"],
            serde_json::json!(["S1", "S10"])
        );
        assert_eq!(results[2]["categories"]["self-harm"], true);
        assert_eq!(
            results[2]["category_applied_input_types"]["hate"],
            serde_json::json!(["text"])
        );
    }

    #[test]
    fn odd_verdicts() {
        assert_eq!(
            verdict(r#"{"response":"safe"}"#, "m").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            verdict(r#"{"response":{"safe":false}}"#, "m").unwrap(),
            vec!["unspecified"]
        );
        assert_eq!(
            verdict(r#"{"response":"unsafe"}"#, "m").unwrap(),
            vec!["unspecified"]
        );
        for bad in [
            r#"{"response":"maybe"}"#,
            r#"{"response":{"x":1}}"#,
            "[]",
            r#"{"response":3}"#,
        ] {
            assert_eq!(verdict(bad, "m").unwrap_err().status(), 502, "{bad}");
        }
    }
}
