//! Legacy `POST /v1/completions`: a prompt in, `text_completion` out. Workers AI text models take
//! `{prompt}` and apply their chat template to it, so an instruction prompt gets an answer.

use serde::Serialize;
use serde_json::Value;

use super::chat::{
    assistant_message, estimate_tokens, finish_reason, first_stop, parse_text_output,
    CompletionContext,
};
use super::chat_request::{
    check_range, plan_max_tokens, seed_for_run, stop_sequences, Sampling, SamplingRequest,
    MAX_CHOICES,
};
use super::openai::{CompletionRequest, FinishReason, TextChoice, TextCompletion, Usage};
use crate::error::GatewayError;
use crate::models::{self, AliasOverrides, ResolvedModel};
use crate::policy::limits::RequestLimits;

#[derive(Debug)]
pub struct CompletionPlan {
    pub model: ResolvedModel,
    pub prompts: Vec<String>,
    /// One Workers AI run per choice: prompt `p`, sample `k` is run `p * n + k`.
    pub upstream_inputs: Vec<String>,
    pub stream: bool,
    pub include_usage: bool,
    pub max_tokens: u32,
    pub stop: Vec<String>,
    pub echo: bool,
    pub n: u32,
}

#[derive(Serialize)]
struct PromptInput<'a> {
    prompt: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(flatten)]
    sampling: Sampling,
}

/// `limits` is the deployment's `MAX_TOKENS`: a cap on what a request may ask for, and the
/// default when it asks for nothing.
pub fn plan_completion(
    body: &str,
    overrides: &AliasOverrides,
    limits: &RequestLimits,
) -> Result<CompletionPlan, GatewayError> {
    let request: CompletionRequest =
        super::json_body::parse_body(body, r#"{"model":"gpt-3.5-turbo","prompt":"Say hi"}"#)?;
    let model = models::resolve(request.model.as_deref().unwrap_or(""), overrides)?;
    if !model.spec.family.is_text_generation() {
        return Err(GatewayError::invalid(
            format!(
                "Model `{}` ({}) is not a text-generation model.",
                model.requested, model.upstream_id
            ),
            Some("model"),
        ));
    }
    let prompts = prompts(&request.prompt)?;
    if request.suffix.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(GatewayError::invalid(
            "`suffix` (insertion) is not supported by Workers AI models; omit it.",
            Some("suffix"),
        ));
    }
    let n = request.n.unwrap_or(1);
    if !(1..=MAX_CHOICES).contains(&n) || prompts.len() as u32 * n > MAX_CHOICES {
        return Err(GatewayError::invalid(
            format!(
                "At most {MAX_CHOICES} completions per request (prompts × n); got {} × {n}.",
                prompts.len()
            ),
            Some("n"),
        ));
    }
    let stream = request.stream.unwrap_or(false);
    if stream && prompts.len() * n as usize > 1 {
        return Err(GatewayError::invalid(
            "Streaming is supported for one prompt and n = 1; send one prompt, or drop `stream`.",
            Some("stream"),
        ));
    }
    // OpenAI's range; accepted and checked, though Workers AI has no log probabilities to return.
    check_range("logprobs", request.logprobs.map(|n| n as f64), 0.0, 5.0)?;
    limits.check_tokens(request.max_tokens, "max_tokens")?;
    let max_tokens = plan_max_tokens(None, request.max_tokens.or(limits.max_tokens()), &model)?;
    let sampling = Sampling::plan(
        SamplingRequest {
            temperature: request.temperature,
            top_p: request.top_p,
            seed: request.seed,
            frequency_penalty: request.frequency_penalty,
            presence_penalty: request.presence_penalty,
        },
        &model,
    )?;
    let mut input = PromptInput {
        prompt: "",
        max_tokens,
        stream,
        sampling,
    };
    let mut upstream_inputs = Vec::with_capacity(prompts.len() * n as usize);
    for prompt in &prompts {
        for sample in 0..n {
            input.prompt = prompt;
            input.sampling.seed = seed_for_run(request.seed, sample);
            upstream_inputs.push(serde_json::to_string(&input).map_err(|err| {
                GatewayError::Internal(format!("could not encode the upstream request: {err}"))
            })?);
        }
    }
    Ok(CompletionPlan {
        include_usage: request
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        stop: stop_sequences(request.stop.as_ref())?,
        echo: request.echo.unwrap_or(false),
        model,
        prompts,
        upstream_inputs,
        stream,
        max_tokens,
        n,
    })
}

fn prompts(prompt: &Value) -> Result<Vec<String>, GatewayError> {
    let token_arrays = || {
        GatewayError::invalid(
            "`prompt` must be a string or a list of strings; token arrays are not supported by Workers AI models.",
            Some("prompt"),
        )
    };
    let prompts = match prompt {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(token_arrays)?,
        _ => return Err(token_arrays()),
    };
    if prompts.is_empty() || prompts.iter().all(|p| p.is_empty()) {
        return Err(GatewayError::invalid(
            "`prompt` must not be empty.",
            Some("prompt"),
        ));
    }
    Ok(prompts)
}

