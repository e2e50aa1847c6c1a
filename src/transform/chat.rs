//! Workers AI text-generation output → an OpenAI `chat.completion`, for every model family.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::chat_request::ChatPlan;
use super::openai::{
    AssistantMessage, ChatChoice, ChatCompletion, CompletionTokensDetails, FinishReason,
    FunctionCall, ToolCall, Usage,
};
use crate::error::GatewayError;

/// Identity of the completion we are building: the id, timestamp and the model name the client
/// sent (echoed back instead of the Workers AI id).
#[derive(Debug, Clone)]
pub struct CompletionContext {
    pub id: String,
    pub created: u64,
    pub model: String,
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
    /// Responses-style: `incomplete` when the output limit cut the answer.
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NativeChoice {
    #[serde(default)]
    pub message: NativeMessage,
    /// `text_completion` answers (a prompt instead of messages) carry the text here.
    #[serde(default)]
    pub text: Option<String>,
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
    pub completion_tokens_details: Option<CompletionTokensDetails>,
    pub output_tokens_details: Option<CompletionTokensDetails>,
}

impl UpstreamUsage {
    pub fn to_usage(self) -> Option<Usage> {
        let prompt = self.prompt_tokens.or(self.input_tokens)?;
        let completion = self.completion_tokens.or(self.output_tokens).unwrap_or(0);
        Some(Usage {
            completion_tokens_details: self
                .completion_tokens_details
                .or(self.output_tokens_details),
            ..Usage::new(prompt, completion)
        })
    }
}

/// Parses a Workers AI text-generation answer; anything unreadable is an upstream error (502).
pub(crate) fn parse_text_output(output_json: &str) -> Result<TextOutput, GatewayError> {
    serde_json::from_str(output_json).map_err(|err| GatewayError::Upstream {
        code: None,
        message: format!("Workers AI returned an answer this gateway cannot read ({err})."),
    })
}

/// Why an answer ended: tool calls win; then a stop sequence or upstream's own reason; then the
/// token limit; otherwise a natural stop.
pub fn finish_reason(
    has_tool_calls: bool,
    upstream: Option<FinishReason>,
    completion_tokens: u64,
    max_tokens: u32,
) -> FinishReason {
    if has_tool_calls {
        FinishReason::ToolCalls
    } else if let Some(reason) = upstream {
        reason
    } else if completion_tokens >= u64::from(max_tokens) {
        FinishReason::Length
    } else {
        FinishReason::Stop
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

/// The parts of a tool call in any form Workers AI or a client sends: OpenAI
/// `{id, function: {name, arguments: "<json>"}}`, legacy `{name, arguments|parameters: {...}}`,
/// Responses `{call_id, name, arguments}` (its `call_id` is the id clients answer with), or an
/// OpenAI stream delta that carries only some of them. Object arguments are serialised.
pub struct ToolCallParts<'a> {
    pub id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub arguments: Option<Cow<'a, str>>,
}

pub fn tool_call_parts(call: &Value) -> ToolCallParts<'_> {
    let function = call.get("function").unwrap_or(call);
    ToolCallParts {
        id: non_empty_str(call.get("call_id")).or_else(|| non_empty_str(call.get("id"))),
        name: non_empty_str(function.get("name")),
        arguments: match function
            .get("arguments")
            .or_else(|| function.get("parameters"))
        {
            Some(Value::String(s)) => Some(Cow::Borrowed(s.as_str())),
            Some(Value::Null) | None => None,
            Some(other) => Some(Cow::Owned(other.to_string())),
        },
    }
}

fn non_empty_str(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A complete tool call in OpenAI's form, or `None` when it names no function (the null
/// "finalisation" entries some models send).
pub fn normalize_tool_call(call: &Value, fallback_id: String) -> Option<ToolCall> {
    let parts = tool_call_parts(call);
    Some(ToolCall {
        id: parts.id.map_or(fallback_id, str::to_owned),
        kind: "function",
        function: FunctionCall {
            name: parts.name?.to_owned(),
            arguments: parts
                .arguments
                .map_or_else(|| "{}".to_owned(), Cow::into_owned),
        },
    })
}

/// Splits `<think>…</think>` reasoning off the front of a legacy answer (DeepSeek-R1, QwQ).
/// The opening tag is optional: these models often start inside the thought.
pub fn split_think(text: &str) -> (Option<&str>, &str) {
    // Most answers have no tag: a byte search rules that out for less than a substring search.
    if !text.as_bytes().contains(&b'<') {
        return (None, text);
    }
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
    chat_completion_from_outputs(&[output_json], ctx, plan).map(|(json, _)| json)
}

/// One `chat.completion` from the outputs of `n` runs: choice `i` is run `i`, usage is summed.
/// Returns its JSON and its usage (for the log line, which then need not look for it).
pub fn chat_completion_from_outputs(
    outputs: &[&str],
    ctx: &CompletionContext,
    plan: &ChatPlan,
) -> Result<(String, Usage), GatewayError> {
    let completion = chat_completion(outputs, ctx, plan)?;
    let json = serde_json::to_string(&completion)
        .map_err(|err| GatewayError::Internal(format!("could not encode the completion: {err}")))?;
    Ok((json, completion.usage))
}

/// One choice per Workers AI answer (`n` runs), usage summed.
pub fn chat_completion<'c>(
    outputs: &[&str],
    ctx: &'c CompletionContext,
    plan: &ChatPlan,
) -> Result<ChatCompletion<'c>, GatewayError> {
    let mut choices = Vec::with_capacity(outputs.len());
    let mut total = Usage::default();
    for (index, output_json) in outputs.iter().enumerate() {
        // Tool call ids must differ across choices too.
        let choice_ctx = match index {
            0 => Cow::Borrowed(ctx),
            _ => Cow::Owned(CompletionContext {
                id: format!("{}{index}", ctx.id),
                ..ctx.clone()
            }),
        };
        let (choice, usage) = chat_choice(output_json, index as u32, &choice_ctx, plan)?;
        choices.push(choice);
        // The prompt is the same for every run: count it once, as OpenAI does.
        let reasoning = total.reasoning_tokens() + usage.reasoning_tokens();
        total = Usage {
            completion_tokens_details: (reasoning > 0).then_some(CompletionTokensDetails {
                reasoning_tokens: reasoning,
            }),
            ..Usage::new(
                usage.prompt_tokens,
                total.completion_tokens + usage.completion_tokens,
            )
        };
    }
    Ok(ChatCompletion {
        id: &ctx.id,
        object: "chat.completion",
        created: ctx.created,
        model: &ctx.model,
        choices,
        usage: total,
    })
}

