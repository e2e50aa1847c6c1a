//! `POST /v1/embeddings`: OpenAI's request → Workers AI `{text: [...]}` runs (split at the model's
//! batch limit), and the vectors back as floats or base64 little-endian f32.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::chat::estimate_tokens;
use crate::error::GatewayError;
use crate::models::{self, AliasOverrides, Family, ResolvedModel};

#[derive(Debug, Default, Deserialize)]
pub struct EmbeddingsRequest {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub input: Option<Value>,
    #[serde(default)]
    pub encoding_format: Option<String>,
    #[serde(default)]
    pub dimensions: Option<u64>,
}

#[derive(Debug)]
pub struct EmbeddingsPlan {
    pub model: ResolvedModel,
    /// One Workers AI input per batch, in order.
    pub upstream_inputs: Vec<String>,
    /// Texts per batch, to check each answer.
    batch_sizes: Vec<usize>,
    base64: bool,
    prompt_tokens: u64,
}

#[derive(Serialize)]
struct UpstreamInput<'a> {
    text: &'a [String],
}

pub fn plan_embeddings(
    body: &str,
    overrides: &AliasOverrides,
) -> Result<EmbeddingsPlan, GatewayError> {
    let request: EmbeddingsRequest = super::json_body::parse_body(
        body,
        r#"{"model":"text-embedding-3-small","input":"Hello"}"#,
    )?;
    let model = models::resolve(request.model.as_deref().unwrap_or(""), overrides)?;
    // An id we have no entry for goes to Workers AI, which knows whether it exists.
    if model.listed && model.spec.family != Family::Embedding {
        return Err(GatewayError::invalid(
            format!(
                "Model `{}` ({}) is for {}, not embeddings. Use an embeddings model such as `text-embedding-3-small` (@cf/baai/bge-base-en-v1.5) or `@cf/baai/bge-m3`.",
                model.requested, model.upstream_id, model.spec.family.task_name()
            ),
            Some("model"),
        ));
    }
    let texts = input_texts(request.input.as_ref())?;
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(GatewayError::invalid(
                format!("`encoding_format` must be `float` or `base64`; got `{other}`."),
                Some("encoding_format"),
            ))
        }
    };
    if let Some(asked) = request.dimensions {
        let native = model.spec.embedding_dimensions();
        if native != Some(asked) {
            let size = native.map_or("a fixed size".to_owned(), |d| format!("{d} dimensions"));
            return Err(GatewayError::invalid(
                format!(
                    "Model `{}` ({}) returns vectors of {size} and cannot shorten them; drop `dimensions` or pick a model of that size (bge-small 384, bge-base 768, bge-large/bge-m3 1024).",
                    model.requested, model.upstream_id
                ),
                Some("dimensions"),
            ));
        }
    }
    let limit = model.spec.embedding_batch_limit();
    let mut upstream_inputs = Vec::new();
    let mut batch_sizes = Vec::new();
    for batch in texts.chunks(limit) {
        upstream_inputs.push(
            serde_json::to_string(&UpstreamInput { text: batch }).map_err(|err| {
                GatewayError::Internal(format!("could not encode the upstream request: {err}"))
            })?,
        );
        batch_sizes.push(batch.len());
    }
    Ok(EmbeddingsPlan {
        prompt_tokens: texts.iter().map(|t| estimate_tokens(t)).sum(),
        model,
        upstream_inputs,
        batch_sizes,
        base64,
    })
}

/// Most texts one request may hold (OpenAI's own limit).
const MAX_INPUTS: usize = 2048;

fn input_texts(input: Option<&Value>) -> Result<Vec<String>, GatewayError> {
    let invalid = |message: &str| GatewayError::invalid(message, Some("input"));
    let texts: Vec<String> = match input {
        None | Some(Value::Null) => {
            return Err(invalid(
                "`input` is required: a string, or a list of strings.",
            ))
        }
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(invalid("`input` must not be an empty list."))
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                Value::Number(_) | Value::Array(_) => Err(invalid(
                    "`input` holds token ids; Workers AI embeddings models take text. Send the strings instead.",
                )),
                _ => Err(invalid("`input` must be a string or a list of strings.")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid("`input` must be a string or a list of strings.")),
    };
    if texts.len() > MAX_INPUTS {
        return Err(invalid(&format!(
            "`input` holds {} texts; at most {MAX_INPUTS} per request.",
            texts.len()
        )));
    }
    if let Some(index) = texts.iter().position(|t| t.is_empty()) {
        return Err(invalid(&format!(
            "input[{index}] is an empty string; every text needs at least one character."
        )));
    }
    Ok(texts)
}

#[derive(Deserialize)]
struct UpstreamOutput {
    #[serde(default)]
    data: Vec<Vec<f32>>,
}

#[derive(Serialize)]
struct EmbeddingList<'a> {
    object: &'static str,
    data: Vec<Embedding>,
    model: &'a str,
    usage: EmbeddingUsage,
}

