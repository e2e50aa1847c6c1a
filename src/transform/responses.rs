//! Responses API output: the `response` object, its output items, and what is stored for
//! `previous_response_id`. Built from the same assistant message the chat path produces, so every
//! model family answers the Responses API through one converter.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::chat::{finished_message, CompletionContext};
use super::openai::{AssistantMessage, FinishReason, Usage};
use super::responses_request::ResponsesPlan;
use crate::error::GatewayError;

/// The request fields a `response` object repeats back, as the client sent them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResponseEcho {
    pub instructions: Option<String>,
    pub max_output_tokens: Option<u64>,
    pub metadata: Value,
    pub parallel_tool_calls: bool,
    pub previous_response_id: Option<String>,
    pub reasoning: Value,
    pub store: bool,
    pub temperature: f64,
    pub text: Value,
    pub tool_choice: Value,
    pub tools: Vec<Value>,
    pub top_p: f64,
    pub truncation: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// A `response` object.
#[derive(Debug, Serialize)]
pub struct Response<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created_at: u64,
    pub status: ResponseStatus,
    pub completed_at: Option<u64>,
    pub error: Option<ResponseError>,
    pub incomplete_details: Option<IncompleteDetails>,
    pub model: &'a str,
    pub output: &'a [OutputItem],
    /// Absent until the response ends (the schema has no null usage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<ResponseUsage>,
    #[serde(flatten)]
    pub echo: &'a ResponseEcho,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    InProgress,
    Completed,
    Incomplete,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResponseError {
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncompleteDetails {
    pub reason: &'static str,
}

/// One item of `output`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    Reasoning {
        id: String,
        summary: [(); 0],
        content: Vec<TextContent>,
        status: ItemStatus,
    },
    Message {
        id: String,
        status: ItemStatus,
        role: &'static str,
        content: Vec<TextContent>,
    },
    FunctionCall {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
        status: ItemStatus,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    InProgress,
    Completed,
    Incomplete,
}

/// `output_text` (messages) or `reasoning_text` (reasoning items).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TextContent {
    OutputText {
        text: String,
        annotations: [(); 0],
        logprobs: [(); 0],
    },
    ReasoningText {
        text: String,
    },
}