fn chat_choice(
    output_json: &str,
    index: u32,
    ctx: &CompletionContext,
    plan: &ChatPlan,
) -> Result<(ChatChoice, Usage), GatewayError> {
    let (mut message, mut finish_reason, usage) = finished_message(output_json, ctx, plan)?;
    if plan.legacy_functions && !message.tool_calls.is_empty() {
        // The legacy shape holds one call.
        message.function_call = message
            .tool_calls
            .drain(..)
            .next()
            .map(|call| call.function);
        finish_reason = FinishReason::FunctionCall;
    }
    let choice = ChatChoice {
        index,
        message,
        finish_reason,
        logprobs: None,
    };
    Ok((choice, usage))
}

/// A whole Workers AI answer as the assistant's message, why it ended (stop sequences applied),
/// and its usage (estimated when upstream gives none). Shared by chat and Responses answers.
pub(crate) fn finished_message(
    output_json: &str,
    ctx: &CompletionContext,
    plan: &ChatPlan,
) -> Result<(AssistantMessage, FinishReason, Usage), GatewayError> {
    let output = parse_text_output(output_json)?;
    let (mut message, mut upstream_finish, usage) =
        assistant_message(output, ctx, &plan.tool_names)?;
    if let Some(content) = message.content.as_mut() {
        if let Some(cut) = first_stop(content, &plan.stop) {
            content.truncate(cut);
            upstream_finish = Some("stop".to_owned());
        }
    }
    let usage = usage.unwrap_or_else(|| {
        Usage::new(
            estimate_tokens(&plan.upstream_input),
            estimate_tokens(message.content.as_deref().unwrap_or_default()),
        )
    });
    let finish = finish_reason(
        !message.tool_calls.is_empty(),
        upstream_finish.as_deref().map(FinishReason::from_upstream),
        usage.completion_tokens,
        plan.max_tokens,
    );
    Ok((message, finish, usage))
}

