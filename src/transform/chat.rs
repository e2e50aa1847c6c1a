//! `POST /v1/chat/completions`: the OpenAI request → a Workers AI input, and a Workers AI
//! output → an OpenAI `chat.completion`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::openai::{
    AssistantMessage, ChatChoice, ChatCompletion, ChatCompletionRequest, ChatMessage, FinishReason,
    FunctionCall, MessageContent, ToolCall, Usage,
};
use crate::error::GatewayError;
use crate::models::{self, AliasOverrides, ResolvedModel};

/// Identity of the completion we are building: the id, timestamp and the model name the client
/// sent (echoed back instead of the Workers AI id).
#[derive(Debug, Clone)]
pub struct CompletionContext {
    pub id: String,
    pub created: u64,
    pub model: String,
}

/// A validated chat request, ready to send upstream.
#[derive(Debug)]
pub struct ChatPlan {
    pub model: ResolvedModel,
    /// The JSON body for `env.AI.run(model, input)`.
    pub upstream_input: String,
    pub stream: bool,
    pub include_usage: bool,
    /// The `max_tokens` we asked for, to recognise answers cut by the limit.
    pub max_tokens: u32,
}

#[derive(Serialize)]
struct TextGenerationInput<'a> {
    messages: Vec<UpstreamMessage<'a>>,
    max_tokens: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a [Value]>,
}

#[derive(Serialize)]
struct UpstreamMessage<'a> {
    role: &'static str,
    content: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<&'a [Value]>,
}

/// Workers AI's documented seed range.
const SEED_RANGE: (i64, i64) = (1, 9_999_999_999);

pub fn parse_chat_request(body: &str) -> Result<ChatCompletionRequest, GatewayError> {
    serde_json::from_str(body).map_err(|err| {
        GatewayError::invalid(
            format!("Invalid chat completion request body: {err}. Send JSON like {{\"model\":\"gpt-4\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hello\"}}]}}."),
            None,
        )
    })
}

/// Validates the request and builds the Workers AI input.
pub fn plan_chat(body: &str, overrides: &AliasOverrides) -> Result<ChatPlan, GatewayError> {
    let request = parse_chat_request(body)?;
    let model = models::resolve(request.model.as_deref().unwrap_or(""), overrides)?;
    let family = model.spec.family;
    if !family.is_text_generation() {
        return Err(GatewayError::invalid(
            format!(
                "Model `{}` ({}) is a {} model, not a chat model. Use a text-generation model such as `gpt-4` or `@cf/meta/llama-3-8b-instruct`.",
                model.requested, model.upstream_id, family.task_name()
            ),
            Some("model"),
        ));
    }
    if request.messages.is_empty() {
        return Err(GatewayError::invalid(
            "`messages` must contain at least one message.",
            Some("messages"),
        ));
    }
    if let Some(n) = request.n {
        if n != 1 {
            return Err(GatewayError::invalid(
                format!("`n` = {n} is not supported yet; send n = 1 (or omit it)."),
                Some("n"),
            ));
        }
    }
    let temperature = check_range("temperature", request.temperature, 0.0, 2.0)?;
    let top_p = check_range("top_p", request.top_p, 0.0, 1.0)?.map(|p| p.max(0.001));
    let (penalty_min, penalty_max) = model.spec.penalty_range();
    let frequency_penalty = check_range("frequency_penalty", request.frequency_penalty, -2.0, 2.0)?
        .map(|p| p.clamp(penalty_min, penalty_max));
    let presence_penalty = check_range("presence_penalty", request.presence_penalty, -2.0, 2.0)?
        .map(|p| p.clamp(penalty_min, penalty_max));
    let max_tokens = plan_max_tokens(&request, &model)?;

    let tools = request.tools.as_deref().filter(|tools| !tools.is_empty());
    if tools.is_some() && model.listed && !model.spec.capabilities.tools {
        return Err(GatewayError::invalid(
            format!(
                "Model `{}` ({}) does not support tool calling. Use a tool-capable model such as `gpt-4` (@cf/qwen/qwen3-30b-a3b-fp8) or `@cf/meta/llama-3.3-70b-instruct-fp8-fast`.",
                model.requested, model.upstream_id
            ),
            Some("tools"),
        ));
    }

    let messages = request
        .messages
        .iter()
        .enumerate()
        .map(|(index, message)| upstream_message(index, message, &model))
        .collect::<Result<Vec<_>, _>>()?;

    let stream = request.stream.unwrap_or(false);
    let input = TextGenerationInput {
        messages,
        max_tokens,
        stream,
        temperature,
        top_p,
        seed: request.seed.map(|s| s.clamp(SEED_RANGE.0, SEED_RANGE.1)),
        frequency_penalty,
        presence_penalty,
        tools,
    };
    let upstream_input = serde_json::to_string(&input).map_err(|err| {
        GatewayError::Internal(format!("could not encode the upstream request: {err}"))
    })?;
    Ok(ChatPlan {
        include_usage: request
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        model,
        upstream_input,
        stream,
        max_tokens,
    })
}