impl TextContent {
    pub fn output_text(text: String) -> Self {
        TextContent::OutputText {
            text,
            annotations: [],
            logprobs: [],
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseUsage {
    pub input_tokens: u64,
    pub input_tokens_details: InputTokensDetails,
    pub output_tokens: u64,
    pub output_tokens_details: OutputTokensDetails,
    pub total_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct InputTokensDetails {
    pub cached_tokens: u64,
    pub cache_write_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    pub reasoning_tokens: u64,
}

impl From<Usage> for ResponseUsage {
    fn from(usage: Usage) -> Self {
        ResponseUsage {
            input_tokens: usage.prompt_tokens,
            output_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens,
            output_tokens_details: OutputTokensDetails {
                reasoning_tokens: usage.reasoning_tokens(),
            },
            ..ResponseUsage::default()
        }
    }
}

/// Item ids: the response id's suffix, a kind prefix and the item's position, so they are
/// unique per response and stable when the response is stored and read back.
pub fn item_id(prefix: &str, ctx: &CompletionContext, output_index: usize) -> String {
    let suffix = ctx.id.strip_prefix("resp_").unwrap_or(&ctx.id);
    format!("{prefix}_{suffix}{output_index:02}")
}

/// A finished answer's items, in OpenAI's order: reasoning, the message, then the calls.
pub fn output_items(
    message: AssistantMessage,
    ctx: &CompletionContext,
    status: ItemStatus,
) -> Vec<OutputItem> {
    let mut items = Vec::with_capacity(2 + message.tool_calls.len());
    if let Some(reasoning) = message.reasoning_content.filter(|r| !r.is_empty()) {
        items.push(OutputItem::Reasoning {
            id: item_id("rs", ctx, items.len()),
            summary: [],
            content: vec![TextContent::ReasoningText { text: reasoning }],
            status: ItemStatus::Completed,
        });
    }
    let content = message.content.unwrap_or_default();
    if !content.is_empty() || message.tool_calls.is_empty() {
        items.push(OutputItem::Message {
            id: item_id("msg", ctx, items.len()),
            status,
            role: "assistant",
            content: vec![TextContent::output_text(content)],
        });
    }
    for call in message.tool_calls {
        items.push(OutputItem::FunctionCall {
            id: item_id("fc", ctx, items.len()),
            call_id: call.id,
            name: call.function.name,
            arguments: call.function.arguments,
            status: ItemStatus::Completed,
        });
    }
    items
}

/// The finished response for a Workers AI answer (any family).
pub fn response_from_output(
    output_json: &str,
    ctx: &CompletionContext,
    plan: &ResponsesPlan,
) -> Result<FinishedResponse, GatewayError> {
    let (message, finish, usage) = finished_message(output_json, ctx, &plan.chat)?;
    let status = status_of(finish);
    let items = output_items(message, ctx, item_status(status));
    Ok(FinishedResponse {
        status,
        output: items,
        usage: usage.into(),
    })
}

/// What an answer became: enough to write the `response` object, stream or not.
#[derive(Debug, Clone)]
pub struct FinishedResponse {
    pub status: ResponseStatus,
    pub output: Vec<OutputItem>,
    pub usage: ResponseUsage,
}

pub fn status_of(finish: FinishReason) -> ResponseStatus {
    match finish {
        FinishReason::Length => ResponseStatus::Incomplete,
        _ => ResponseStatus::Completed,
    }
}

pub fn item_status(status: ResponseStatus) -> ItemStatus {
    match status {
        ResponseStatus::Incomplete => ItemStatus::Incomplete,
        ResponseStatus::InProgress => ItemStatus::InProgress,
        _ => ItemStatus::Completed,
    }
}

/// The `response` object around `output`.
pub fn response_object<'a>(
    ctx: &'a CompletionContext,
    echo: &'a ResponseEcho,
    status: ResponseStatus,
    output: &'a [OutputItem],
    usage: Option<ResponseUsage>,
    completed_at: u64,
) -> Response<'a> {
    Response {
        id: &ctx.id,
        object: "response",
        created_at: ctx.created,
        status,
        completed_at: (status == ResponseStatus::Completed).then_some(completed_at),
        error: None,
        incomplete_details: (status == ResponseStatus::Incomplete).then_some(IncompleteDetails {
            reason: "max_output_tokens",
        }),
        model: &ctx.model,
        output,
        usage,
        echo,
    }
}

/// What `store: true` keeps: the response as the client saw it, and the conversation that led to
/// it (every input item, earlier turns included) for `previous_response_id` and `input_items`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredResponse {
    pub response: Value,
    pub input_items: Vec<Value>,
}

impl StoredResponse {
    /// The stored JSON for a response already serialised for the client, without parsing it
    /// back: `{"response": …, "input_items": […]}`.
    pub fn record(response_json: &str, input_items: &[Value]) -> Result<String, GatewayError> {
        Ok(format!(
            r#"{{"response":{response_json},"input_items":{}}}"#,
            encode(&input_items)?
        ))
    }