/// The `text_completion` for the outputs of every run, in `upstream_inputs` order.
pub fn completion_from_outputs(
    outputs: &[&str],
    ctx: &CompletionContext,
    plan: &CompletionPlan,
) -> Result<String, GatewayError> {
    let mut texts = Vec::with_capacity(outputs.len());
    let mut finishes = Vec::with_capacity(outputs.len());
    let mut completion_tokens = 0;
    let mut prompt_tokens = 0;
    for (index, output_json) in outputs.iter().enumerate() {
        let output = parse_text_output(output_json)?;
        let (message, upstream_finish, usage) = assistant_message(output, ctx, &[])?;
        let mut text = message.content.unwrap_or_default();
        let stopped = match first_stop(&text, &plan.stop) {
            Some(cut) => {
                text.truncate(cut);
                true
            }
            None => false,
        };
        let prompt = plan
            .prompts
            .get(index / plan.n as usize)
            .map_or("", String::as_str);
        let usage =
            usage.unwrap_or_else(|| Usage::new(estimate_tokens(prompt), estimate_tokens(&text)));
        let upstream_finish = match stopped {
            true => Some(FinishReason::Stop),
            false => upstream_finish.as_deref().map(FinishReason::from_upstream),
        };
        finishes.push(finish_reason(
            false,
            upstream_finish,
            usage.completion_tokens,
            plan.max_tokens,
        ));
        if plan.echo {
            text.insert_str(0, prompt);
        }
        completion_tokens += usage.completion_tokens;
        // Each prompt counts once, however many samples it had.
        if index % plan.n as usize == 0 {
            prompt_tokens += usage.prompt_tokens;
        }
        texts.push(text);
    }
    let choices: Vec<TextChoice> = texts
        .iter()
        .zip(finishes)
        .enumerate()
        .map(|(index, (text, finish))| TextChoice {
            text,
            index: index as u32,
            logprobs: None,
            finish_reason: Some(finish),
        })
        .collect();
    let completion = TextCompletion {
        id: &ctx.id,
        object: "text_completion",
        created: ctx.created,
        model: &ctx.model,
        choices: &choices,
        usage: Some(Usage::new(prompt_tokens, completion_tokens)),
    };
    serde_json::to_string(&completion)
        .map_err(|err| GatewayError::Internal(format!("could not encode the completion: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(body: Value) -> Result<CompletionPlan, GatewayError> {
        plan_completion(
            &body.to_string(),
            &AliasOverrides::default(),
            &RequestLimits::default(),
        )
    }

    fn ctx() -> CompletionContext {
        CompletionContext {
            id: "cmpl-1".into(),
            created: 1,
            model: "gpt-3.5-turbo".into(),
        }
    }

    #[test]
    fn prompts_become_runs_and_choices() {
        let p = plan(json!({"model":"gpt-3.5-turbo","prompt":["a","b"],"n":2,"seed":3,"echo":true,"stop":"X"})).unwrap();
        assert_eq!(p.upstream_inputs.len(), 4);
        let first: Value = serde_json::from_str(&p.upstream_inputs[1]).unwrap();
        assert_eq!(first["prompt"], "a");
        assert_eq!(first["seed"], 4);
        let out =
            json!({"response":"hi X there","usage":{"prompt_tokens":1,"completion_tokens":2}})
                .to_string();
        let outs = [out.as_str(); 4];
        let c: Value =
            serde_json::from_str(&completion_from_outputs(&outs, &ctx(), &p).unwrap()).unwrap();
        assert_eq!(c["object"], "text_completion");
        assert_eq!(c["choices"][2]["text"], "bhi ");
        assert_eq!(c["choices"][3]["index"], 3);
        assert_eq!(c["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            c["usage"],
            json!({"prompt_tokens":2,"completion_tokens":8,"total_tokens":10})
        );
    }

    #[test]
    fn native_text_completion_output_is_read() {
        let p = plan(json!({"model":"gpt-4","prompt":"hi","max_tokens":5})).unwrap();
        let out = json!({"object":"text_completion","choices":[{"index":0,"text":"Hello","finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":5,"total_tokens":6}}).to_string();
        let c: Value =
            serde_json::from_str(&completion_from_outputs(&[&out], &ctx(), &p).unwrap()).unwrap();
        assert_eq!(c["choices"][0]["text"], "Hello");
        assert_eq!(c["choices"][0]["finish_reason"], "length");
    }

    #[test]
    fn bad_requests() {
        for (body, param) in [
            (json!({"model":"gpt-4","prompt":[1,2,3]}), "prompt"),
            (json!({"model":"gpt-4","prompt":""}), "prompt"),
            (json!({"model":"gpt-4","prompt":"x","suffix":"y"}), "suffix"),
            (json!({"model":"gpt-4","prompt":"x","n":9}), "n"),
            (
                json!({"model":"gpt-4","prompt":["x","y"],"stream":true}),
                "stream",
            ),
            (
                json!({"model":"gpt-4","prompt":"x","temperature":9}),
                "temperature",
            ),
            (
                json!({"model":"gpt-4","prompt":"x","logprobs":6}),
                "logprobs",
            ),
            (
                json!({"model":"gpt-4","prompt":"x","max_tokens":1_000_000_000u64}),
                "max_tokens",
            ),
        ] {
            assert_eq!(
                plan(body.clone()).unwrap_err().to_body().error.param,
                Some(param),
                "{body}"
            );
        }
        assert_eq!(plan(json!({"prompt":"x"})).unwrap_err().status(), 400);
    }
}
