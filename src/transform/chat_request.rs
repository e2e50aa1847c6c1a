//! `POST /v1/chat/completions` requests: validation, and the Workers AI input each model family
//! understands.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;
use serde_json::{json, Value};

use super::chat::{normalize_tool_call, tool_call_parts};
use super::json_body::{describe, humanize};
use super::media::{self, RemoteImages};
use super::openai::{ChatCompletionRequest, ChatMessage, MessageContent, ToolCall};
use crate::error::GatewayError;
use crate::models::{self, AliasOverrides, ResolvedModel};

/// A validated chat request, ready to send upstream.
#[derive(Debug)]
pub struct ChatPlan {
    pub model: ResolvedModel,
    /// The JSON body for `env.AI.run(model, input)`.
    pub upstream_input: String,
    /// With `n` > 1, the bodies of runs 2..n (distinct seeds when the client set one).
    pub extra_inputs: Vec<String>,
    /// The client asked for SSE.
    pub stream: bool,
    /// We asked Workers AI to stream (not in JSON mode, which does not stream).
    pub upstream_stream: bool,
    pub include_usage: bool,
    /// The `max_tokens` we asked for, to recognise answers cut by the limit.
    pub max_tokens: u32,
    /// Names of the tools offered, to recognise calls a model wrote into its text.
    pub tool_names: Vec<String>,
    /// Stop sequences the gateway applies itself (the model has no `stop` parameter).
    pub stop: Vec<String>,
    /// The client offered legacy `functions`: answer with `function_call`, as OpenAI does.
    pub legacy_functions: bool,
}

impl ChatPlan {
    /// Legacy reasoning models (DeepSeek-R1, QwQ) write their reasoning inside `<think>` tags.
    pub fn splits_think_tags(&self) -> bool {
        self.model.spec.family == crate::models::Family::LegacyText
            && self.model.spec.capabilities.reasoning
    }
}

#[derive(Serialize)]
struct TextGenerationInput<'a> {
    messages: Vec<UpstreamMessage<'a>>,
    max_tokens: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(flatten)]
    sampling: Sampling,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chat_template_kwargs: Option<Value>,
    /// Llama 3.2 Vision takes its one image beside the messages, as a list of byte values.
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<Vec<u8>>,
}

#[derive(Debug, Serialize)]
struct UpstreamMessage<'a> {
    role: &'static str,
    content: UpstreamContent<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Vec<ToolCall>>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum UpstreamContent<'a> {
    Text(Cow<'a, str>),
    /// Text and image parts, for vision models that take OpenAI content arrays.
    Parts(Vec<Value>),
}

/// The input form for the model, where it has more than one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamForm {
    /// `messages` for every model.
    Chat,
    /// gpt-oss takes the Responses API's own input (`input` items, `instructions`, `reasoning`);
    /// the other models still get `messages`.
    NativeResponses,
}

/// gpt-oss's Responses-style input.
#[derive(Serialize)]
struct ResponsesInput<'a> {
    input: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    max_output_tokens: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(flatten)]
    sampling: Sampling,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions: Option<&'a str>,
}

/// Workers AI's documented seed range.
const SEED_RANGE: (i64, i64) = (1, 9_999_999_999);
/// OpenAI accepts at most four stop sequences.
const MAX_STOP_SEQUENCES: usize = 4;
/// Most choices one request may ask for: each is a separate, billed Workers AI run.
pub(crate) const MAX_CHOICES: u32 = 8;
/// The largest output limit a request may name. Values up to it are lowered to the model's own
/// limit (many tools send 8192 or 32768 whatever the model); above it the value is a mistake.
const MAX_TOKENS_ASKED: u64 = 1_000_000;
/// OpenAI's most `top_logprobs`.
const MAX_TOP_LOGPROBS: f64 = 20.0;
const REASONING_EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh"];

pub fn parse_chat_request(body: &str) -> Result<ChatCompletionRequest, GatewayError> {
    super::json_body::parse_body(
        body,
        r#"{"model":"gpt-4","messages":[{"role":"user","content":"Hello"}]}"#,
    )
}

/// Validates the request and builds the Workers AI input (for requests without http(s) images).
pub fn plan_chat(body: &str, overrides: &AliasOverrides) -> Result<ChatPlan, GatewayError> {
    plan_chat_request(
        &parse_chat_request(body)?,
        overrides,
        &RemoteImages::new(),
        UpstreamForm::Chat,
    )
}

/// The http(s) image URLs the gateway must fetch before planning: vision models on Workers AI
/// only take image bytes. Empty when the request is invalid or the model has no vision; the
/// planner reports those.
pub fn remote_image_urls(
    request: &ChatCompletionRequest,
    overrides: &AliasOverrides,
) -> Result<Vec<String>, GatewayError> {
    // Read where the planner will, without building the conversation twice.
    let typed_parts = request
        .messages
        .iter()
        .flatten()
        .filter_map(|m| match &m.content {
            Some(MessageContent::Parts(parts)) => Some(parts),
            _ => None,
        })
        .flatten()
        .map(image_url_of);
    let items = match (&request.messages, &request.input_items, &request.input) {
        (Some(_), _, _) => None,
        (None, Some(items), _) => Some(items),
        (None, None, Some(Value::Array(items))) => Some(items),
        _ => None,
    };
    let item_parts = items
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("content").and_then(Value::as_array))
        .flatten()
        .map(|part| {
            let url = part.get("image_url").or_else(|| part.get("image"));
            url.and_then(|u| u.get("url").or(Some(u)))
                .and_then(Value::as_str)
                .unwrap_or("")
        });
    let mut urls: Vec<String> = Vec::new();
    for url in typed_parts.chain(item_parts) {
        if media::is_remote_url(url) && !urls.iter().any(|u| u == url) {
            urls.push(url.to_owned());
        }
    }
    // Resolved only for a request with URLs: the planner resolves the model anyway.
    let vision = !urls.is_empty()
        && models::resolve(request.model.as_deref().unwrap_or(""), overrides)
            .is_ok_and(|model| model.spec.capabilities.vision);
    if !vision {
        return Ok(Vec::new());
    }
    if urls.len() > media::MAX_REMOTE_IMAGES {
        return Err(GatewayError::invalid(
            format!(
                "The messages name {} http(s) images; this gateway fetches at most {} per request. Send fewer, or send them as data: URLs.",
                urls.len(),
                media::MAX_REMOTE_IMAGES
            ),
            Some("messages"),
        ));
    }
    Ok(urls)
}