fn check_range(
    param: &'static str,
    value: Option<f64>,
    min: f64,
    max: f64,
) -> Result<Option<f64>, GatewayError> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(GatewayError::invalid(
            format!("`{param}` must be between {min} and {max}; got {v}."),
            Some(param),
        )),
        other => Ok(other),
    }
}

fn plan_max_tokens(
    request: &ChatCompletionRequest,
    model: &ResolvedModel,
) -> Result<u32, GatewayError> {
    let (param, asked) = match (request.max_completion_tokens, request.max_tokens) {
        (Some(v), _) => ("max_completion_tokens", Some(v)),
        (None, Some(v)) => ("max_tokens", Some(v)),
        (None, None) => ("max_tokens", None),
    };
    match asked {
        None => Ok(model.spec.default_max_tokens()),
        Some(0) => Err(GatewayError::invalid(
            format!("`{param}` must be at least 1."),
            Some(param),
        )),
        // Clamped to what the model can produce: OpenAI treats the value as an upper bound too.
        Some(v) => Ok(u32::try_from(v)
            .unwrap_or(u32::MAX)
            .min(model.spec.max_output_tokens())),
    }
}

fn upstream_message<'a>(
    index: usize,
    message: &'a ChatMessage,
    model: &ResolvedModel,
) -> Result<UpstreamMessage<'a>, GatewayError> {
    let role = match message.role.as_str() {
        "system" | "developer" => "system",
        "user" => "user",
        "assistant" => "assistant",
        "tool" | "function" => "tool",
        other => {
            return Err(GatewayError::invalid(
                format!("messages[{index}].role `{other}` is not one of system, developer, user, assistant, tool."),
                Some("messages"),
            ))
        }
    };
    let content = match &message.content {
        None => Cow::Borrowed(""),
        Some(MessageContent::Text(text)) => Cow::Borrowed(text.as_str()),
        Some(MessageContent::Parts(parts)) => {
            let mut text = String::new();
            for part in parts {
                match (part.kind.as_str(), &part.text) {
                    ("text" | "input_text", Some(t)) => {
                        if !text.is_empty() {
                            text.push('\n');
                        }
                        text.push_str(t);
                    }
                    ("image_url" | "input_image", _) => {
                        return Err(GatewayError::invalid(
                            if model.spec.capabilities.vision {
                                format!("Image input to `{}` is not supported by this gateway yet; send text only.", model.requested)
                            } else {
                                format!("Model `{}` ({}) does not accept images. Use a vision model such as `@cf/meta/llama-4-scout-17b-16e-instruct`.", model.requested, model.upstream_id)
                            },
                            Some("messages"),
                        ))
                    }
                    (kind, _) => {
                        return Err(GatewayError::invalid(
                            format!("messages[{index}].content has a part of type `{kind}`, which this gateway does not accept; use `text` parts."),
                            Some("messages"),
                        ))
                    }
                }
            }
            Cow::Owned(text)
        }
    };
    Ok(UpstreamMessage {
        role,
        content,
        name: message.name.as_deref(),
        tool_call_id: message.tool_call_id.as_deref(),
        tool_calls: message.tool_calls.as_deref(),
    })
}