#[derive(Serialize)]
struct Embedding {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Vector {
    Floats(Vec<f32>),
    Base64(String),
}

#[derive(Serialize)]
struct EmbeddingUsage {
    prompt_tokens: u64,
    total_tokens: u64,
}

/// The OpenAI list for the batches' answers, in input order.
pub fn embeddings_response(
    outputs: &[&str],
    plan: &EmbeddingsPlan,
) -> Result<String, GatewayError> {
    let mut data = Vec::new();
    for (output, expected) in outputs.iter().zip(&plan.batch_sizes) {
        let output: UpstreamOutput =
            serde_json::from_str(output).map_err(|err| GatewayError::Upstream {
                code: None,
                message: format!(
                    "Workers AI returned embeddings this gateway cannot read ({err})."
                ),
            })?;
        if output.data.len() != *expected {
            return Err(GatewayError::Upstream {
                code: None,
                message: format!(
                    "Workers AI returned {} vectors for {expected} texts.",
                    output.data.len()
                ),
            });
        }
        for vector in output.data {
            let embedding = match plan.base64 {
                true => Vector::Base64(
                    STANDARD.encode(
                        vector
                            .iter()
                            .flat_map(|value| value.to_le_bytes())
                            .collect::<Vec<u8>>(),
                    ),
                ),
                false => Vector::Floats(vector),
            };
            data.push(Embedding {
                object: "embedding",
                index: data.len(),
                embedding,
            });
        }
    }
    serde_json::to_string(&EmbeddingList {
        object: "list",
        data,
        model: &plan.model.requested,
        usage: EmbeddingUsage {
            prompt_tokens: plan.prompt_tokens,
            total_tokens: plan.prompt_tokens,
        },
    })
    .map_err(|err| GatewayError::Internal(format!("could not encode the embeddings: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(body: Value) -> Result<EmbeddingsPlan, GatewayError> {
        plan_embeddings(&body.to_string(), &AliasOverrides::default())
    }

    #[test]
    fn batches_split_at_the_model_limit_and_rejoin_in_order() {
        let texts: Vec<String> = (0..150).map(|i| format!("t{i}")).collect();
        let p = plan(json!({"model":"text-embedding-3-small","input":texts})).unwrap();
        assert_eq!(p.model.upstream_id, "@cf/baai/bge-base-en-v1.5");
        assert_eq!(p.upstream_inputs.len(), 2);
        let first: Value = serde_json::from_str(&p.upstream_inputs[0]).unwrap();
        assert_eq!(first["text"].as_array().unwrap().len(), 100);
        let out = |n: usize, base: f32| {
            json!({"shape":[n,2],"data":(0..n).map(|i| [base + i as f32, 0.5]).collect::<Vec<_>>()})
                .to_string()
        };
        let (a, b) = (out(100, 0.0), out(50, 100.0));
        let body: Value =
            serde_json::from_str(&embeddings_response(&[&a, &b], &p).unwrap()).unwrap();
        assert_eq!(body["data"].as_array().unwrap().len(), 150);
        assert_eq!(body["data"][120]["index"], 120);
        assert_eq!(body["data"][120]["embedding"][0], 120.0);
        assert_eq!(body["model"], "text-embedding-3-small");
        assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
        let qwen = plan(json!({"model":"@cf/qwen/qwen3-embedding-0.6b","input":texts})).unwrap();
        assert_eq!(qwen.upstream_inputs.len(), 5);
    }

    #[test]
    fn base64_is_little_endian_f32() {
        let p = plan(
            json!({"model":"@cf/baai/bge-small-en-v1.5","input":"hi","encoding_format":"base64"}),
        )
        .unwrap();
        let out = json!({"shape":[1,2],"data":[[1.0, -2.5]]}).to_string();
        let body: Value = serde_json::from_str(&embeddings_response(&[&out], &p).unwrap()).unwrap();
        let bytes = STANDARD
            .decode(body["data"][0]["embedding"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            bytes,
            [1.0f32.to_le_bytes(), (-2.5f32).to_le_bytes()].concat()
        );
    }

    #[test]
    fn clear_errors() {
        for (body, param) in [
            (
                json!({"model":"text-embedding-3-small","input":[1,2,3]}),
                "input",
            ),
            (
                json!({"model":"text-embedding-3-small","input":[[1,2]]}),
                "input",
            ),
            (
                json!({"model":"text-embedding-3-small","input":[]}),
                "input",
            ),
            (
                json!({"model":"text-embedding-3-small","input":""}),
                "input",
            ),
            (json!({"model":"text-embedding-3-small"}), "input"),
            (
                json!({"model":"text-embedding-3-small","input":"x","dimensions":256}),
                "dimensions",
            ),
            (
                json!({"model":"text-embedding-3-small","input":"x","encoding_format":"hex"}),
                "encoding_format",
            ),
            (json!({"model":"gpt-4","input":"x"}), "model"),
        ] {
            assert_eq!(
                plan(body.clone()).unwrap_err().to_body().error.param,
                Some(param),
                "{body}"
            );
        }
        assert!(
            plan(json!({"model":"text-embedding-3-large","input":"x","dimensions":1024})).is_ok()
        );
    }
}