/// Validates the request and builds the Workers AI input; `images` holds the bytes of every
/// http(s) image URL in it (see [`remote_image_urls`]).
pub fn plan_chat_request(
    request: &ChatCompletionRequest,
    overrides: &AliasOverrides,
    images: &RemoteImages,
    form: UpstreamForm,
) -> Result<ChatPlan, GatewayError> {
    let model = models::resolve(request.model.as_deref().unwrap_or(""), overrides)?;
    let family = model.spec.family;
    if !family.is_text_generation() {
        return Err(GatewayError::invalid(
            format!(
                "Model `{}` ({}) is for {}, not chat. Use a text-generation model such as `gpt-4` or `@cf/meta/llama-3-8b-instruct`.",
                model.requested, model.upstream_id, family.task_name()
            ),
            Some("model"),
        ));
    }
    let conversation = conversation(request)?;
    let stream = request.stream.unwrap_or(false);
    let n = request.n.unwrap_or(1);
    if !(1..=MAX_CHOICES).contains(&n) {
        return Err(GatewayError::invalid(
            format!("`n` must be between 1 and {MAX_CHOICES} (each choice is a separate Workers AI run); got {n}."),
            Some("n"),
        ));
    }
    // OpenAI-compatible models (GLM) take these parameters natively; for the others the gateway
    // does what it can itself.
    let native = model.spec.accepts_openai_parameters();
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
    let max_tokens = plan_max_tokens(request.max_completion_tokens, request.max_tokens, &model)?;
    // Accepted and checked, though Workers AI has no log probabilities to return.
    check_range(
        "top_logprobs",
        request.top_logprobs.map(|n| n as f64),
        0.0,
        MAX_TOP_LOGPROBS,
    )?;
    let stop = stop_sequences(request.stop.as_ref())?;
    let response_format = json_mode(request.response_format.as_ref(), &model)?;
    let reasoning_effort = request.reasoning_effort.as_deref();
    if let Some(effort) = reasoning_effort {
        if !REASONING_EFFORTS.contains(&effort) {
            return Err(GatewayError::invalid(
                format!(
                    "`reasoning_effort` must be one of {}; got `{effort}`.",
                    REASONING_EFFORTS.join(", ")
                ),
                Some("reasoning_effort"),
            ));
        }
    }

    let (tools, tool_choice) = plan_tools(request, &model)?;
    let tool_names: Vec<String> = tools
        .iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
        .collect();
    let mut images = ImageInputs {
        remote: images,
        top_level: None,
    };
    let messages = upstream_messages(&conversation, &model, &mut images)?;
    let tool_choice = upstream_tool_choice(tools.is_some(), tool_choice, &model);

    // Workers AI's JSON mode does not stream: ask for the whole answer, stream it to the client.
    // With `n` > 1 the runs are whole answers too, each sent as one chunk per choice.
    let upstream_stream = stream && response_format.is_none() && n == 1;
    let mut input = TextGenerationInput {
        messages,
        max_tokens,
        stream: upstream_stream,
        sampling,
        tools,
        tool_choice,
        response_format,
        stop: (native && !stop.is_empty()).then_some(stop.as_slice()),
        reasoning_effort: reasoning_effort.and_then(|effort| upstream_effort(effort, &model)),
        // Qwen3 and GLM think unless told not to: that is how they take a "none" effort.
        chat_template_kwargs: (model.spec.capabilities.reasoning
            && model.spec.family == crate::models::Family::OpenAiNativeText
            && matches!(reasoning_effort, Some("none" | "minimal")))
        .then(|| json!({"enable_thinking": false})),
        image: images.top_level,
    };
    let encode = |input: &TextGenerationInput| {
        serde_json::to_string(input).map_err(|err| {
            GatewayError::Internal(format!("could not encode the upstream request: {err}"))
        })
    };
    // gpt-oss's Responses input has no JSON mode and one answer per run: those keep `messages`.
    let native_responses = form == UpstreamForm::NativeResponses
        && model.spec.family == crate::models::Family::ResponsesText
        && input.response_format.is_none()
        && n == 1;
    let upstream_input = if native_responses {
        responses_input(&input)?
    } else {
        encode(&input)?
    };
    let mut extra_inputs = Vec::new();
    for run in 1..n {
        input.sampling.seed = seed_for_run(request.seed, run);
        extra_inputs.push(encode(&input)?);
    }
    Ok(ChatPlan {
        include_usage: request
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        model,
        upstream_input,
        extra_inputs,
        stream,
        upstream_stream,
        max_tokens,
        tool_names,
        stop: if native { Vec::new() } else { stop },
        legacy_functions: request.tools.is_none() && request.functions.is_some(),
    })
}

/// The chat input, rewritten as gpt-oss's Responses input: system turns become `instructions`,
/// tool calls and results become `function_call` / `function_call_output` items.
fn responses_input(chat: &TextGenerationInput) -> Result<String, GatewayError> {
    let mut instructions = String::new();
    let mut items = Vec::with_capacity(chat.messages.len());
    for message in &chat.messages {
        let text = match &message.content {
            UpstreamContent::Text(text) => text.as_ref(),
            // gpt-oss has no vision, so the planner never builds parts for it.
            UpstreamContent::Parts(_) => "",
        };
        match message.role {
            "system" => {
                if !instructions.is_empty() {
                    instructions.push_str("\n\n");
                }
                instructions.push_str(text);
            }
            "tool" => items.push(json!({
                "type": "function_call_output",
                "call_id": message.tool_call_id.as_deref().unwrap_or(""),
                "output": text,
            })),
            role => {
                if !text.is_empty() || message.tool_calls.is_none() {
                    items.push(json!({"role": role, "content": text}));
                }
                for call in message.tool_calls.iter().flatten() {
                    items.push(json!({
                        "type": "function_call",
                        "call_id": call.id,
                        "name": call.function.name,
                        "arguments": call.function.arguments,
                    }));
                }
            }
        }
    }
    let input = ResponsesInput {
        input: items,
        reasoning: chat
            .reasoning_effort
            .map(|effort| json!({"effort": effort})),
        tools: chat.tools.clone().map(|tools| {
            tools
                .into_iter()
                .map(|tool| match tool {
                    Value::Object(mut object) => {
                        // Responses tools are flat: {type, name, description, parameters}.
                        let function = object.remove("function");
                        if let Some(Value::Object(function)) = function {
                            object.extend(function);
                        }
                        Value::Object(object)
                    }
                    other => other,
                })
                .collect()
        }),
        tool_choice: chat.tool_choice.as_ref().map(|choice| {
            match choice.pointer("/function/name") {
                Some(name) => json!({"type": "function", "name": name}),
                None => choice.clone(),
            }
        }),
        max_output_tokens: chat.max_tokens,
        stream: chat.stream,
        sampling: chat.sampling.clone(),
        instructions: (!instructions.is_empty()).then_some(instructions.as_str()),
    };
    serde_json::to_string(&input).map_err(|err| {
        GatewayError::Internal(format!("could not encode the upstream request: {err}"))
    })
}

/// The conversation, from `messages`, or from Onyx's `input` string, or from Responses-style
/// `input` / `input_items` lists.
fn conversation(request: &ChatCompletionRequest) -> Result<Cow<'_, [ChatMessage]>, GatewayError> {
    let conversation = match (&request.messages, &request.input_items, &request.input) {
        (Some(messages), _, _) => {
            for (index, message) in messages.iter().enumerate() {
                check_message(message, "messages", index)?;
            }
            Cow::Borrowed(messages.as_slice())
        }
        (None, Some(items), _) => {
            Cow::Owned(messages_from_input_items(items, request.added_items)?)
        }
        (None, None, Some(Value::String(text))) => Cow::Owned(vec![ChatMessage {
            role: "user".into(),
            content: Some(MessageContent::Text(text.clone())),
            ..ChatMessage::default()
        }]),
        (None, None, Some(Value::Array(items))) => Cow::Owned(messages_from_input_items(items, 0)?),
        (None, None, _) => return Err(GatewayError::invalid(
            "`messages` is required: a list such as [{\"role\":\"user\",\"content\":\"Hello\"}].",
            Some("messages"),
        )),
    };
    if conversation.is_empty() {
        return Err(GatewayError::invalid(
            "`messages` must contain at least one message.",
            Some("messages"),
        ));
    }
    Ok(conversation)
}