// ---------- Output ----------

/// Any text-generation output Workers AI returns. We detect the shape from the fields rather than
/// trusting the family table, so a model whose shape we guessed wrong still works.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TextOutput {
    /// Legacy: the answer (a string, or an object in JSON mode).
    #[serde(default)]
    pub response: Option<Value>,
    #[serde(default)]
    pub tool_calls: Option<Vec<Value>>,
    #[serde(default)]
    pub usage: Option<UpstreamUsage>,
    /// OpenAI-native.
    #[serde(default)]
    pub choices: Option<Vec<NativeChoice>>,
    /// Responses-style.
    #[serde(default)]
    pub output: Option<Vec<Value>>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NativeChoice {
    #[serde(default)]
    pub message: NativeMessage,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NativeMessage {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub reasoning_content: Option<String>,
    #[serde(default)]
    pub reasoning: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<Value>>,
}

/// Usage in either naming (chat: prompt/completion; Responses: input/output).
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub(crate) struct UpstreamUsage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
}

impl UpstreamUsage {
    pub fn to_usage(self) -> Option<Usage> {
        let prompt = self.prompt_tokens.or(self.input_tokens)?;
        let completion = self.completion_tokens.or(self.output_tokens).unwrap_or(0);
        Some(Usage::new(prompt, completion))
    }
}

/// Rough token count for text when upstream reports none (about four characters a token).
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// An id for the `index`-th tool call of a completion, unique because the completion id is.
pub fn tool_call_id(completion_id: &str, index: usize) -> String {
    let suffix = completion_id
        .strip_prefix("chatcmpl-")
        .unwrap_or(completion_id);
    format!("call_{suffix}_{index}")
}

/// Normalises one upstream tool call (legacy `{name, arguments: {...}}` or the OpenAI form).
pub fn normalize_tool_call(call: &Value, fallback_id: String) -> Option<ToolCall> {
    let function = call.get("function").unwrap_or(call);
    let name = function.get("name")?.as_str()?.to_owned();
    if name.is_empty() {
        return None;
    }
    let arguments = match function
        .get("arguments")
        .or_else(|| function.get("parameters"))
    {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "{}".to_owned(),
        Some(other) => other.to_string(),
    };
    let id = call
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .unwrap_or(fallback_id);
    Some(ToolCall {
        id,
        kind: "function",
        function: FunctionCall { name, arguments },
    })
}

/// Splits `<think>…</think>` reasoning off the front of a legacy answer (DeepSeek-R1, QwQ).
/// The opening tag is optional: these models often start inside the thought.
pub fn split_think(text: &str) -> (Option<&str>, &str) {
    match text.find("</think>") {
        Some(end) => {
            let thought = text[..end].trim_start();
            let thought = thought.strip_prefix("<think>").unwrap_or(thought).trim();
            let answer = text[end + "</think>".len()..].trim_start();
            ((!thought.is_empty()).then_some(thought), answer)
        }
        None => (None, text),
    }
}