    /// The conversation a follow-up continues: this turn's input, then its output.
    pub fn conversation(&self) -> Vec<Value> {
        let output = self
            .response
            .get("output")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        self.input_items
            .iter()
            .chain(output)
            .cloned()
            .collect::<Vec<_>>()
    }
}

impl StoredResponse {
    /// `GET /v1/responses/{id}/input_items`: the input items, newest first (OpenAI's default
    /// order), each with a `type` and an `id`.
    pub fn input_item_list(&self) -> Value {
        let data: Vec<Value> = self
            .input_items
            .iter()
            .enumerate()
            .rev()
            .map(|(index, item)| listed_item(index, item))
            .collect();
        let id_at = |i: Option<&Value>| i.and_then(|item| item.get("id")).cloned();
        serde_json::json!({
            "object": "list",
            "first_id": id_at(data.first()),
            "last_id": id_at(data.last()),
            "has_more": false,
            "data": data,
        })
    }
}

/// An input item as OpenAI lists it: messages typed, string content as `input_text`, ids added.
fn listed_item(index: usize, item: &Value) -> Value {
    let mut item = match item {
        Value::String(text) => serde_json::json!({"role": "user", "content": text}),
        other => other.clone(),
    };
    if let Some(object) = item.as_object_mut() {
        let kind = object
            .entry("type")
            .or_insert_with(|| Value::from("message"))
            .as_str()
            .unwrap_or("")
            .to_owned();
        if kind == "message" {
            if let Some(Value::String(text)) = object.get("content") {
                let part = if object.get("role").and_then(Value::as_str) == Some("assistant") {
                    serde_json::json!({"type": "output_text", "text": text})
                } else {
                    serde_json::json!({"type": "input_text", "text": text})
                };
                object.insert("content".to_owned(), Value::Array(vec![part]));
            }
            // Output text as the item list types it.
            let parts = object.get_mut("content").and_then(Value::as_array_mut);
            for part in parts.into_iter().flatten() {
                if let Some(part) = part.as_object_mut() {
                    if part.get("type").and_then(Value::as_str) == Some("output_text") {
                        part.entry("annotations")
                            .or_insert_with(|| Value::Array(Vec::new()));
                        part.entry("logprobs")
                            .or_insert_with(|| Value::Array(Vec::new()));
                    }
                }
            }
        }
        if matches!(
            kind.as_str(),
            "message" | "function_call" | "function_call_output"
        ) {
            object
                .entry("status")
                .or_insert_with(|| Value::from("completed"));
        }
        let prefix = match kind.as_str() {
            "function_call" => "fc",
            "function_call_output" => "fco",
            "reasoning" => "rs",
            _ => "msg",
        };
        object
            .entry("id")
            .or_insert_with(|| Value::from(format!("{prefix}_input{index:04}")));
    }
    item
}

pub fn encode<T: Serialize>(value: &T) -> Result<String, GatewayError> {
    serde_json::to_string(value)
        .map_err(|err| GatewayError::Internal(format!("could not encode the response: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::AliasOverrides;
    use crate::transform::media::RemoteImages;
    use crate::transform::responses_request::{
        draft_responses, parse_responses_request, plan_responses,
    };
    use serde_json::json;

    fn finished(request: Value, output: Value) -> (Value, FinishedResponse) {
        let request = parse_responses_request(&request.to_string()).unwrap();
        let draft = draft_responses(&request, Vec::new()).unwrap();
        let plan = plan_responses(
            &request,
            draft,
            &AliasOverrides::default(),
            &RemoteImages::new(),
        )
        .unwrap();
        let ctx = CompletionContext {
            id: "resp_1".into(),
            created: 5,
            model: "gpt-4".into(),
        };
        let done = response_from_output(&output.to_string(), &ctx, &plan).unwrap();
        let object = response_object(
            &ctx,
            &plan.echo,
            done.status,
            &done.output,
            Some(done.usage),
            6,
        );
        (serde_json::to_value(&object).unwrap(), done)
    }

    #[test]
    fn legacy_tool_calls_become_function_call_items() {
        let (response, _) = finished(
            json!({"model":"@cf/meta/llama-3.3-70b-instruct-fp8-fast","input":"weather?","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{}}}]}),
            json!({"response":"","tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}}],"usage":{"prompt_tokens":3,"completion_tokens":4}}),
        );
        let call = &response["output"][0];
        assert_eq!(call["type"], "function_call");
        assert_eq!(call["name"], "get_weather");
        assert_eq!(call["arguments"], "{\"city\":\"Paris\"}");
        assert!(call["call_id"].as_str().unwrap().starts_with("call_"));
        assert_eq!(response["status"], "completed");
        assert_eq!(response["completed_at"], 6);
        assert_eq!(response["usage"]["total_tokens"], 7);
        assert_eq!(response["tools"][0]["name"], "get_weather");
    }

    #[test]
    fn an_incomplete_gpt_oss_answer_says_why() {
        let (response, done) = finished(
            json!({"model":"o3","input":"long story","max_output_tokens":16}),
            json!({"object":"response","status":"incomplete","output":[
                {"type":"reasoning","content":[{"type":"reasoning_text","text":"think"}]},
                {"type":"message","content":[{"type":"output_text","text":"Once upon"}]}],
                "usage":{"input_tokens":2,"output_tokens":16,"total_tokens":18,"output_tokens_details":{"reasoning_tokens":3}}}),
        );
        assert_eq!(done.status, ResponseStatus::Incomplete);
        assert_eq!(
            response["incomplete_details"]["reason"],
            "max_output_tokens"
        );
        assert_eq!(response["completed_at"], Value::Null);
        assert_eq!(response["output"][0]["type"], "reasoning");
        assert_eq!(response["output"][1]["status"], "incomplete");
        assert_eq!(response["output"][1]["content"][0]["text"], "Once upon");
        assert_eq!(
            response["usage"]["output_tokens_details"]["reasoning_tokens"],
            3
        );
        assert!(
            response.get("user").is_none(),
            "no null user: the schema has a string"
        );
    }

    #[test]
    fn stored_conversations_continue_and_list() {
        let stored = StoredResponse {
            response: json!({"output":[{"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"one"}]}]}),
            input_items: vec![json!({"role":"user","content":"first"})],
        };
        assert_eq!(stored.conversation().len(), 2);
        let list = stored.input_item_list();
        assert_eq!(list["data"][0]["type"], "message");
        assert_eq!(list["data"][0]["content"][0]["type"], "input_text");
        assert_eq!(list["first_id"], list["data"][0]["id"]);
    }
}