/// Responses-style input items → chat messages: messages (with or without `type: "message"`),
/// `function_call` and `function_call_output` items; `reasoning` items are dropped. The first
/// `added` items are the gateway's own (see `ChatCompletionRequest::added_items`): errors count
/// the items after them.
pub fn messages_from_input_items(
    items: &[Value],
    added: usize,
) -> Result<Vec<ChatMessage>, GatewayError> {
    let mut messages: Vec<ChatMessage> = Vec::with_capacity(items.len());
    for (at, item) in items.iter().enumerate() {
        let index = at.saturating_sub(added);
        let kind = item.get("type").and_then(Value::as_str);
        match (kind, item) {
            (_, Value::String(text)) => messages.push(ChatMessage {
                role: "user".into(),
                content: Some(MessageContent::Text(text.clone())),
                ..ChatMessage::default()
            }),
            (Some("function_call"), _) => {
                let parts = tool_call_parts(item);
                if parts.id.is_none() || parts.name.is_none() {
                    return Err(GatewayError::missing(
                        format!("input[{index}] is a `function_call` without a `call_id` or a `name`: send both, as the model gave them."),
                        format!("input[{index}].{}", if parts.id.is_none() { "call_id" } else { "name" }),
                    ));
                }
                let call = json!({
                    "id": parts.id,
                    "type": "function",
                    "function": {"name": parts.name,
                                 "arguments": item.get("arguments").cloned().unwrap_or(Value::from("{}"))},
                });
                // Consecutive calls belong to one assistant turn.
                match messages.last_mut() {
                    Some(last) if last.role == "assistant" && last.tool_calls.is_some() => {
                        last.tool_calls.get_or_insert_with(Vec::new).push(call)
                    }
                    _ => messages.push(ChatMessage {
                        role: "assistant".into(),
                        tool_calls: Some(vec![call]),
                        ..ChatMessage::default()
                    }),
                }
            }
            (Some("function_call_output"), _) => {
                let Some(call_id) = item
                    .get("call_id")
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
                else {
                    return Err(GatewayError::missing(
                        format!("input[{index}] is a `function_call_output` without a `call_id`: send the `call_id` of the function call it answers."),
                        format!("input[{index}].call_id"),
                    ));
                };
                let output = match item.get("output") {
                    Some(Value::String(s)) => s.clone(),
                    // A list of content parts: their text.
                    Some(Value::Array(parts)) => parts
                        .iter()
                        .filter_map(|part| part.get("text").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                messages.push(ChatMessage {
                    role: "tool".into(),
                    content: Some(MessageContent::Text(output)),
                    tool_call_id: Some(call_id.to_owned()),
                    ..ChatMessage::default()
                });
            }
            (Some("reasoning"), _) => {}
            (None | Some("message"), Value::Object(_)) => {
                let message =
                    serde_json::from_value::<ChatMessage>(item.clone()).map_err(|err| {
                        GatewayError::invalid(
                            format!(
                                "input[{index}] is not a message: {}.",
                                humanize(&err.to_string())
                            ),
                            Some("input"),
                        )
                    })?;
                check_message(&message, "input", index)?;
                messages.push(message);
            }
            (Some(other), _) => {
                return Err(GatewayError::invalid(
                    format!(
                        "input[{index}] has type `{other}`, which this gateway does not accept."
                    ),
                    Some("input"),
                ))
            }
            (None, _) => {
                return Err(GatewayError::invalid(
                    format!("input[{index}] must be a message object or a string."),
                    Some("input"),
                ))
            }
        }
    }
    Ok(messages)
}

/// The role Workers AI knows a message role by, if it is one.
fn upstream_role(role: &str) -> Option<&'static str> {
    match role {
        "system" | "developer" => Some("system"),
        "user" => Some("user"),
        "assistant" => Some("assistant"),
        "tool" | "function" => Some("tool"),
        _ => None,
    }
}

fn unknown_role(list: &'static str, index: usize, role: &str) -> GatewayError {
    GatewayError::invalid(
        format!(
            "{list}[{index}].role `{role}` is not one of system, developer, user, assistant, tool."
        ),
        Some(list),
    )
}

/// Refuses a message OpenAI would refuse: an unknown role, a user or system turn without
/// `content`, an assistant turn with neither `content` nor calls, a tool call without its `id` or
/// function, a tool result without `tool_call_id`. `content: null` is fine beside calls, and
/// `""` always is. `list` and `index` name the message (`messages[2]`, `input[0]`).
pub(crate) fn check_message(
    message: &ChatMessage,
    list: &'static str,
    index: usize,
) -> Result<(), GatewayError> {
    let role = message.role.as_str();
    if upstream_role(role).is_none() {
        return Err(unknown_role(list, index, role));
    }
    let calls = message.tool_calls.as_deref().unwrap_or_default();
    for (i, call) in calls.iter().enumerate() {
        let parts = tool_call_parts(call);
        if parts.id.is_none() {
            return Err(GatewayError::missing(
                format!("{list}[{index}].tool_calls[{i}] has no `id`: send the id the call came with (its tool message answers it by `tool_call_id`)."),
                format!("{list}[{index}].tool_calls[{i}].id"),
            ));
        }
        if parts.name.is_none() {
            return Err(GatewayError::missing(
                format!("{list}[{index}].tool_calls[{i}] has no `function` with a `name`: send {{\"type\": \"function\", \"function\": {{\"name\": …, \"arguments\": …}}}}."),
                format!("{list}[{index}].tool_calls[{i}].function"),
            ));
        }
    }
    if let Some(call) = &message.function_call {
        if tool_call_parts(call).name.is_none() {
            return Err(GatewayError::missing(
                format!("{list}[{index}].function_call has no `name`: send {{\"name\": …, \"arguments\": …}}."),
                format!("{list}[{index}].function_call"),
            ));
        }
    }
    let no_content = message.content.is_none() && message.refusal.is_none();
    match role {
        "user" | "system" | "developer" if no_content => Err(GatewayError::missing(
            format!("{list}[{index}] (role `{role}`) has no `content`: send its text as a string or a list of content parts."),
            format!("{list}[{index}].content"),
        )),
        "assistant" if no_content && calls.is_empty() && message.function_call.is_none() => {
            Err(GatewayError::missing(
                format!("{list}[{index}] (role `assistant`) has neither `content` nor `tool_calls`: send the assistant's text as `content`, or the calls it made as `tool_calls`."),
                format!("{list}[{index}].content"),
            ))
        }
        "tool" if message.tool_call_id.as_deref().unwrap_or("").is_empty() => {
            Err(GatewayError::invalid(
                format!("{list}[{index}] has role `tool` but no `tool_call_id`: send the `id` of the assistant tool call it answers."),
                Some(list),
            ))
        }
        _ => Ok(()),
    }
}

/// A client's `tool_choice` (or legacy `function_call`), checked.
#[derive(Debug, PartialEq)]
enum ToolChoice<'a> {
    None,
    Auto,
    Required,
    /// Call this function.
    Named(&'a str),
    /// `allowed_tools`: only these functions, which the model may (`auto`) or must call.
    Allowed {
        names: Vec<&'a str>,
        required: bool,
    },
}

/// OpenAI's forms, for error messages.
const TOOL_CHOICES: &str =
    r#""none", "auto", "required" or {"type": "function", "function": {"name": …}}"#;

impl<'a> ToolChoice<'a> {
    /// OpenAI's forms; also, leniently, the flat `{"type": "function", "name": …}` (the Responses
    /// form) and legacy `{"name": …}`, which clients mix up. `null` is no choice.
    fn parse(value: Option<&'a Value>, param: &'static str) -> Result<Option<Self>, GatewayError> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let invalid = |why: String| {
            GatewayError::invalid(format!("`{param}` {why}; use {TOOL_CHOICES}."), Some(param))
        };
        let Some(object) = value.as_object() else {
            return match value.as_str() {
                Some("none") => Ok(Some(ToolChoice::None)),
                Some("auto") => Ok(Some(ToolChoice::Auto)),
                Some("required") => Ok(Some(ToolChoice::Required)),
                _ => Err(invalid(format!("is {}", describe(value)))),
            };
        };
        match object.get("type").and_then(Value::as_str) {
            None | Some("function") => function_name(value)
                .map(|name| Some(ToolChoice::Named(name)))
                .ok_or_else(|| invalid("names no function".to_owned())),
            Some("allowed_tools") => {
                // Chat nests `mode` and `tools` in `allowed_tools`; Responses does not.
                let allowed = object.get("allowed_tools").unwrap_or(value);
                let required = match allowed.get("mode").and_then(Value::as_str) {
                    Some("auto") => false,
                    Some("required") => true,
                    _ => {
                        return Err(invalid(
                            "has an `allowed_tools` mode other than \"auto\" or \"required\""
                                .to_owned(),
                        ))
                    }
                };
                let names = allowed
                    .get("tools")
                    .and_then(Value::as_array)
                    .and_then(|tools| tools.iter().map(function_name).collect::<Option<Vec<_>>>())
                    .filter(|names| !names.is_empty())
                    .ok_or_else(|| {
                        invalid(
                            "has no list of `allowed_tools` functions, each with a `name`"
                                .to_owned(),
                        )
                    })?;
                Ok(Some(ToolChoice::Allowed { names, required }))
            }
            Some(other) => Err(invalid(format!(
                "of type `{other}` is not supported (Workers AI models only call `function` tools)"
            ))),
        }
    }

    /// The choice in OpenAI's form, for models that take it (the tools are narrowed already).
    fn to_value(&self) -> Value {
        match self {
            ToolChoice::None => Value::from("none"),
            ToolChoice::Auto
            | ToolChoice::Allowed {
                required: false, ..
            } => Value::from("auto"),
            ToolChoice::Required | ToolChoice::Allowed { required: true, .. } => {
                Value::from("required")
            }
            ToolChoice::Named(name) => json!({"type": "function", "function": {"name": name}}),
        }
    }
}