type MessageParts = (AssistantMessage, Option<String>, Option<Usage>);

pub(crate) fn assistant_message(
    output: TextOutput,
    ctx: &CompletionContext,
    offered_tools: &[String],
) -> Result<MessageParts, GatewayError> {
    let usage = output.usage.and_then(UpstreamUsage::to_usage);
    let mut message = AssistantMessage {
        role: "assistant",
        ..AssistantMessage::default()
    };
    let upstream_tool_calls;
    let mut finish = None;
    if let Some(choice) = output.choices.and_then(|c| c.into_iter().next()) {
        message.content = choice.message.content.or(choice.text);
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
        if output.status.as_deref() == Some("incomplete") {
            finish = Some("length".to_owned());
        }
    } else if let Some(response) = output.response {
        let text = match response {
            Value::String(s) => s,
            Value::Null => String::new(),
            // JSON mode answers with an object; OpenAI clients expect the JSON as a string.
            other => other.to_string(),
        };
        let (thought, answer) = split_think(&text);
        message.reasoning_content = thought.map(str::to_owned);
        upstream_tool_calls = match output.tool_calls.filter(|calls| !calls.is_empty()) {
            Some(calls) => {
                message.content = Some(answer.to_owned());
                calls
            }
            None => {
                let (remaining, leaked) = recover_leaked_tool_calls(answer, offered_tools);
                message.content = Some(remaining);
                leaked
            }
        };
    } else {
        return Err(GatewayError::Upstream {
            code: None,
            message: "Workers AI returned no answer (no `response`, `choices` or `output`).".into(),
        });
    }
    message.tool_calls = upstream_tool_calls
        .iter()
        .enumerate()
        .filter_map(|(i, call)| normalize_tool_call(call, tool_call_id(&ctx.id, i)))
        .collect();
    if !message.tool_calls.is_empty() && message.content.as_deref() == Some("") {
        message.content = None;
    }
    Ok((message, finish, usage))
}

/// Where the earliest of the `stop` sequences begins in `text`, if any does.
pub fn first_stop(text: &str, stop: &[String]) -> Option<usize> {
    stop.iter().filter_map(|s| text.find(s.as_str())).min()
}

