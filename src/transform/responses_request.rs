//! `POST /v1/responses` requests: validated, then planned as the equivalent chat request, so every
//! model family shares the chat path's handling (gpt-oss gets its native Responses input there).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::chat_request::{plan_chat_request, ChatPlan, UpstreamForm};
use super::media::RemoteImages;
use super::openai::ChatCompletionRequest;
use super::responses::ResponseEcho;
use crate::error::GatewayError;
use crate::models::AliasOverrides;

#[derive(Debug, Default, Deserialize)]
pub struct ResponsesRequest {
    #[serde(default)]
    pub model: Option<String>,
    /// A string, or a list of input items.
    #[serde(default)]
    pub input: Option<Value>,
    /// Some clients send the item list under this name.
    #[serde(default)]
    pub input_items: Option<Vec<Value>>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub top_logprobs: Option<u64>,
    #[serde(default)]
    pub text: Option<TextParam>,
    #[serde(default)]
    pub reasoning: Option<ReasoningParam>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub store: Option<bool>,
    #[serde(default)]
    pub previous_response_id: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub background: Option<bool>,
    #[serde(default)]
    pub conversation: Option<Value>,
    #[serde(default)]
    pub prompt: Option<Value>,
    #[serde(default)]
    pub truncation: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct TextParam {
    #[serde(default)]
    pub format: Option<Value>,
    #[serde(default)]
    pub verbosity: Option<Value>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ReasoningParam {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

/// A validated Responses request.
#[derive(Debug)]
pub struct ResponsesPlan {
    pub chat: ChatPlan,
    pub echo: ResponseEcho,
    pub stream: bool,
    /// Keep the response for `previous_response_id` / `GET` (when the KV binding exists).
    pub store: bool,
    /// This turn's conversation as input items (earlier turns included), for storing.
    pub input_items: Vec<Value>,
}

pub fn parse_responses_request(body: &str) -> Result<ResponsesRequest, GatewayError> {
    super::json_body::parse_body(body, r#"{"model":"gpt-4","input":"Hello"}"#)
}

/// The `previous_response_id` to continue from, checked before any storage lookup.
pub fn previous_response_id(request: &ResponsesRequest) -> Option<&str> {
    request
        .previous_response_id
        .as_deref()
        .filter(|id| !id.is_empty())
}

/// The input items of this turn: a string input is one user message.
fn input_items(request: &ResponsesRequest) -> Result<Vec<Value>, GatewayError> {
    match (&request.input, &request.input_items) {
        (Some(Value::String(text)), _) => Ok(vec![json!({"role": "user", "content": text})]),
        (Some(Value::Array(items)), _) => Ok(items.clone()),
        (Some(Value::Null) | None, Some(items)) => Ok(items.clone()),
        (Some(_), _) => Err(GatewayError::invalid(
            "`input` must be a string or a list of input items.",
            Some("input"),
        )),
        (None, None) => Err(GatewayError::invalid(
            "`input` is required: a string such as \"Hello\", or a list of input items.",
            Some("input"),
        )),
    }
}

/// A Responses request rewritten as a chat request, before planning (the shell fetches the
/// request's http(s) images in between).
#[derive(Debug)]
pub struct ResponsesDraft {
    pub chat_request: ChatCompletionRequest,
    /// This turn's conversation as input items, earlier turns included.
    pub conversation: Vec<Value>,
}

/// Validates a Responses request. `history` is the conversation of `previous_response_id` (its
/// input and output items), already loaded by the caller.
pub fn draft_responses(
    request: &ResponsesRequest,
    history: Vec<Value>,
) -> Result<ResponsesDraft, GatewayError> {
    if request.background == Some(true) {
        return Err(unsupported("background", "`background` responses are not supported by this gateway; drop it to get the response directly."));
    }
    if request.conversation.as_ref().is_some_and(|c| !c.is_null()) {
        return Err(unsupported("conversation", "`conversation` objects are not supported by this gateway; use `previous_response_id` to continue a stored response."));
    }
    if request.prompt.as_ref().is_some_and(|p| !p.is_null()) {
        return Err(unsupported("prompt", "Stored prompt templates (`prompt`) are not supported by this gateway; send `input` and `instructions`."));
    }
    check_metadata(request.metadata.as_ref())?;
    let earlier = history.len();
    let mut conversation = history;
    conversation.extend(input_items(request)?);
    let chat_request = chat_request(request, &conversation, earlier).map_err(rename_params)?;
    Ok(ResponsesDraft {
        chat_request,
        conversation,
    })
}

/// Plans a drafted Responses request; `images` holds its fetched http(s) images.
pub fn plan_responses(
    request: &ResponsesRequest,
    draft: ResponsesDraft,
    overrides: &AliasOverrides,
    images: &RemoteImages,
) -> Result<ResponsesPlan, GatewayError> {
    let chat = plan_chat_request(
        &draft.chat_request,
        overrides,
        images,
        UpstreamForm::NativeResponses,
    )
    .map_err(rename_params)?;
    Ok(ResponsesPlan {
        echo: echo(request),
        stream: chat.stream,
        store: request.store.unwrap_or(true),
        input_items: draft.conversation,
        chat,
    })
}

/// The chat request equivalent to a Responses request; the conversation's first `earlier` items
/// are stored history.
fn chat_request(
    request: &ResponsesRequest,
    conversation: &[Value],
    earlier: usize,
) -> Result<ChatCompletionRequest, GatewayError> {
    let mut items = Vec::with_capacity(conversation.len() + 1);
    if let Some(instructions) = request.instructions.as_deref().filter(|i| !i.is_empty()) {
        items.push(json!({"role": "system", "content": instructions}));
    }
    let added_items = items.len() + earlier;
    items.extend_from_slice(conversation);
    Ok(ChatCompletionRequest {
        model: request.model.clone(),
        input_items: Some(items),
        added_items,
        top_logprobs: request.top_logprobs,
        stream: request.stream,
        max_completion_tokens: request.max_output_tokens,
        temperature: request.temperature,
        top_p: request.top_p,
        tools: request.tools.as_deref().map(chat_tools).transpose()?,
        tool_choice: request
            .tool_choice
            .as_ref()
            .map(chat_tool_choice)
            .transpose()?,
        response_format: request
            .text
            .as_ref()
            .and_then(|t| t.format.as_ref())
            .map(chat_response_format)
            .transpose()?
            .flatten(),
        reasoning_effort: request.reasoning.as_ref().and_then(|r| r.effort.clone()),
        ..ChatCompletionRequest::default()
    })
}

/// Flat Responses function tools (`{type, name, description, parameters}`) → chat tools. Built-in
/// OpenAI tools run on OpenAI's servers; Workers AI has none of them.
fn chat_tools(tools: &[Value]) -> Result<Vec<Value>, GatewayError> {
    tools
        .iter()
        .enumerate()
        .map(|(index, tool)| {
            let kind = tool.get("type").and_then(Value::as_str).unwrap_or("");
            if kind != "function" {
                return Err(GatewayError::invalid(
                    format!("tools[{index}] has type `{kind}`: built-in OpenAI tools (web_search, file_search, mcp, code_interpreter, …) do not run on Workers AI. Only `function` tools are supported; implement the tool in your app as a function."),
                    Some("tools"),
                ));
            }
            if tool.get("function").is_some() {
                // Already the chat form.
                return Ok(tool.clone());
            }
            let mut function = Map::new();
            for key in ["name", "description", "parameters", "strict"] {
                if let Some(value) = tool.get(key).filter(|v| !v.is_null()) {
                    function.insert(key.to_owned(), value.clone());
                }
            }
            Ok(json!({"type": "function", "function": function}))
        })
        .collect()
}

fn chat_tool_choice(choice: &Value) -> Result<Value, GatewayError> {
    match choice {
        Value::String(_) => Ok(choice.clone()),
        Value::Object(object) => match object.get("type").and_then(Value::as_str) {
            Some("function") => {
                let name = object.get("name").or_else(|| {
                    object.get("function").and_then(|f| f.get("name"))
                });
                Ok(json!({"type": "function", "function": {"name": name.cloned().unwrap_or(Value::Null)}}))
            }
            // The chat planner reads its `mode` and `tools` in this flat form too.
            Some("allowed_tools") => Ok(choice.clone()),
            other => Err(GatewayError::invalid(
                format!(
                    "`tool_choice` of type `{}` is not supported (Workers AI models only call `function` tools); use \"auto\", \"none\", \"required\" or {{\"type\":\"function\",\"name\":\"…\"}}.",
                    other.unwrap_or("")
                ),
                Some("tool_choice"),
            )),
        },
        _ => Err(GatewayError::invalid(
            "`tool_choice` must be a string or an object.",
            Some("tool_choice"),
        )),
    }
}

/// `text.format` → chat `response_format`; `text` needs nothing.
fn chat_response_format(format: &Value) -> Result<Option<Value>, GatewayError> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") | None => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let mut schema = Map::new();
            for key in ["name", "schema", "strict", "description"] {
                if let Some(value) = format.get(key) {
                    schema.insert(key.to_owned(), value.clone());
                }
            }
            Ok(Some(json!({"type": "json_schema", "json_schema": schema})))
        }
        Some(other) => Err(GatewayError::invalid(
            format!("`text.format.type` must be text, json_object or json_schema; got `{other}`."),
            Some("text"),
        )),
    }
}

fn echo(request: &ResponsesRequest) -> ResponseEcho {
    ResponseEcho {
        instructions: request.instructions.clone(),
        max_output_tokens: request.max_output_tokens,
        metadata: Value::Object(request.metadata.clone().unwrap_or_default()),
        parallel_tool_calls: request.parallel_tool_calls.unwrap_or(true),
        previous_response_id: request.previous_response_id.clone(),
        reasoning: json!({
            "effort": request.reasoning.as_ref().and_then(|r| r.effort.clone()),
            "summary": request.reasoning.as_ref().and_then(|r| r.summary.clone()),
        }),
        store: request.store.unwrap_or(true),
        temperature: request.temperature.unwrap_or(1.0),
        text: json!({
            "format": request.text.as_ref().and_then(|t| t.format.clone()).unwrap_or_else(|| json!({"type": "text"})),
            "verbosity": request.text.as_ref().and_then(|t| t.verbosity.clone()).unwrap_or_else(|| json!("medium")),
        }),
        tool_choice: request.tool_choice.clone().unwrap_or_else(|| json!("auto")),
        tools: request
            .tools
            .iter()
            .flatten()
            .map(|tool| {
                let mut tool = tool.clone();
                if let Some(object) = tool.as_object_mut() {
                    object.entry("strict").or_insert(Value::Null);
                    object.entry("description").or_insert(Value::Null);
                    object.entry("parameters").or_insert(Value::Null);
                }
                tool
            })
            .collect(),
        top_p: request.top_p.unwrap_or(1.0),
        truncation: "disabled",
        user: request.user.clone(),
    }
}

/// OpenAI's metadata rules: at most 16 pairs, keys up to 64 characters, string values up to 512.
fn check_metadata(metadata: Option<&Map<String, Value>>) -> Result<(), GatewayError> {
    let Some(metadata) = metadata else {
        return Ok(());
    };
    let invalid = |message: String| GatewayError::invalid(message, Some("metadata"));
    if metadata.len() > 16 {
        return Err(invalid(format!(
            "`metadata` has {} pairs; at most 16 are allowed.",
            metadata.len()
        )));
    }
    for (key, value) in metadata {
        if key.chars().count() > 64 {
            return Err(invalid(format!(
                "`metadata` key `{key}` is longer than 64 characters."
            )));
        }
        match value {
            Value::String(text) if text.chars().count() <= 512 => {}
            Value::String(_) => {
                return Err(invalid(format!(
                    "`metadata.{key}` is longer than 512 characters."
                )))
            }
            _ => {
                return Err(invalid(format!(
                    "`metadata.{key}` must be a string (metadata values are strings of up to 512 characters)."
                )))
            }
        }
    }
    Ok(())
}

fn unsupported(param: &'static str, message: &str) -> GatewayError {
    GatewayError::invalid(message, Some(param))
}

/// The chat planner names chat parameters; a Responses client sent other names.
fn rename_params(err: GatewayError) -> GatewayError {
    match err {
        GatewayError::InvalidRequest {
            message,
            param,
            code,
        } => {
            let param = param.map(|p| {
                if let Some(rest) = p.strip_prefix("messages[") {
                    return Cow::Owned(format!("input[{rest}"));
                }
                match p.as_ref() {
                    "messages" => Cow::Borrowed("input"),
                    "max_completion_tokens" | "max_tokens" => Cow::Borrowed("max_output_tokens"),
                    "response_format" => Cow::Borrowed("text.format"),
                    "reasoning_effort" => Cow::Borrowed("reasoning.effort"),
                    _ => p,
                }
            });
            let message = message
                .replace(
                    "`response_format.json_schema.schema`",
                    "`text.format.schema`",
                )
                .replace("`messages`", "`input`")
                .replace("messages[", "input[")
                .replace("`max_completion_tokens`", "`max_output_tokens`")
                .replace("`response_format`", "`text.format`")
                .replace("`reasoning_effort`", "`reasoning.effort`");
            GatewayError::InvalidRequest {
                message,
                param,
                code,
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(body: Value) -> Result<ResponsesPlan, GatewayError> {
        let request = parse_responses_request(&body.to_string())?;
        plan_with_history(&request, Vec::new())
    }

    fn plan_with_history(
        request: &ResponsesRequest,
        history: Vec<Value>,
    ) -> Result<ResponsesPlan, GatewayError> {
        let draft = draft_responses(request, history)?;
        plan_responses(
            request,
            draft,
            &AliasOverrides::default(),
            &RemoteImages::new(),
        )
    }

    fn upstream(plan: &ResponsesPlan) -> Value {
        serde_json::from_str(&plan.chat.upstream_input).unwrap()
    }

    #[test]
    fn a_string_input_is_one_user_message_after_the_instructions() {
        let p = plan(json!({"model":"gpt-3.5-turbo","input":"Hi","instructions":"Be brief","max_output_tokens":50})).unwrap();
        let input = upstream(&p);
        assert_eq!(
            input["messages"][0],
            json!({"role":"system","content":"Be brief"})
        );
        assert_eq!(input["messages"][1], json!({"role":"user","content":"Hi"}));
        assert_eq!(input["max_tokens"], 50);
        assert!(p.store, "OpenAI stores by default");
        assert_eq!(p.input_items, vec![json!({"role":"user","content":"Hi"})]);
    }

    #[test]
    fn n8n_items_and_flat_tools_reach_a_chat_model() {
        let p = plan(json!({
            "model":"gpt-4","store":true,"max_output_tokens":256,"text":{"format":{"type":"text"}},
            "input":[
                {"role":"user","content":[{"type":"input_text","text":"weather in Paris?"}]},
                {"type":"reasoning","id":"rs_1","summary":[]},
                {"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
                {"type":"function_call_output","call_id":"call_1","output":"sunny"}
            ],
            "tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]
        })).unwrap();
        let input = upstream(&p);
        let messages = input["messages"].as_array().unwrap();
        assert_eq!(messages[0]["content"], "weather in Paris?");
        assert_eq!(messages[1]["tool_calls"][0]["id"], "call_1");
        assert_eq!(messages[2]["role"], "tool");
        assert_eq!(messages[2]["content"], "sunny");
        assert_eq!(input["tools"][0]["function"]["name"], "get_weather");
        assert!(input.get("response_format").is_none());
    }

    #[test]
    fn gpt_oss_gets_its_native_responses_input() {
        let p = plan(json!({
            "model":"@cf/openai/gpt-oss-120b","instructions":"Be brief","reasoning":{"effort":"high"},
            "input":[
                {"role":"user","content":"weather?"},
                {"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{}"},
                {"type":"function_call_output","call_id":"call_1","output":"sunny"}
            ],
            "tools":[{"type":"function","name":"get_weather","description":"d","parameters":{"type":"object","properties":{}}}]
        })).unwrap();
        let input = upstream(&p);
        assert!(input.get("messages").is_none());
        assert_eq!(input["instructions"], "Be brief");
        assert_eq!(input["reasoning"]["effort"], "high");
        assert_eq!(
            input["input"][0],
            json!({"role":"user","content":"weather?"})
        );
        assert_eq!(input["input"][1]["type"], "function_call");
        assert_eq!(input["input"][1]["call_id"], "call_1");
        assert_eq!(
            input["input"][2],
            json!({"type":"function_call_output","call_id":"call_1","output":"sunny"})
        );
        assert_eq!(input["tools"][0]["name"], "get_weather");
        assert_eq!(input["tools"][0]["type"], "function");
    }

    #[test]
    fn json_formats_and_clear_errors() {
        let p = plan(json!({"model":"gpt-4","input":"x","text":{"format":{"type":"json_schema","name":"city","schema":{"type":"object"}}}})).unwrap();
        assert_eq!(upstream(&p)["response_format"]["type"], "json_schema");
        for (body, param, words) in [
            (
                json!({"model":"gpt-4","input":"x","tools":[{"type":"web_search"}]}),
                "tools",
                "web_search",
            ),
            (json!({"model":"gpt-4"}), "input", "required"),
            (
                json!({"model":"gpt-4","input":[{"type":"item_reference","id":"x"}]}),
                "input",
                "item_reference",
            ),
            (
                json!({"model":"gpt-4","input":"x","max_output_tokens":0}),
                "max_output_tokens",
                "max_output_tokens",
            ),
            (
                json!({"model":"gpt-4","input":"x","background":true}),
                "background",
                "background",
            ),
            (
                json!({"model":"gpt-4","input":"x","metadata":{"a":1}}),
                "metadata",
                "must be a string",
            ),
            (
                json!({"model":"gpt-3.5-turbo","input":"x","text":{"format":{"type":"json_object"}}}),
                "text.format",
                "JSON",
            ),
        ] {
            let err = plan(body.clone()).unwrap_err();
            let error = err.to_body().error;
            assert_eq!(error.param, Some(param), "{body}: {}", error.message);
            assert!(error.message.contains(words), "{body}: {}", error.message);
        }
    }

    #[test]
    fn history_comes_before_this_turn() {
        let request =
            parse_responses_request(&json!({"model":"gpt-4","input":"and now?"}).to_string())
                .unwrap();
        let history = vec![
            json!({"role":"user","content":"first"}),
            json!({"type":"message","role":"assistant","content":[{"type":"output_text","text":"one"}]}),
        ];
        let p = plan_with_history(&request, history).unwrap();
        let messages = upstream(&p)["messages"].clone();
        assert_eq!(messages[0]["content"], "first");
        assert_eq!(messages[1]["content"], "one");
        assert_eq!(messages[2]["content"], "and now?");
        assert_eq!(p.input_items.len(), 3);
    }

    #[test]
    fn items_are_checked_and_named_by_the_clients_index() {
        // The instructions and stored history come first upstream; errors still count from the
        // client's own first item.
        let request = parse_responses_request(
            &json!({"model":"gpt-4","instructions":"Be brief","input":[{"role":"user","content":"a"},{"role":"user"}]}).to_string(),
        )
        .unwrap();
        let history = vec![json!({"role":"user","content":"first"})];
        let err = plan_with_history(&request, history).unwrap_err();
        let error = err.to_body().error;
        assert_eq!(error.param, Some("input[1].content"), "{}", error.message);
        assert!(
            error
                .message
                .starts_with("input[1] (role `user`) has no `content`"),
            "{}",
            error.message
        );
        assert_eq!(error.code.as_deref(), Some("missing_required_parameter"));
        for (body, param) in [
            (
                json!({"model":"gpt-4","input":[{"type":"message","role":"assistant"}]}),
                "input[0].content",
            ),
            (
                json!({"model":"gpt-4","input":[{"role":"user","content":"x"},{"type":"function_call","name":"f"}]}),
                "input[1].call_id",
            ),
            (
                json!({"model":"gpt-4","input":"x","top_logprobs":21}),
                "top_logprobs",
            ),
            (
                json!({"model":"gpt-4","input":"x","max_output_tokens":1_000_000_000u64}),
                "max_output_tokens",
            ),
            (
                json!({"model":"gpt-4","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":"sometimes"}),
                "tool_choice",
            ),
            (
                json!({"model":"gpt-4","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"function"}}),
                "tool_choice",
            ),
        ] {
            let err = plan(body.clone()).unwrap_err();
            assert_eq!(err.to_body().error.param, Some(param), "{body}: {err}");
        }
        let err = plan(json!({"model":"gpt-4","input":"x","max_output_tokens":1_000_000_000u64}))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`max_output_tokens` is too large"),
            "{err}"
        );
        // Valid: top_logprobs 0 (Codex sends it), allowed_tools in the Responses form.
        let p = plan(json!({"model":"gpt-5","input":"x","top_logprobs":0,
            "tools":[{"type":"function","name":"f"},{"type":"function","name":"g"}],
            "tool_choice":{"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"g"}]}})).unwrap();
        let input = upstream(&p);
        assert_eq!(input["tool_choice"], "required");
        assert_eq!(input["tools"].as_array().unwrap().len(), 1);
        assert_eq!(input["tools"][0]["function"]["name"], "g");
    }
}