/// The function a choice or an allowed tool names: `{"function": {"name"}}` or a flat `{"name"}`.
fn function_name(value: &Value) -> Option<&str> {
    value
        .get("function")
        .unwrap_or(value)
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
}

/// The tools to offer (normalised) and the `tool_choice` to pass to models that take it.
fn plan_tools(
    request: &ChatCompletionRequest,
    model: &ResolvedModel,
) -> Result<(Option<Vec<Value>>, Option<Value>), GatewayError> {
    // Both are checked, whether or not there are tools to choose from.
    let choice = ToolChoice::parse(request.tool_choice.as_ref(), "tool_choice")?;
    let legacy_choice = ToolChoice::parse(request.function_call.as_ref(), "function_call")?;
    // Legacy `functions` / `function_call` are the same thing under older names.
    let legacy_tools;
    let (tools, choice, param) = match (&request.tools, &request.functions) {
        (Some(tools), _) => (tools.as_slice(), choice, "tool_choice"),
        (None, Some(functions)) => {
            legacy_tools = functions
                .iter()
                .map(|f| json!({"type": "function", "function": f}))
                .collect::<Vec<_>>();
            (legacy_tools.as_slice(), legacy_choice, "function_call")
        }
        (None, None) => return Ok((None, None)),
    };
    if tools.is_empty() || choice == Some(ToolChoice::None) {
        // `none`: the model must not call tools, so it is not offered any.
        return Ok((None, None));
    }
    let mut tools = normalize_tool_definitions(tools)?;
    // A named choice offers only that tool, which every model understands; `allowed_tools` only
    // those it lists.
    let offered = match &choice {
        Some(ToolChoice::Named(name)) => std::slice::from_ref(name),
        Some(ToolChoice::Allowed { names, .. }) => names.as_slice(),
        _ => &[],
    };
    if !offered.is_empty() {
        tools.retain(|t| {
            t["function"]["name"]
                .as_str()
                .is_some_and(|name| offered.contains(&name))
        });
        if tools.is_empty() {
            let names: Vec<String> = offered.iter().map(|n| format!("`{n}`")).collect();
            return Err(GatewayError::invalid(
                format!(
                    "`{param}` names {}, which {} not among the tools.",
                    names.join(", "),
                    if names.len() == 1 { "is" } else { "are" }
                ),
                Some(param),
            ));
        }
    }
    if model.listed && !model.spec.capabilities.tools {
        return Err(GatewayError::invalid(
            format!(
                "Model `{}` ({}) does not support tool calling. Use a tool-capable model such as `gpt-4` (@cf/qwen/qwen3-30b-a3b-fp8) or `@cf/meta/llama-3.3-70b-instruct-fp8-fast`.",
                model.requested, model.upstream_id
            ),
            Some("tools"),
        ));
    }
    Ok((Some(tools), choice.map(|c| c.to_value())))
}

/// `reasoning_effort` for models that take one: their schemas allow low, medium and high, so
/// OpenAI's wider scale is folded onto that (`none`/`minimal` turn thinking off where possible).
fn upstream_effort(effort: &str, model: &ResolvedModel) -> Option<&'static str> {
    if !model.spec.accepts_reasoning_effort() {
        return None;
    }
    match effort {
        "none" | "minimal" if model.spec.family == crate::models::Family::ResponsesText => {
            Some("low")
        }
        "none" | "minimal" => None,
        "low" => Some("low"),
        "medium" => Some("medium"),
        _ => Some("high"),
    }
}

/// The sampling parameters a client sent, before validation.
pub(crate) struct SamplingRequest {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub seed: Option<i64>,
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
}

/// Sampling parameters as Workers AI takes them: checked against OpenAI's ranges (a 400 outside
/// them), then fitted to the model's documented ranges — never rescaled.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Sampling {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
}

impl Sampling {
    pub(crate) fn plan(
        request: SamplingRequest,
        model: &ResolvedModel,
    ) -> Result<Self, GatewayError> {
        let (penalty_min, penalty_max) = model.spec.penalty_range();
        let penalty = |param, value| {
            check_range(param, value, -2.0, 2.0)
                .map(|p| p.map(|p| p.clamp(penalty_min, penalty_max)))
        };
        Ok(Sampling {
            temperature: check_range("temperature", request.temperature, 0.0, 2.0)?,
            // Some models document a minimum of 0.001.
            top_p: check_range("top_p", request.top_p, 0.0, 1.0)?.map(|p| p.max(0.001)),
            seed: seed_for_run(request.seed, 0),
            frequency_penalty: penalty("frequency_penalty", request.frequency_penalty)?,
            presence_penalty: penalty("presence_penalty", request.presence_penalty)?,
        })
    }
}

/// The seed of run `run` of a multi-choice request: distinct runs, reproducible with a seed.
pub(crate) fn seed_for_run(seed: Option<i64>, run: u32) -> Option<i64> {
    seed.map(|s| {
        s.saturating_add(i64::from(run))
            .clamp(SEED_RANGE.0, SEED_RANGE.1)
    })
}

/// `tool_choice` as sent upstream: GLM takes OpenAI's natively; Mistral only calls tools when
/// `auto` is stated; the others have no such parameter (a named choice already narrowed the tools).
fn upstream_tool_choice(
    has_tools: bool,
    choice: Option<Value>,
    model: &ResolvedModel,
) -> Option<Value> {
    if !has_tools {
        return None;
    }
    if model.spec.accepts_openai_parameters() {
        return choice;
    }
    (model.upstream_id == "@cf/mistralai/mistral-small-3.1-24b-instruct")
        .then(|| Value::from("auto"))
}

/// Tool definitions in the form Workers AI validates: `{type: "function", function: {name,
/// description, parameters: {type, properties}}}` where every property has a `type` and a
/// `description`. OpenAI accepts definitions without descriptions or parameters; Workers AI
/// rejects them (error 5006), so the gaps are filled rather than passed on.
pub fn normalize_tool_definitions(tools: &[Value]) -> Result<Vec<Value>, GatewayError> {
    tools
        .iter()
        .enumerate()
        .map(|(index, tool)| {
            let kind = tool.get("type").and_then(Value::as_str).unwrap_or("function");
            if kind != "function" {
                return Err(GatewayError::invalid(
                    format!("tools[{index}] has type `{kind}`; only `function` tools are supported by Workers AI models."),
                    Some("tools"),
                ));
            }
            // Accept the flat form `{name, description, parameters}` as well as OpenAI's.
            let function = tool.get("function").unwrap_or(tool);
            let name = function
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    GatewayError::invalid(format!("tools[{index}].function.name is required."), Some("tools"))
                })?;
            let description = function
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or(name);
            let mut parameters = match function.get("parameters") {
                Some(Value::Object(map)) => Value::Object(map.clone()),
                _ => json!({"type": "object", "properties": {}}),
            };
            complete_parameter_schema(&mut parameters);
            Ok(json!({
                "type": "function",
                "function": {"name": name, "description": description, "parameters": parameters}
            }))
        })
        .collect()
}