/// Finds tool calls a model wrote into its answer instead of `tool_calls`: a JSON object (or an
/// array of them) `{"name": …, "parameters"|"arguments": …}`, bare or inside Hermes-style
/// `<tool_call>…</tool_call>` tags. Only names of tools the client offered count, so an ordinary
/// JSON answer is never mistaken for a call. Returns the text that remains, and the calls.
pub fn recover_leaked_tool_calls(text: &str, offered_tools: &[String]) -> (String, Vec<Value>) {
    if offered_tools.is_empty() || !text.contains('{') {
        return (text.to_owned(), Vec::new());
    }
    let is_call = |v: &Value| {
        v.get("name")
            .and_then(Value::as_str)
            .is_some_and(|name| offered_tools.iter().any(|t| t == name))
            && (v.get("parameters").is_some()
                || v.get("arguments").is_some()
                || v.as_object().is_some_and(|o| o.len() == 1))
    };
    let mut calls = Vec::new();
    let mut remaining = String::new();
    let mut rest = text;
    // Hermes-style tags first.
    while let Some(start) = rest.find("<tool_call>") {
        let after = &rest[start + "<tool_call>".len()..];
        let Some(end) = after.find("</tool_call>") else {
            break;
        };
        match serde_json::from_str::<Value>(after[..end].trim()) {
            Ok(v) if is_call(&v) => {
                remaining.push_str(&rest[..start]);
                calls.push(v);
            }
            _ => remaining
                .push_str(&rest[..start + "<tool_call>".len() + end + "</tool_call>".len()]),
        }
        rest = &after[end + "</tool_call>".len()..];
    }
    remaining.push_str(rest);
    if calls.is_empty() {
        // A bare JSON call (or list of calls) spanning from the first `{`/`[` to the end.
        let trimmed = remaining.trim_end();
        let trimmed = trimmed.strip_suffix("```").unwrap_or(trimmed).trim_end();
        let start = trimmed.find(['{', '[']).unwrap_or(trimmed.len());
        if let Ok(parsed) = serde_json::from_str::<Value>(&trimmed[start..]) {
            let candidates = match parsed {
                Value::Array(items) => items,
                single => vec![single],
            };
            if !candidates.is_empty() && candidates.iter().all(is_call) {
                let before = trimmed[..start].trim_end();
                let before = before
                    .strip_suffix("```json")
                    .or_else(|| before.strip_suffix("```"))
                    .unwrap_or(before);
                remaining = before.trim().to_owned();
                calls = candidates;
            }
        }
    }
    (remaining.trim().to_owned(), calls)
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
    use crate::models::AliasOverrides;
    use crate::transform::chat_request::plan_chat;
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
    fn leaked_tool_calls_are_recovered_only_for_offered_tools() {
        let offered = vec!["get_weather".to_owned()];
        let (text, calls) = recover_leaked_tool_calls(
            r#"{"name": "get_weather", "parameters": {"city": "Paris"}}"#,
            &offered,
        );
        assert_eq!(text, "");
        assert_eq!(calls[0]["parameters"]["city"], "Paris");
        let (text, calls) = recover_leaked_tool_calls("Let me check.\n<tool_call>\n{\"arguments\": {\"city\": \"Oslo\"}, \"name\": \"get_weather\"}\n</tool_call>", &offered);
        assert_eq!(text, "Let me check.");
        assert_eq!(calls.len(), 1);
        let (text, calls) = recover_leaked_tool_calls(
            "Sure:\n```json\n[{\"name\":\"get_weather\",\"arguments\":{}}]\n```",
            &offered,
        );
        assert_eq!((text.as_str(), calls.len()), ("Sure:", 1));
        // Not offered, or not call-shaped: the text stays as it is.
        for text in [
            r#"{"name": "other", "parameters": {}}"#,
            r#"{"name": "get_weather", "city": "x", "y": 1}"#,
            "no json",
        ] {
            assert_eq!(
                recover_leaked_tool_calls(text, &offered),
                (text.to_owned(), vec![])
            );
        }
        assert!(
            recover_leaked_tool_calls(r#"{"name":"get_weather","parameters":{}}"#, &[])
                .1
                .is_empty()
        );

        let mut p = plan(json!({"model":"@cf/meta/llama-3.3-70b-instruct-fp8-fast","messages":[{"role":"user","content":"x"}],
            "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]})).unwrap();
        p.max_tokens = 100;
        let c: Value = serde_json::from_str(&chat_completion_from_output(
            &json!({"response":"{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}","tool_calls":[]}).to_string(), &ctx(), &p).unwrap()).unwrap();
        assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(c["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(
            c["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"Paris\"}"
        );
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
    fn stop_sequences_cut_the_answer() {
        let mut p = plan(json!({"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"x"}],"stop":["END","\n\n"]})).unwrap();
        p.max_tokens = 3;
        let c: Value = serde_json::from_str(&chat_completion_from_output(
            &json!({"response":"one two END three","usage":{"prompt_tokens":1,"completion_tokens":3}}).to_string(), &ctx(), &p).unwrap()).unwrap();
        assert_eq!(c["choices"][0]["message"]["content"], "one two ");
        assert_eq!(c["choices"][0]["finish_reason"], "stop");
        assert_eq!(first_stop("a\n\nb END", &p.stop), Some(1));
    }

    #[test]
    fn n_runs_become_n_choices_with_distinct_tool_call_ids() {
        let p = plan(json!({"model":"gpt-4","messages":[{"role":"user","content":"x"}]})).unwrap();
        let run = json!({"response":"","tool_calls":[{"name":"f","arguments":{}}],"usage":{"prompt_tokens":5,"completion_tokens":2}}).to_string();
        let c: Value = serde_json::from_str(
            &chat_completion_from_outputs(&[&run, &run], &ctx(), &p)
                .unwrap()
                .0,
        )
        .unwrap();
        assert_eq!(c["choices"][1]["index"], 1);
        assert_ne!(
            c["choices"][0]["message"]["tool_calls"][0]["id"],
            c["choices"][1]["message"]["tool_calls"][0]["id"]
        );
        assert_eq!(
            c["usage"],
            json!({"prompt_tokens":5,"completion_tokens":4,"total_tokens":9})
        );
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