/// Builds the OpenAI `chat.completion` JSON from a Workers AI output.
pub fn chat_completion_from_output(
    output_json: &str,
    ctx: &CompletionContext,
    plan: &ChatPlan,
) -> Result<String, GatewayError> {
    let output: TextOutput =
        serde_json::from_str(output_json).map_err(|err| GatewayError::Upstream {
            code: None,
            message: format!("Workers AI returned an answer this gateway cannot read ({err})."),
        })?;
    let (message, upstream_finish, usage) = assistant_message(output, ctx)?;
    let usage = usage.unwrap_or_else(|| {
        Usage::new(
            estimate_tokens(&plan.upstream_input),
            estimate_tokens(message.content.as_deref().unwrap_or_default()),
        )
    });
    let finish_reason = if !message.tool_calls.is_empty() {
        FinishReason::ToolCalls
    } else if let Some(reason) = upstream_finish {
        FinishReason::from_upstream(&reason)
    } else if usage.completion_tokens >= u64::from(plan.max_tokens) {
        FinishReason::Length
    } else {
        FinishReason::Stop
    };
    let completion = ChatCompletion {
        id: &ctx.id,
        object: "chat.completion",
        created: ctx.created,
        model: &ctx.model,
        choices: vec![ChatChoice {
            index: 0,
            message,
            finish_reason,
            logprobs: None,
        }],
        usage,
    };
    serde_json::to_string(&completion)
        .map_err(|err| GatewayError::Internal(format!("could not encode the completion: {err}")))
}

type MessageParts = (AssistantMessage, Option<String>, Option<Usage>);

pub(crate) fn assistant_message(
    output: TextOutput,
    ctx: &CompletionContext,
) -> Result<MessageParts, GatewayError> {
    let usage = output.usage.and_then(UpstreamUsage::to_usage);
    let mut message = AssistantMessage {
        role: "assistant",
        ..AssistantMessage::default()
    };
    let upstream_tool_calls;
    let mut finish = None;
    if let Some(choice) = output.choices.and_then(|c| c.into_iter().next()) {
        message.content = choice.message.content;
        message.reasoning_content = choice
            .message
            .reasoning_content
            .or(choice.message.reasoning)
            .filter(|r| !r.is_empty());
        upstream_tool_calls = choice.message.tool_calls.unwrap_or_default();
        finish = choice.finish_reason;
    } else if let Some(items) = output.output {
        let mut text = String::new();
        let mut reasoning = String::new();
        let mut calls = Vec::new();
        for item in items {
            match item.get("type").and_then(Value::as_str) {
                Some("message") => append_texts(&mut text, &item, "output_text"),
                Some("reasoning") => append_texts(&mut reasoning, &item, "reasoning_text"),
                Some("function_call") => calls.push(item),
                _ => {}
            }
        }
        message.content = Some(text);
        message.reasoning_content = (!reasoning.is_empty()).then_some(reasoning);
        upstream_tool_calls = calls;
    } else if let Some(response) = output.response {
        let text = match response {
            Value::String(s) => s,
            Value::Null => String::new(),
            // JSON mode answers with an object; OpenAI clients expect the JSON as a string.
            other => other.to_string(),
        };
        let (thought, answer) = split_think(&text);
        message.reasoning_content = thought.map(str::to_owned);
        message.content = Some(answer.to_owned());
        upstream_tool_calls = output.tool_calls.unwrap_or_default();
    } else {
        return Err(GatewayError::Upstream {
            code: None,
            message: "Workers AI returned no answer (no `response`, `choices` or `output`).".into(),
        });
    }
    message.tool_calls = upstream_tool_calls
        .iter()
        .enumerate()
        .filter_map(|(i, call)| {
            let call = call.get("call_id").map_or_else(
                || Cow::Borrowed(call),
                // Responses-style items carry the id as `call_id`.
                |id| {
                    let mut c = call.clone();
                    c["id"] = id.clone();
                    Cow::Owned(c)
                },
            );
            normalize_tool_call(&call, tool_call_id(&ctx.id, i))
        })
        .collect();
    if !message.tool_calls.is_empty() && message.content.as_deref() == Some("") {
        message.content = None;
    }
    Ok((message, finish, usage))
}