fn complete_parameter_schema(parameters: &mut Value) {
    let Some(object) = parameters.as_object_mut() else {
        return;
    };
    if !object.get("type").is_some_and(Value::is_string) {
        object.insert("type".into(), Value::from("object"));
    }
    let properties = object
        .entry("properties")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(properties) = properties.as_object_mut() {
        for (name, property) in properties.iter_mut() {
            let Some(property) = property.as_object_mut() else {
                continue;
            };
            // JSON Schema allows `type: ["string", "null"]`; Workers AI wants one string.
            let single_type = match property.get("type") {
                Some(Value::String(t)) => t.clone(),
                Some(Value::Array(types)) => types
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|t| *t != "null")
                    .unwrap_or("string")
                    .to_owned(),
                _ => "string".to_owned(),
            };
            property.insert("type".into(), Value::from(single_type));
            if !property.get("description").is_some_and(Value::is_string) {
                property.insert("description".into(), Value::from(name.replace('_', " ")));
            }
        }
    }
}

/// `stop` as a list: a string, a list of up to four strings, or null.
pub(crate) fn stop_sequences(stop: Option<&Value>) -> Result<Vec<String>, GatewayError> {
    let list = match stop {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                GatewayError::invalid(
                    "`stop` must be a string or a list of strings.",
                    Some("stop"),
                )
            })?,
        Some(_) => {
            return Err(GatewayError::invalid(
                "`stop` must be a string or a list of strings.",
                Some("stop"),
            ))
        }
    };
    if list.len() > MAX_STOP_SEQUENCES {
        return Err(GatewayError::invalid(
            format!(
                "`stop` takes at most {MAX_STOP_SEQUENCES} sequences; got {}.",
                list.len()
            ),
            Some("stop"),
        ));
    }
    Ok(list.into_iter().filter(|s| !s.is_empty()).collect())
}

/// `response_format` → Workers AI JSON mode (`{type, json_schema: <the schema itself>}`).
fn json_mode(format: Option<&Value>, model: &ResolvedModel) -> Result<Option<Value>, GatewayError> {
    let Some(format) = format.filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    let kind = format.get("type").and_then(Value::as_str).unwrap_or("");
    let upstream = match kind {
        "text" => return Ok(None),
        "json_object" => json!({"type": "json_object"}),
        "json_schema" => {
            let schema = format
                .get("json_schema")
                .and_then(|j| j.get("schema"))
                .filter(|s| s.is_object())
                .ok_or_else(|| {
                    GatewayError::invalid(
                        "`response_format.json_schema.schema` must be a JSON Schema object.",
                        Some("response_format"),
                    )
                })?;
            if model.spec.accepts_openai_parameters() {
                format.clone()
            } else {
                json!({"type": "json_schema", "json_schema": schema})
            }
        }
        other => {
            return Err(GatewayError::invalid(
                format!(
                "`response_format.type` must be text, json_object or json_schema; got `{other}`."
            ),
                Some("response_format"),
            ))
        }
    };
    if model.listed && !model.spec.capabilities.json_mode {
        return Err(GatewayError::invalid(
            format!(
                "Model `{}` ({}) has no JSON mode. Use one that does, such as `gpt-4` (@cf/qwen/qwen3-30b-a3b-fp8) or `@cf/meta/llama-3.3-70b-instruct-fp8-fast`.",
                model.requested, model.upstream_id
            ),
            Some("response_format"),
        ));
    }
    Ok(Some(upstream))
}

pub(crate) fn check_range(
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

pub(crate) fn plan_max_tokens(
    max_completion_tokens: Option<u64>,
    max_tokens: Option<u64>,
    model: &ResolvedModel,
) -> Result<u32, GatewayError> {
    let (param, asked) = match (max_completion_tokens, max_tokens) {
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
        Some(v) if v > MAX_TOKENS_ASKED => Err(GatewayError::invalid(
            format!(
                "`{param}` is too large: {v}. The most this gateway accepts is {MAX_TOKENS_ASKED}; values above the model's own limit ({} for {}) are lowered to it.",
                model.spec.max_output_tokens(),
                model.upstream_id,
            ),
            Some(param),
        )),
        // Clamped to what the model can produce: OpenAI treats the value as an upper bound too.
        Some(v) => Ok(u32::try_from(v)
            .unwrap_or(u32::MAX)
            .min(model.spec.max_output_tokens())),
    }
}

fn upstream_messages<'a>(
    conversation: &'a [ChatMessage],
    model: &ResolvedModel,
    images: &mut ImageInputs,
) -> Result<Vec<UpstreamMessage<'a>>, GatewayError> {
    let short_ids = model.spec.needs_short_tool_call_ids();
    let upstream_id = |id| upstream_call_id(id, short_ids);
    // Tool results name their function on Workers AI; OpenAI clients only send the call id.
    let mut function_names: HashMap<String, String> = HashMap::new();
    // Legacy `role: "function"` results answer the last legacy `function_call`, by name.
    let mut last_legacy_call: Option<String> = None;
    let mut out = Vec::with_capacity(conversation.len());
    for (index, message) in conversation.iter().enumerate() {
        // `conversation` checked every message already.
        let role = upstream_role(&message.role)
            .ok_or_else(|| unknown_role("messages", index, &message.role))?;
        let content = message_content(index, message, model, images)?;
        let mut tool_calls = None;
        let mut tool_call_id = message.tool_call_id.as_deref().map(upstream_id);
        let mut name = message.name.as_deref().map(Cow::Borrowed);
        if role == "assistant" {
            let legacy = message.function_call.as_ref();
            let calls: Vec<ToolCall> = message
                .tool_calls
                .iter()
                .flatten()
                .chain(legacy)
                .enumerate()
                .filter_map(|(i, call)| normalize_tool_call(call, format!("call{index:04}{i:02}")))
                .map(|mut call| {
                    function_names.insert(call.id.clone(), call.function.name.clone());
                    if short_ids {
                        call.id = nine_char_id(&call.id);
                    }
                    call
                })
                .collect();
            if legacy.is_some() {
                last_legacy_call = calls.last().map(|call| call.id.clone());
            }
            if !calls.is_empty() {
                tool_calls = Some(calls);
            }
        } else if role == "tool" {
            if message.role == "function" {
                tool_call_id = last_legacy_call.clone().map(Cow::Owned);
            }
            if name.is_none() {
                name = message
                    .tool_call_id
                    .as_deref()
                    .and_then(|id| function_names.get(id))
                    .map(|n| Cow::Owned(n.clone()));
            }
        }
        out.push(UpstreamMessage {
            role,
            content,
            name,
            tool_call_id,
            tool_calls,
        });
    }
    Ok(out)
}

/// Images met while building the upstream messages.
struct ImageInputs<'r> {
    remote: &'r RemoteImages,
    /// The one image of a model that takes it beside the messages (Llama 3.2 Vision).
    top_level: Option<Vec<u8>>,
}

fn message_content<'a>(
    index: usize,
    message: &'a ChatMessage,
    model: &ResolvedModel,
    images: &mut ImageInputs,
) -> Result<UpstreamContent<'a>, GatewayError> {
    let parts = match &message.content {
        // Workers AI wants a string even for an assistant turn that only called tools.
        None => {
            let refusal = message.refusal.as_deref().unwrap_or("");
            return Ok(UpstreamContent::Text(Cow::Borrowed(refusal)));
        }
        Some(MessageContent::Text(text)) => return Ok(UpstreamContent::Text(Cow::Borrowed(text))),
        Some(MessageContent::Parts(parts)) => parts,
    };
    let mut text = String::new();
    let mut image_parts = Vec::new();
    for part in parts {
        match (part.kind.as_str(), &part.text) {
            ("text" | "input_text" | "output_text", Some(t)) => {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(t);
            }
            ("image_url" | "input_image", _) => {
                if let Some(image) = image_part(image_url_of(part), model, images)? {
                    image_parts.push(image);
                }
            }
            (kind, _) => {
                return Err(GatewayError::invalid(
                    format!("messages[{index}].content has a part of type `{kind}`, which this gateway does not accept; use `text` or `image_url` parts."),
                    Some("messages"),
                ))
            }
        }
    }
    if image_parts.is_empty() {
        return Ok(UpstreamContent::Text(Cow::Owned(text)));
    }
    let mut all = vec![json!({"type": "text", "text": text})];
    all.extend(image_parts);
    Ok(UpstreamContent::Parts(all))
}

/// `{"image_url": {"url": …}}` (chat) or `{"image_url": "…"}` (Responses `input_image`).
fn image_url_of(part: &super::openai::ContentPart) -> &str {
    part.image_url
        .as_ref()
        .and_then(|u| u.get("url").or(Some(u)))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// An image in the form the model takes: an OpenAI `image_url` part with a `data:` URL, or
/// (Llama 3.2 Vision) bytes beside the messages, in which case there is no part.
fn image_part(
    url: &str,
    model: &ResolvedModel,
    images: &mut ImageInputs,
) -> Result<Option<Value>, GatewayError> {
    if !model.spec.capabilities.vision {
        return Err(GatewayError::invalid(
            format!(
                "Model `{}` ({}) does not accept images in messages. Use a vision model such as `@cf/meta/llama-4-scout-17b-16e-instruct`, `@cf/mistralai/mistral-small-3.1-24b-instruct` or `@cf/google/gemma-3-12b-it`.",
                model.requested, model.upstream_id
            ),
            Some("messages"),
        ));
    }
    let remote =
        if media::is_remote_url(url) {
            Some(images.remote.get(url).ok_or_else(|| {
                GatewayError::Internal(format!("the image at {url} was not fetched"))
            })?)
        } else if url.starts_with("data:") {
            None
        } else {
            return Err(GatewayError::invalid(
                "An image must be an http(s) URL or a data: URL (data:image/png;base64,…).",
                Some("messages"),
            ));
        };
    if model.spec.accepts_image_parts() {
        let url = match remote {
            Some(image) => media::data_url(image.media_type, &image.bytes),
            None => url.to_owned(),
        };
        return Ok(Some(
            json!({"type": "image_url", "image_url": {"url": url}}),
        ));
    }
    if images.top_level.is_some() {
        return Err(GatewayError::invalid(
            format!(
                "Model `{}` ({}) takes one image per request; this request has more.",
                model.requested, model.upstream_id
            ),
            Some("messages"),
        ));
    }
    images.top_level = Some(match remote {
        Some(image) => image.bytes.clone(),
        None => media::data_url_bytes(url)?,
    });
    Ok(None)
}

/// A tool call id as the model takes it: as sent, or shortened for models that need that.
fn upstream_call_id(id: &str, short: bool) -> Cow<'_, str> {
    if short {
        Cow::Owned(nine_char_id(id))
    } else {
        Cow::Borrowed(id)
    }
}