fn append_texts(into: &mut String, item: &Value, part_type: &str) {
    let parts = item.get("content").and_then(Value::as_array);
    for part in parts.into_iter().flatten() {
        if part.get("type").and_then(Value::as_str) == Some(part_type) {
            if let Some(text) = part.get("text").and_then(Value::as_str) {
                into.push_str(text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(body: Value) -> Result<ChatPlan, GatewayError> {
        plan_chat(&body.to_string(), &AliasOverrides::default())
    }

    fn ctx() -> CompletionContext {
        CompletionContext {
            id: "chatcmpl-abc".into(),
            created: 1,
            model: "gpt-4".into(),
        }
    }

    #[test]
    fn builds_legacy_input_with_a_useful_default_max_tokens() {
        let p = plan(json!({"model":"gpt-3.5-turbo","messages":[
            {"role":"developer","content":"be brief"},
            {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}
        ]}))
        .unwrap();
        let input: Value = serde_json::from_str(&p.upstream_input).unwrap();
        assert_eq!(
            input["messages"][0],
            json!({"role":"system","content":"be brief"})
        );
        assert_eq!(input["messages"][1]["content"], "a\nb");
        assert!(input["max_tokens"].as_u64().unwrap() > 256);
        assert!(input.get("stream").is_none());
        assert!(!p.stream);
    }

    #[test]
    fn clamps_to_the_model_and_rejects_out_of_range() {
        let p = plan(
            json!({"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"x"}],
            "max_tokens": 10_000_000u64, "frequency_penalty": -1.5, "seed": 0, "stream": true,
            "stream_options": {"include_usage": true}}),
        )
        .unwrap();
        let input: Value = serde_json::from_str(&p.upstream_input).unwrap();
        assert_eq!(input["max_tokens"], 8192);
        assert_eq!(
            input["frequency_penalty"], 0.0,
            "llama-3-8b accepts 0..2 only"
        );
        assert_eq!(input["seed"], 1);
        assert_eq!(input["stream"], true);
        assert!(p.include_usage);
        let qwen = plan(json!({"model":"gpt-4","messages":[{"role":"user","content":"x"}],"presence_penalty": -1.5})).unwrap();
        let input: Value = serde_json::from_str(&qwen.upstream_input).unwrap();
        assert_eq!(input["presence_penalty"], -1.5);

        for (field, value) in [
            ("temperature", json!(2.5)),
            ("top_p", json!(1.5)),
            ("max_tokens", json!(0)),
        ] {
            let mut body = json!({"model":"gpt-4","messages":[{"role":"user","content":"x"}]});
            body[field] = value;
            let err = plan(body).unwrap_err();
            assert_eq!(err.status(), 400);
            assert_eq!(err.to_body().error.param, Some(field));
        }
    }

    #[test]
    fn rejects_bad_requests_with_clear_errors() {
        let cases = [
            (
                json!({"model":"gpt-4","messages":[]}),
                "at least one message",
            ),
            (json!({"model":"gpt-4"}), "missing field `messages`"),
            (
                json!({"model":"gpt-4","messages":[{"role":"wizard","content":"x"}]}),
                "wizard",
            ),
            (
                json!({"messages":[{"role":"user","content":"x"}]}),
                "`model` is required",
            ),
            (
                json!({"model":"text-embedding-3-small","messages":[{"role":"user","content":"x"}]}),
                "not a chat model",
            ),
            (
                json!({"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}),
                "does not support tool calling",
            ),
            (
                json!({"model":"gpt-3.5-turbo","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x"}}]}]}),
                "does not accept images",
            ),
            (json!({"model":"gpt-4","messages":"hi"}), "invalid type"),
        ];
        for (body, needle) in cases {
            let err = plan(body.clone()).unwrap_err();
            assert!(err.status() == 400, "{body}: {err:?}");
            assert!(err.to_string().contains(needle), "{body}: {err}");
        }
        assert_eq!(
            plan(json!({"model":"nope","messages":[{"role":"user","content":"x"}]}))
                .unwrap_err()
                .status(),
            404
        );
    }

    fn complete(output: Value, max_tokens: u32) -> Value {
        let mut p =
            plan(json!({"model":"gpt-4","messages":[{"role":"user","content":"x"}]})).unwrap();
        p.max_tokens = max_tokens;
        serde_json::from_str(&chat_completion_from_output(&output.to_string(), &ctx(), &p).unwrap())
            .unwrap()
    }

    #[test]
    fn legacy_output_becomes_a_chat_completion() {
        let c = complete(
            json!({"response":"Hi there","usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}),
            100,
        );
        assert_eq!(c["object"], "chat.completion");
        assert_eq!(c["id"], "chatcmpl-abc");
        assert_eq!(c["model"], "gpt-4");
        assert_eq!(c["choices"][0]["message"]["content"], "Hi there");
        assert_eq!(c["choices"][0]["message"]["role"], "assistant");
        assert_eq!(c["choices"][0]["finish_reason"], "stop");
        assert_eq!(c["usage"]["total_tokens"], 5);
        let cut = complete(
            json!({"response":"a b","usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}),
            2,
        );
        assert_eq!(cut["choices"][0]["finish_reason"], "length");
    }

    #[test]
    fn legacy_tool_calls_get_ids_and_string_arguments() {
        let c = complete(
            json!({"response":"","tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}},{"name":"b","arguments":{}}]}),
            100,
        );
        let calls = &c["choices"][0]["message"]["tool_calls"];
        assert_eq!(calls[0]["function"]["arguments"], "{\"city\":\"Paris\"}");
        assert_eq!(calls[0]["type"], "function");
        assert_ne!(calls[0]["id"], calls[1]["id"]);
        assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
        assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(c["choices"][0]["message"]["content"], Value::Null);
    }

    #[test]
    fn native_output_keeps_reasoning_and_finish_reason() {
        let c = complete(
            json!({"id":"x","object":"chat.completion","created":5,"model":"@cf/qwen/qwen3-30b-a3b-fp8",
            "choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning_content":"2+2"},"finish_reason":"length"}],
            "usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}),
            100,
        );
        assert_eq!(c["choices"][0]["message"]["reasoning_content"], "2+2");
        assert_eq!(c["choices"][0]["finish_reason"], "length");
        assert_eq!(c["model"], "gpt-4");
    }

    #[test]
    fn json_mode_objects_become_strings_and_think_tags_split() {
        let c = complete(json!({"response":{"a":1}}), 100);
        assert_eq!(c["choices"][0]["message"]["content"], "{\"a\":1}");
        assert!(
            c["usage"]["prompt_tokens"].as_u64().unwrap() > 0,
            "usage is estimated when missing"
        );
        assert_eq!(
            split_think("<think> hmm </think>\n\nYes"),
            (Some("hmm"), "Yes")
        );
        assert_eq!(split_think("hmm</think>Yes"), (Some("hmm"), "Yes"));
        assert_eq!(split_think("plain"), (None, "plain"));
    }

    #[test]
    fn responses_style_output_is_read() {
        let c = complete(
            json!({"object":"response","output":[
            {"type":"reasoning","content":[{"type":"reasoning_text","text":"think"}]},
            {"type":"message","content":[{"type":"output_text","text":"Hello"}]},
            {"type":"function_call","call_id":"call_1","name":"f","arguments":"{}"}],
            "usage":{"input_tokens":2,"output_tokens":3,"total_tokens":5}}),
            100,
        );
        let m = &c["choices"][0]["message"];
        assert_eq!(m["content"], "Hello");
        assert_eq!(m["reasoning_content"], "think");
        assert_eq!(m["tool_calls"][0]["id"], "call_1");
        assert_eq!(c["usage"]["completion_tokens"], 3);
    }

    #[test]
    fn unreadable_output_is_a_502() {
        let p = plan(json!({"model":"gpt-4","messages":[{"role":"user","content":"x"}]})).unwrap();
        assert_eq!(
            chat_completion_from_output("[]", &ctx(), &p)
                .unwrap_err()
                .status(),
            502
        );
        assert_eq!(
            chat_completion_from_output("{}", &ctx(), &p)
                .unwrap_err()
                .status(),
            502
        );
    }
}