/// A 9-character alphanumeric id, as Mistral's chat template requires for tool calls; the same
/// input always gives the same id, so a call and its result still match. Ids that already fit
/// are kept.
pub fn nine_char_id(id: &str) -> String {
    if id.len() == 9 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return id.to_owned();
    }
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    // FNV-1a: small, stable across builds, good enough to keep a conversation's ids apart.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (0..9)
        .map(|_| {
            let c = ALPHABET[(hash % 62) as usize] as char;
            hash /= 62;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(body: Value) -> Result<ChatPlan, GatewayError> {
        plan_chat(&body.to_string(), &AliasOverrides::default())
    }

    fn input_of(body: Value) -> Value {
        serde_json::from_str(&plan(body).unwrap().upstream_input).unwrap()
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
            "max_tokens": 1_000_000u64, "frequency_penalty": -1.5, "seed": 0, "stream": true,
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
            ("max_tokens", json!(1_000_001)),
            ("max_completion_tokens", json!(1_000_000_000_000u64)),
            ("top_logprobs", json!(21)),
        ] {
            let mut body = json!({"model":"gpt-4","messages":[{"role":"user","content":"x"}]});
            body[field] = value;
            let err = plan(body).unwrap_err();
            assert_eq!(err.status(), 400);
            assert_eq!(err.to_body().error.param, Some(field));
        }
    }

    #[test]
    fn tool_definitions_are_completed_for_workers_ai() {
        let p = plan(json!({"model":"gpt-4","messages":[{"role":"user","content":"x"}],"tools":[
            {"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{
                "city":{"type":"string"},"unit":{"type":["string","null"],"enum":["c","f"],"description":"Unit"}},"required":["city"]}}},
            {"type":"function","function":{"name":"now"}},
            {"name":"flat","description":"Flat form","parameters":{"properties":{}}}
        ]})).unwrap();
        let input: Value = serde_json::from_str(&p.upstream_input).unwrap();
        let tools = input["tools"].as_array().unwrap();
        let weather = &tools[0]["function"];
        assert_eq!(weather["description"], "get_weather");
        assert_eq!(
            weather["parameters"]["properties"]["city"],
            json!({"type":"string","description":"city"})
        );
        assert_eq!(
            weather["parameters"]["properties"]["unit"]["type"],
            "string"
        );
        assert_eq!(
            weather["parameters"]["properties"]["unit"]["description"],
            "Unit"
        );
        assert_eq!(weather["parameters"]["required"], json!(["city"]));
        assert_eq!(
            tools[1]["function"]["parameters"],
            json!({"type":"object","properties":{}})
        );
        assert_eq!(tools[2]["type"], "function");
        assert_eq!(tools[2]["function"]["parameters"]["type"], "object");

        let none = plan(
            json!({"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"x"}],
            "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none"}),
        )
        .unwrap();
        assert!(
            !none.upstream_input.contains("\"tools\""),
            "tool_choice none drops the tools"
        );

        for bad in [
            json!([{"type":"function","function":{}}]),
            json!([{"type":"web_search"}]),
        ] {
            let err = plan(
                json!({"model":"gpt-4","messages":[{"role":"user","content":"x"}],"tools":bad}),
            )
            .unwrap_err();
            assert_eq!(err.status(), 400);
            assert_eq!(err.to_body().error.param, Some("tools"));
        }
    }

    #[test]
    fn rejects_bad_requests_with_clear_errors() {
        let cases = [
            (
                json!({"model":"gpt-4","messages":[]}),
                "at least one message",
            ),
            (json!({"model":"gpt-4"}), "`messages` is required"),
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
                "not chat",
            ),
            (
                json!({"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}),
                "does not support tool calling",
            ),
            (
                json!({"model":"gpt-3.5-turbo","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x"}}]}]}),
                "does not accept images",
            ),
            (json!({"model":"gpt-4","messages":"hi"}), "expected a list"),
            (
                json!({"model":"gpt-4","messages":[{"role":"tool","content":"x"}]}),
                "tool_call_id",
            ),
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

    #[test]
    fn tool_loop_messages_reach_workers_ai_in_its_form() {
        let conversation = json!([
            {"role":"user","content":"weather?"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
            {"role":"tool","tool_call_id":"call_abc","content":"sunny"}
        ]);
        let tools = json!([{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]);
        let input = input_of(json!({"model":"gpt-4","messages":conversation,"tools":tools}));
        let m = &input["messages"];
        assert_eq!(m[1]["content"], "", "Workers AI wants string content");
        assert_eq!(
            m[1]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"Paris\"}"
        );
        assert_eq!(m[2]["role"], "tool");
        assert_eq!(m[2]["tool_call_id"], "call_abc");
        assert_eq!(
            m[2]["name"], "get_weather",
            "tool results name their function"
        );

        let mistral = input_of(
            json!({"model":"@cf/mistralai/mistral-small-3.1-24b-instruct","messages":conversation,"tools":tools}),
        );
        let id = mistral["messages"][2]["tool_call_id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(id.len(), 9);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(
            mistral["messages"][1]["tool_calls"][0]["id"], id,
            "call and result keep matching"
        );
        assert_eq!(nine_char_id("Ab3De6Gh9"), "Ab3De6Gh9");
    }

    #[test]
    fn legacy_functions_and_named_tool_choice() {
        let input = input_of(json!({"model":"gpt-4","messages":[
                {"role":"user","content":"x"},
                {"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{}"}},
                {"role":"function","name":"f","content":"42"}],
            "functions":[{"name":"f","parameters":{"type":"object","properties":{}}},{"name":"g"}],
            "function_call":{"name":"f"}}));
        assert_eq!(
            input["tools"].as_array().unwrap().len(),
            1,
            "a named choice offers only that tool"
        );
        assert_eq!(input["tools"][0]["function"]["name"], "f");
        assert_eq!(
            input["messages"][1]["tool_calls"][0]["function"]["name"],
            "f"
        );
        assert_eq!(input["messages"][2]["role"], "tool");
        assert_eq!(
            input["messages"][2]["tool_call_id"],
            input["messages"][1]["tool_calls"][0]["id"]
        );
        let err = plan(json!({"model":"gpt-4","messages":[{"role":"user","content":"x"}],
            "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"nope"}}})).unwrap_err();
        assert_eq!(err.to_body().error.param, Some("tool_choice"));
        let glm = input_of(
            json!({"model":"gpt-5","messages":[{"role":"user","content":"x"}],
            "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","stop":"END","reasoning_effort":"low"}),
        );
        assert_eq!(glm["tool_choice"], "required");
        assert_eq!(glm["stop"], json!(["END"]));
        assert_eq!(glm["reasoning_effort"], "low");
        let legacy_choice = input_of(
            json!({"model":"gpt-5","messages":[{"role":"user","content":"x"}],
            "functions":[{"name":"f"}],"function_call":{"name":"f"}}),
        );
        assert_eq!(
            legacy_choice["tool_choice"],
            json!({"type":"function","function":{"name":"f"}})
        );
        for (model, effort, sent, thinking_off) in [
            ("gpt-5", "none", None, true),
            ("gpt-5", "xhigh", Some("high"), false),
            ("o3", "minimal", Some("low"), false),
            ("gpt-4", "high", None, false),
        ] {
            let input = input_of(
                json!({"model":model,"messages":[{"role":"user","content":"x"}],"reasoning_effort":effort}),
            );
            assert_eq!(input["reasoning_effort"].as_str(), sent, "{model} {effort}");
            assert_eq!(
                input.get("chat_template_kwargs").is_some(),
                thinking_off,
                "{model} {effort}"
            );
        }
    }

    #[test]
    fn onyx_and_input_items_shapes() {
        let onyx = input_of(json!({"model":"gpt-4","input":"hello"}));
        assert_eq!(onyx["messages"], json!([{"role":"user","content":"hello"}]));
        let items = input_of(json!({"model":"gpt-4","input_items":[
            {"role":"user","content":[{"type":"input_text","text":"hi"}]},
            {"type":"function_call","call_id":"call_1","name":"f","arguments":"{}"},
            {"type":"reasoning","summary":[]},
            {"type":"function_call_output","call_id":"call_1","output":{"ok":true}}]}));
        let m = &items["messages"];
        assert_eq!(m[0]["content"], "hi");
        assert_eq!(m[1]["tool_calls"][0]["id"], "call_1");
        assert_eq!(m[2]["content"], "{\"ok\":true}");
        assert_eq!(m[2]["name"], "f");
        assert_eq!(
            plan(json!({"model":"gpt-4","input":[{"type":"web_search_call"}]}))
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn json_mode_and_stop_and_effort() {
        let schema = json!({"type":"object","properties":{"a":{"type":"string"}}});
        let p = plan(json!({"model":"gpt-4","stream":true,"messages":[{"role":"user","content":"x"}],
            "response_format":{"type":"json_schema","json_schema":{"name":"s","schema":schema}},"stop":["END"],"reasoning_effort":"none"})).unwrap();
        let input: Value = serde_json::from_str(&p.upstream_input).unwrap();
        assert_eq!(
            input["response_format"],
            json!({"type":"json_schema","json_schema":schema})
        );
        assert!(
            p.stream && !p.upstream_stream,
            "JSON mode does not stream upstream"
        );
        assert!(
            input.get("stop").is_none(),
            "Qwen has no stop parameter: the gateway applies it"
        );
        assert_eq!(p.stop, vec!["END".to_owned()]);
        assert_eq!(
            input["chat_template_kwargs"],
            json!({"enable_thinking": false})
        );
        let err = plan(json!({"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}})).unwrap_err();
        assert!(err.to_string().contains("no JSON mode"));
        for (field, value) in [
            ("stop", json!(["a", "b", "c", "d", "e"])),
            ("stop", json!(3)),
            ("reasoning_effort", json!("max")),
            ("response_format", json!({"type":"xml"})),
        ] {
            let mut body = json!({"model":"gpt-4","messages":[{"role":"user","content":"x"}]});
            body[field] = value;
            assert_eq!(plan(body).unwrap_err().to_body().error.param, Some(field));
        }
    }

    #[test]
    fn n_choices_are_separate_runs() {
        let p = plan(
            json!({"model":"gpt-4","n":3,"seed":7,"messages":[{"role":"user","content":"x"}]}),
        )
        .unwrap();
        assert_eq!(p.extra_inputs.len(), 2);
        let seeds: Vec<Value> = std::iter::once(&p.upstream_input)
            .chain(&p.extra_inputs)
            .map(|i| serde_json::from_str::<Value>(i).unwrap()["seed"].clone())
            .collect();
        assert_eq!(seeds, vec![json!(7), json!(8), json!(9)]);
        let streamed = plan(
            json!({"model":"gpt-4","n":2,"stream":true,"messages":[{"role":"user","content":"x"}]}),
        )
        .unwrap();
        assert!(!streamed.upstream_stream, "n > 1 runs are whole answers");
        for bad in [json!({"n":0}), json!({"n":9})] {
            let mut body = json!({"model":"gpt-4","messages":[{"role":"user","content":"x"}]});
            body.as_object_mut()
                .unwrap()
                .extend(bad.as_object().unwrap().clone());
            assert_eq!(plan(body).unwrap_err().to_body().error.param, Some("n"));
        }
    }

    #[test]
    fn images_go_to_vision_models_as_data_urls() {
        let image = json!({"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]});
        let input =
            input_of(json!({"model":"@cf/meta/llama-4-scout-17b-16e-instruct","messages":[image]}));
        assert_eq!(
            input["messages"][0]["content"][1]["image_url"]["url"],
            "data:image/png;base64,iVBORw0KGgo="
        );
        // http(s) images are fetched by the shell, then sent as data: URLs.
        let https = json!({"role":"user","content":[{"type":"text","text":"and this?"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]});
        let request = parse_chat_request(
            &json!({"model":"@cf/meta/llama-4-scout-17b-16e-instruct","messages":[https, image]})
                .to_string(),
        )
        .unwrap();
        let none = AliasOverrides::default();
        assert_eq!(
            remote_image_urls(&request, &none).unwrap(),
            ["https://example.com/a.png"]
        );
        let fetched = RemoteImages::from([(
            "https://example.com/a.png".to_owned(),
            media::RemoteImage {
                media_type: "image/png",
                bytes: b"\x89PNG".to_vec(),
            },
        )]);
        let plan = plan_chat_request(&request, &none, &fetched, UpstreamForm::Chat).unwrap();
        let input: Value = serde_json::from_str(&plan.upstream_input).unwrap();
        assert_eq!(
            input["messages"][0]["content"][1]["image_url"]["url"],
            "data:image/png;base64,iVBORw=="
        );
        // A model without vision needs no fetch: the planner explains.
        let text_only = parse_chat_request(
            &json!({"model":"gpt-3.5-turbo","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}).to_string(),
        )
        .unwrap();
        assert!(remote_image_urls(&text_only, &none).unwrap().is_empty());
        // Responses-style items name images as a bare URL string.
        let items = parse_chat_request(
            &json!({"model":"@cf/meta/llama-4-scout-17b-16e-instruct","input":[{"role":"user","content":[{"type":"input_image","image_url":"https://example.com/b.png"}]}]}).to_string(),
        )
        .unwrap();
        assert_eq!(
            remote_image_urls(&items, &none).unwrap(),
            ["https://example.com/b.png"]
        );
    }

    #[test]
    fn llama_3_2_vision_takes_one_image_beside_the_messages() {
        let image = json!({"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw=="}}]});
        let input = input_of(
            json!({"model":"@cf/meta/llama-3.2-11b-vision-instruct","messages":[image.clone()]}),
        );
        assert_eq!(input["messages"][0]["content"], "what is this?");
        assert_eq!(input["image"], json!([0x89, 0x50, 0x4E, 0x47]));
        let err = plan(
            json!({"model":"@cf/meta/llama-3.2-11b-vision-instruct","messages":[image.clone(), image]}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("one image"));
    }

    #[test]
    fn huge_token_limits_are_refused_with_the_most_allowed() {
        let err = plan(json!({"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"x"}],"max_completion_tokens":1_000_000_000u64})).unwrap_err();
        assert_eq!(err.to_body().error.param, Some("max_completion_tokens"));
        let message = err.to_string();
        assert!(
            message.contains("too large")
                && message.contains("1000000;")
                && message.contains("8192"),
            "{message}"
        );
        let ok = input_of(
            json!({"model":"gpt-4","messages":[{"role":"user","content":"x"}],"max_tokens":32768,"logprobs":true,"top_logprobs":20}),
        );
        assert!(ok["max_tokens"].as_u64().unwrap() <= 32768);
    }

    #[test]
    fn tool_choice_is_checked() {
        let tools = json!([{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g"}}]);
        let with = |choice: Value| json!({"model":"gpt-5","messages":[{"role":"user","content":"x"}],"tools":tools,"tool_choice":choice});
        // Valid forms: GLM takes the choice in OpenAI's form.
        for (choice, sent, offered) in [
            (json!("auto"), json!("auto"), 2),
            (json!("required"), json!("required"), 2),
            (json!(null), Value::Null, 2),
            (
                json!({"type":"function","function":{"name":"g"}}),
                json!({"type":"function","function":{"name":"g"}}),
                1,
            ),
            (
                json!({"type":"function","name":"g"}),
                json!({"type":"function","function":{"name":"g"}}),
                1,
            ),
            (
                json!({"name":"g"}),
                json!({"type":"function","function":{"name":"g"}}),
                1,
            ),
            (
                json!({"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"f"}}]}}),
                json!("required"),
                1,
            ),
        ] {
            let input = input_of(with(choice.clone()));
            assert_eq!(
                input.get("tool_choice").cloned().unwrap_or(Value::Null),
                sent,
                "{choice}"
            );
            assert_eq!(
                input["tools"].as_array().unwrap().len(),
                offered,
                "{choice}"
            );
        }
        assert!(input_of(with(json!("none"))).get("tools").is_none());
        // Invalid ones, with tools or without, streamed or not.
        for choice in [
            json!(5),
            json!("sometimes"),
            json!(true),
            json!([]),
            json!({}),
            json!({"type":"function"}),
            json!({"type":"function","function":{}}),
            json!({"type":"function","function":{"name":""}}),
            json!({"type":"custom","custom":{"name":"f"}}),
            json!({"type":"allowed_tools","allowed_tools":{"mode":"sometimes","tools":[]}}),
            json!({"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function"}]}}),
        ] {
            for body in [
                with(choice.clone()),
                json!({"model":"gpt-4","stream":true,"messages":[{"role":"user","content":"x"}],"tool_choice":choice}),
            ] {
                let err = plan(body).unwrap_err();
                assert_eq!(err.status(), 400, "{choice}");
                assert_eq!(err.to_body().error.param, Some("tool_choice"), "{choice}");
            }
        }
        let err = plan(with(json!("sometimes"))).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(r#"`tool_choice` is "sometimes"; use "none", "auto", "required""#),
            "{err}"
        );
        let err = plan(json!({"model":"gpt-4","messages":[{"role":"user","content":"x"}],"functions":[{"name":"f"}],"function_call":7})).unwrap_err();
        assert_eq!(err.to_body().error.param, Some("function_call"));
    }

    #[test]
    fn messages_need_their_content_and_calls_their_ids() {
        let call =
            json!({"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}});
        let tools = json!([{"type":"function","function":{"name":"f"}}]);
        let chat = |messages: Value| json!({"model":"gpt-4","messages":messages,"tools":tools});
        // (messages, param, words)
        for (messages, param, words) in [
            (
                json!([{"role":"user"}]),
                "messages[0].content",
                "has no `content`",
            ),
            (
                json!([{"role":"user","content":null}]),
                "messages[0].content",
                "has no `content`",
            ),
            (
                json!([{"role":"system"},{"role":"user","content":"x"}]),
                "messages[0].content",
                "role `system`",
            ),
            (
                json!([{"role":"developer"}]),
                "messages[0].content",
                "role `developer`",
            ),
            (
                json!([{"role":"user","content":"a"},{"role":"assistant"},{"role":"user","content":"b"}]),
                "messages[1].content",
                "neither `content` nor `tool_calls`",
            ),
            (
                json!([{"role":"user","content":"a"},{"role":"assistant","content":null,"tool_calls":[]}]),
                "messages[1].content",
                "neither",
            ),
            (
                json!([{"role":"user","content":"a"},{"role":"assistant","content":null,"tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]),
                "messages[1].tool_calls[0].id",
                "no `id`",
            ),
            (
                json!([{"role":"user","content":"a"},{"role":"assistant","content":null,"tool_calls":[call, {"id":"call_2","type":"function"}]}]),
                "messages[1].tool_calls[1].function",
                "no `function`",
            ),
            (
                json!([{"role":"user","content":"a"},{"role":"assistant","content":null,"function_call":{"arguments":"{}"}}]),
                "messages[1].function_call",
                "no `name`",
            ),
        ] {
            let err = plan(chat(messages.clone())).unwrap_err();
            let body = err.to_body().error;
            assert_eq!(body.param, Some(param), "{messages}: {}", body.message);
            assert_eq!(
                body.code.as_deref(),
                Some("missing_required_parameter"),
                "{messages}"
            );
            assert_eq!(body.r#type, "invalid_request_error");
            assert!(body.message.contains(words), "{messages}: {}", body.message);
        }
        // Valid: null content beside calls, empty content, flat calls, legacy function calls, an
        // assistant's refusal.
        for messages in [
            json!([{"role":"user","content":""},{"role":"assistant","content":""}]),
            json!([{"role":"user","content":"a"},{"role":"assistant","content":null,"refusal":"I can't."},{"role":"user","content":"b"}]),
            json!([{"role":"user","content":"a"},{"role":"assistant","content":null,"tool_calls":[call]},{"role":"tool","tool_call_id":"call_1","content":"sunny"}]),
            json!([{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","name":"f","arguments":"{}"}]},{"role":"tool","tool_call_id":"call_1","content":""}]),
            json!([{"role":"user","content":[]},{"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{}"}},{"role":"function","name":"f","content":"1"}]),
        ] {
            assert!(plan(chat(messages.clone())).is_ok(), "{messages}");
        }
        // Input items name the item.
        for (input, param) in [
            (
                json!([{"role":"user","content":"a"},{"type":"message","role":"user"}]),
                "input[1].content",
            ),
            (
                json!([{"type":"function_call","name":"f","arguments":"{}"}]),
                "input[0].call_id",
            ),
            (
                json!([{"type":"function_call","call_id":"c","arguments":"{}"}]),
                "input[0].name",
            ),
            (
                json!([{"role":"user","content":"a"},{"type":"function_call_output","output":"x"}]),
                "input[1].call_id",
            ),
        ] {
            let err = plan(json!({"model":"gpt-4","input":input})).unwrap_err();
            assert_eq!(err.to_body().error.param, Some(param), "{input}");
        }
        let err = plan(json!({"model":"gpt-4","input":[{"role":"user","content":5}]})).unwrap_err();
        assert!(
            err.to_string()
                .contains("expected a string or a list of content parts"),
            "{err}"
        );
    }
}
