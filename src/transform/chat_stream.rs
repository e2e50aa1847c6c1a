//! Workers AI SSE → OpenAI `chat.completion.chunk` SSE, translated chunk by chunk.
//!
//! Every text family is read by one frame reader that recognises the frame by its fields:
//! legacy `{"response": "...", "tool_calls": [...], "usage": {...}}`, OpenAI-native
//! `{"choices": [{"delta": {...}}]}`, and Responses-style events `{"type": "response.…"}`.
//! Frames are parsed into borrowed strings, never into `serde_json::Value` trees.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::chat::{
    estimate_tokens, finish_reason, parse_text_output, recover_leaked_tool_calls, tool_call_id,
    tool_call_parts, CompletionContext, UpstreamUsage,
};
use super::chat_request::ChatPlan;
use super::openai::{
    ChatChunk, ChatCompletion, ChunkChoice, Delta, FinishReason, FunctionDelta, TextChoice,
    TextCompletion, ToolCallDelta, Usage,
};
use super::responses::ResponseEcho;
use super::responses_stream::ResponseEvents;
use super::sse::SseDecoder;
use super::text_filters::{LeakedCallGuard, StopScanner, ThinkSplitter};
use crate::error::{upstream_error_from_message, GatewayError};

/// Most tool calls one streamed answer may carry.
const MAX_TOOL_CALLS: u32 = 128;

/// Settings for one translated stream.
#[derive(Debug, Clone)]
pub struct ChatStreamOptions {
    pub ctx: CompletionContext,
    pub include_usage: bool,
    /// The `max_tokens` sent upstream, to report `finish_reason: "length"`.
    pub max_tokens: u32,
    /// Prompt size estimate, used only if upstream reports no usage.
    pub prompt_tokens_estimate: u64,
    /// Names of the tools offered (see `chat::recover_leaked_tool_calls`).
    pub tool_names: Vec<String>,
    /// Stop sequences the gateway applies (models without a `stop` parameter).
    pub stop: Vec<String>,
    /// The model writes its reasoning in `<think>` tags inside the answer.
    pub split_think: bool,
    /// Chat chunks, or legacy `text_completion` chunks for `/v1/completions`.
    pub format: StreamFormat,
    /// Text sent before the answer (the prompt, for `/v1/completions` with `echo`).
    pub echo: String,
    /// Tool calls go out as a legacy `function_call` delta (the client offered `functions`).
    pub legacy_functions: bool,
}

impl ChatStreamOptions {
    /// The stream settings a planned chat request needs.
    pub fn for_chat(plan: &ChatPlan, ctx: CompletionContext) -> Self {
        ChatStreamOptions {
            prompt_tokens_estimate: prompt_tokens_estimate(&plan.upstream_input),
            ctx,
            include_usage: plan.include_usage,
            max_tokens: plan.max_tokens,
            tool_names: plan.tool_names.clone(),
            stop: plan.stop.clone(),
            split_think: plan.splits_think_tags(),
            format: StreamFormat::ChatCompletion,
            echo: String::new(),
            legacy_functions: plan.legacy_functions,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StreamFormat {
    #[default]
    ChatCompletion,
    TextCompletion,
}

/// The translator: feed it upstream bytes, get OpenAI SSE bytes back.
pub struct ChatStream {
    decoder: SseDecoder,
    writer: ChunkWriter,
}

impl ChatStream {
    pub fn new(mut options: ChatStreamOptions) -> Self {
        let echo = std::mem::take(&mut options.echo);
        let mut writer = ChunkWriter::new(options);
        writer.emit_content(&echo);
        ChatStream {
            decoder: SseDecoder::new(),
            writer,
        }
    }

    /// The same translation, written as Responses API events.
    pub fn responses(options: ChatStreamOptions, echo: ResponseEcho) -> Self {
        let events = ResponseEvents::new(options.ctx.clone(), echo);
        let mut stream = ChatStream::new(options);
        stream.writer.responses = Some(Box::new(events));
        stream
    }

    /// The finished `response` JSON of a completed Responses stream (to store it).
    pub fn finished_response(&self) -> Option<&str> {
        self.writer
            .responses
            .as_ref()
            .and_then(|events| events.finished_response())
    }

    /// Token counts: upstream's when it sent them, else the estimate the final chunk carries
    /// (known once the stream ended).
    pub fn usage(&self) -> Option<Usage> {
        self.writer.usage
    }

    // push, finish and fail return the bytes to send, valid until the next call: the output
    // buffer is reused, so a long stream does not allocate a new one per chunk.

    /// Translates the next piece of the upstream stream.
    pub fn push(&mut self, bytes: &[u8]) -> &[u8] {
        self.writer.begin();
        if !self.writer.ended {
            let writer = &mut self.writer;
            if let Err(err) = self.decoder.feed(bytes, |data| writer.on_data(data)) {
                self.writer.fail(&GatewayError::Upstream {
                    code: None,
                    message: err.to_string(),
                });
            }
        }
        self.writer.hand_out()
    }

    /// Upstream ended: flush and close the stream properly.
    pub fn finish(&mut self) -> &[u8] {
        self.writer.begin();
        let writer = &mut self.writer;
        self.decoder.finish(|data| writer.on_data(data));
        self.writer.end();
        self.writer.hand_out()
    }

    /// Upstream failed mid-stream: an OpenAI error event, then the end.
    pub fn fail(&mut self, upstream_message: &str) -> &[u8] {
        self.writer.begin();
        self.writer
            .fail(&upstream_error_from_message(upstream_message));
        self.writer.hand_out()
    }

    /// Upstream answered a whole JSON document instead of a stream (some models do): emit it as
    /// a complete stream.
    pub fn whole_output(&mut self, output_json: &str) -> Result<Vec<u8>, GatewayError> {
        let output = parse_text_output(output_json)?;
        let (message, finish, usage) = super::chat::assistant_message(
            output,
            &self.writer.options.ctx,
            &self.writer.options.tool_names,
        )?;
        let w = &mut self.writer;
        w.usage = usage;
        w.upstream_finish = finish.as_deref().map(FinishReason::from_upstream);
        if let Some(reasoning) = message.reasoning_content.as_deref() {
            w.reasoning(reasoning);
        }
        if let Some(content) = message.content.as_deref() {
            w.content(content);
        }
        for (index, call) in message.tool_calls.iter().enumerate() {
            w.tool_call_fragment(
                Some(index as u32),
                Some(&call.id),
                Some(&call.function.name),
                &call.function.arguments,
            );
        }
        w.begin();
        w.end();
        Ok(w.hand_out().to_vec())
    }
}

/// A finished completion as a stream: each choice whole in one delta, then its finish reason;
/// usage if asked; `[DONE]`. For `n` > 1, whose runs are not streamed one by one.
pub fn stream_of_completion(completion: &ChatCompletion, include_usage: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut write = |choices: &[ChunkChoice], usage: Option<Usage>| {
        let chunk = ChatChunk {
            id: completion.id,
            object: "chat.completion.chunk",
            created: completion.created,
            model: completion.model,
            choices,
            usage,
        };
        out.extend_from_slice(b"data: ");
        // Writing plain structs to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, &chunk);
        out.extend_from_slice(b"\n\n");
    };
    for choice in &completion.choices {
        let message = &choice.message;
        let calls: Vec<ToolCallDelta> = message
            .tool_calls
            .iter()
            .enumerate()
            .map(|(index, call)| ToolCallDelta {
                index: index as u32,
                id: Some(&call.id),
                kind: Some("function"),
                function: FunctionDelta {
                    name: Some(&call.function.name),
                    arguments: &call.function.arguments,
                },
            })
            .collect();
        let delta = Delta {
            role: Some("assistant"),
            content: message.content.as_deref(),
            reasoning_content: message.reasoning_content.as_deref(),
            tool_calls: (!calls.is_empty()).then_some(calls.as_slice()),
            function_call: message.function_call.as_ref().map(|call| FunctionDelta {
                name: Some(&call.name),
                arguments: &call.arguments,
            }),
        };
        for (delta, finish_reason) in [
            (delta, None),
            (Delta::default(), Some(choice.finish_reason)),
        ] {
            let chunk_choice = ChunkChoice {
                index: choice.index,
                delta,
                finish_reason,
                logprobs: None,
            };
            write(std::slice::from_ref(&chunk_choice), None);
        }
    }
    if include_usage {
        write(&[], Some(completion.usage));
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    out
}

struct ChunkWriter {
    options: ChatStreamOptions,
    filters: ContentFilters,
    /// Bytes for the client. Reused: cleared once its contents have been handed out.
    out: Vec<u8>,
    handed_out: bool,
    sent_role: bool,
    ended: bool,
    /// Tool calls started so far (their indexes are 0..tool_calls).
    tool_calls: u32,
    content_chars: u64,
    usage: Option<Usage>,
    upstream_finish: Option<FinishReason>,
    /// Set for `/v1/responses`: output goes out as Responses events instead of chunks.
    responses: Option<Box<ResponseEvents>>,
    /// Upstream Responses events name calls by output index: (output_index, our call index).
    upstream_call_indexes: Vec<(u64, u32)>,
    /// Text-only chunks pre-serialised around their text, by `TextField`: made on first use,
    /// and kept as `None` when that chunk has no template.
    text_templates: [OnceCell<Option<ChunkTemplate>>; 2],
}

/// The text a chunk carries when it carries nothing else (most chunks of a stream).
#[derive(Debug, Clone, Copy)]
enum TextField {
    Content = 0,
    Reasoning = 1,
}

impl Delta<'_> {
    fn only_text(&self) -> Option<(TextField, &str)> {
        if self.role.is_some() || self.tool_calls.is_some() || self.function_call.is_some() {
            return None;
        }
        match (self.content, self.reasoning_content) {
            (Some(text), None) => Some((TextField::Content, text)),
            (None, Some(text)) => Some((TextField::Reasoning, text)),
            _ => None,
        }
    }
}

/// A chunk serialised once with an empty text, split around that text: writing the next text
/// chunk is then a copy and the text's JSON escaping, not a serialisation of the whole chunk.
struct ChunkTemplate {
    before: Vec<u8>,
    after: Vec<u8>,
}

impl ChunkTemplate {
    /// Splits `whole` at the empty value of its last `"key":""`. Ids and model names cannot
    /// hold that text unescaped, and the text field comes after them.
    fn around_empty(whole: Vec<u8>, key: &str) -> Option<Self> {
        let marker = format!("\"{key}\":\"\"");
        let at = whole
            .windows(marker.len())
            .rposition(|window| window == marker.as_bytes())?;
        let value = at + marker.len() - 2;
        Some(ChunkTemplate {
            before: whole.get(..value)?.to_vec(),
            after: whole.get(value + 2..)?.to_vec(),
        })
    }

    fn write(&self, text: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.before);
        // Writing a string to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
        out.extend_from_slice(&self.after);
    }
}

impl ChunkWriter {
    fn new(options: ChatStreamOptions) -> Self {
        ChunkWriter {
            filters: ContentFilters {
                think: options.split_think.then(ThinkSplitter::default),
                leaked_calls: (!options.tool_names.is_empty()).then(LeakedCallGuard::default),
                stop: StopScanner::new(options.stop.clone()),
            },
            options,
            out: Vec::with_capacity(512),
            handed_out: false,
            sent_role: false,
            ended: false,
            tool_calls: 0,
            content_chars: 0,
            usage: None,
            upstream_finish: None,
            responses: None,
            upstream_call_indexes: Vec::new(),
            text_templates: [OnceCell::new(), OnceCell::new()],
        }
    }

    /// Starts a call: forget the bytes the previous call handed out (keep anything written since).
    fn begin(&mut self) {
        if self.handed_out {
            self.out.clear();
            self.handed_out = false;
        }
    }

    fn hand_out(&mut self) -> &[u8] {
        self.handed_out = true;
        &self.out
    }

    fn on_data(&mut self, data: &[u8]) {
        if self.ended {
            return;
        }
        if data == b"[DONE]" {
            self.end();
            return;
        }
        // A frame we cannot read is dropped rather than ending the answer; the stream's
        // well-formed frames still make a valid completion.
        if let Ok(frame) = serde_json::from_slice::<Frame>(data) {
            self.on_frame(frame);
        }
    }

    fn on_frame(&mut self, frame: Frame<'_>) {
        if let Some(usage) = frame.usage.and_then(UpstreamUsage::to_usage) {
            self.usage = Some(usage);
        }
        match frame.response {
            Some(ResponseField::Text(text)) => self.content(&text),
            Some(ResponseField::Object { usage }) => {
                if let Some(usage) = usage.and_then(UpstreamUsage::to_usage) {
                    self.usage = Some(usage);
                }
            }
            None => {}
        }
        // Legacy frames carry whole calls `{name, arguments: {...}}`, OpenAI-style deltas
        // (`{index, id, function: {name}}` then `{index, function: {arguments}}`), or null
        // "finalisation" entries, which carry nothing and are skipped.
        for call in frame.tool_calls.iter().flatten() {
            self.value_tool_call(call);
        }
        if let Some(choice) = frame.choices.0 {
            if let Some(text) = choice.text {
                self.content(&text.0);
            }
            if let Some(delta) = choice.delta {
                if let Some(reasoning) = delta.reasoning_content.or(delta.reasoning) {
                    self.reasoning(&reasoning.0);
                }
                if let Some(content) = delta.content {
                    self.content(&content.0);
                }
                for call in delta.tool_calls.into_iter().flatten() {
                    let function = call.function.unwrap_or_default();
                    self.tool_call_fragment(
                        call.index,
                        call.id.as_ref().map(|id| id.0.as_ref()),
                        function.name.as_ref().map(|n| n.0.as_ref()),
                        function.arguments.as_ref().map_or("", |a| a.0.as_ref()),
                    );
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.upstream_finish = Some(FinishReason::from_upstream(&reason.0));
            }
        }
        if let Some(kind) = &frame.kind {
            let event = ResponsesEvent {
                delta: frame.delta.as_ref().map_or("", |d| d.0.as_ref()),
                item: frame.item.as_ref(),
                output_index: frame.output_index,
            };
            self.on_responses_event(kind.0.as_ref(), event);
        }
    }

    /// Responses-style events (gpt-oss given Responses input).
    fn on_responses_event(&mut self, kind: &str, frame: ResponsesEvent<'_>) {
        let delta = frame.delta;
        match kind {
            "response.output_text.delta" => self.content(delta),
            "response.reasoning_text.delta" | "response.reasoning.delta" => self.reasoning(delta),
            "response.output_item.added" => {
                let Some(item) = frame.item.as_ref() else {
                    return;
                };
                if item.get("type").and_then(Value::as_str) != Some("function_call") {
                    return;
                }
                let call_index = self.tool_calls;
                if let Some(output_index) = frame.output_index {
                    self.upstream_call_indexes.push((output_index, call_index));
                }
                self.tool_call_fragment(
                    Some(call_index),
                    item.get("call_id").and_then(Value::as_str),
                    item.get("name").and_then(Value::as_str),
                    item.get("arguments").and_then(Value::as_str).unwrap_or(""),
                );
            }
            "response.function_call_arguments.delta" => {
                let call_index = self
                    .upstream_call_indexes
                    .iter()
                    .find(|(output_index, _)| Some(*output_index) == frame.output_index)
                    .map(|(_, call_index)| *call_index);
                if let Some(call_index) = call_index {
                    self.tool_call_fragment(Some(call_index), None, None, delta);
                }
            }
            "response.incomplete" => self.upstream_finish = Some(FinishReason::Length),
            _ => {}
        }
    }

    /// A tool call (or a piece of one) given as JSON, in any of the forms `tool_call_parts` reads.
    fn value_tool_call(&mut self, call: &Value) {
        let parts = tool_call_parts(call);
        let index = call.get("index").and_then(Value::as_u64).map(|i| i as u32);
        self.tool_call_fragment(
            index,
            parts.id,
            parts.name,
            parts.arguments.as_deref().unwrap_or(""),
        );
    }

    /// One piece of a tool call: a new call (it has a name) or more of a call's arguments.
    fn tool_call_fragment(
        &mut self,
        index: Option<u32>,
        id: Option<&str>,
        name: Option<&str>,
        arguments: &str,
    ) {
        let name = name.filter(|n| !n.is_empty());
        let index = match (index, name) {
            (Some(index), _) => index,
            (None, Some(_)) => self.tool_calls,
            (None, None) => self.tool_calls.saturating_sub(1),
        };
        // An absurd index from upstream would make every later structure huge: drop it.
        if index >= MAX_TOOL_CALLS {
            return;
        }
        if index >= self.tool_calls {
            // A new call: OpenAI clients need id, type and name on its first delta.
            let Some(name) = name else { return };
            let id = id
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .unwrap_or_else(|| tool_call_id(&self.options.ctx.id, index as usize));
            self.tool_call_delta(index, Some(&id), Some(name), arguments);
        } else if !arguments.is_empty() {
            self.tool_call_delta(index, None, None, arguments);
        }
    }

    /// Answer text from upstream: `<think>` splitting, the leaked-call guard, stop sequences,
    /// then out. A stage with nothing to do passes the text on without copying it.
    fn content(&mut self, text: &str) {
        match self.filters.think.as_mut() {
            Some(think) => {
                let routed = think.feed(text);
                self.reasoning(&routed.reasoning);
                self.filtered_content(&routed.content);
            }
            None => self.filtered_content(text),
        }
    }

    fn filtered_content(&mut self, text: &str) {
        let text = match self.filters.leaked_calls.as_mut() {
            Some(guard) if !guard.is_passing_through() => Cow::Owned(guard.feed(text)),
            _ => Cow::Borrowed(text),
        };
        let text = self.filters.stop.feed(&text);
        self.emit_content(&text);
    }

    /// Releases what the filters held back, at the end of the stream.
    fn flush_filters(&mut self) {
        if let Some(routed) = self.filters.think.as_mut().map(ThinkSplitter::finish) {
            self.reasoning(&routed.reasoning);
            self.filtered_content(&routed.content);
        }
        if let Some(held) = self
            .filters
            .leaked_calls
            .as_mut()
            .map(LeakedCallGuard::finish)
        {
            let (text, calls) = recover_leaked_tool_calls(&held, &self.options.tool_names);
            let text = self.filters.stop.feed(&text);
            self.emit_content(&text);
            for call in &calls {
                self.value_tool_call(call);
            }
        }
        let tail = self.filters.stop.finish();
        self.emit_content(&tail);
    }

    fn emit_content(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.content_chars += text.chars().count() as u64;
        self.delta(Delta {
            content: Some(text),
            ..Delta::default()
        });
    }

    fn reasoning(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.delta(Delta {
            reasoning_content: Some(text),
            ..Delta::default()
        });
    }

    fn tool_call_delta(
        &mut self,
        index: u32,
        id: Option<&str>,
        name: Option<&str>,
        arguments: &str,
    ) {
        if id.is_some() {
            self.tool_calls = self.tool_calls.max(index + 1);
        }
        if let Some(events) = self.responses.as_mut() {
            match (id, name) {
                (Some(id), Some(name)) => {
                    events.call_started(index, id, name, arguments, &mut self.out)
                }
                _ => events.call_arguments(index, arguments, &mut self.out),
            }
            return;
        }
        if self.options.legacy_functions {
            // The legacy shape holds one call: later ones are dropped.
            if index == 0 {
                self.delta(Delta {
                    function_call: Some(FunctionDelta { name, arguments }),
                    ..Delta::default()
                });
            }
            return;
        }
        let calls = [ToolCallDelta {
            index,
            id,
            kind: id.map(|_| "function"),
            function: FunctionDelta { name, arguments },
        }];
        self.delta(Delta {
            tool_calls: Some(&calls),
            ..Delta::default()
        });
    }

    fn delta(&mut self, mut delta: Delta<'_>) {
        if let Some(events) = self.responses.as_mut() {
            if let Some(reasoning) = delta.reasoning_content {
                events.reasoning(reasoning, &mut self.out);
            }
            if let Some(content) = delta.content {
                events.content(content, &mut self.out);
            }
            return;
        }
        if !self.sent_role {
            delta.role = Some("assistant");
            self.sent_role = true;
        }
        self.write_chunk(delta, None, None);
    }

    fn write_chunk(
        &mut self,
        delta: Delta<'_>,
        finish_reason: Option<FinishReason>,
        usage: Option<Usage>,
    ) {
        let mut out = std::mem::take(&mut self.out);
        match (delta.only_text(), finish_reason, usage) {
            (Some((field, text)), None, None) => match self.text_template(field) {
                Some(template) => template.write(text, &mut out),
                None => self.serialize_chunk(delta, None, None, &mut out),
            },
            _ => self.serialize_chunk(delta, finish_reason, usage, &mut out),
        }
        self.out = out;
    }

    /// The template for a chunk that carries only `field`'s text, made on first use from the
    /// chunk itself, so that both ways give the same bytes. None when that chunk sends nothing
    /// (legacy completions have no reasoning).
    fn text_template(&self, field: TextField) -> Option<&ChunkTemplate> {
        self.text_templates
            .get(field as usize)?
            .get_or_init(|| self.new_text_template(field))
            .as_ref()
    }

    fn new_text_template(&self, field: TextField) -> Option<ChunkTemplate> {
        let delta = match field {
            TextField::Content => Delta {
                content: Some(""),
                ..Delta::default()
            },
            TextField::Reasoning => Delta {
                reasoning_content: Some(""),
                ..Delta::default()
            },
        };
        let mut whole = Vec::new();
        self.serialize_chunk(delta, None, None, &mut whole);
        let key = match (self.options.format, field) {
            (StreamFormat::TextCompletion, _) => "text",
            (_, TextField::Content) => "content",
            (_, TextField::Reasoning) => "reasoning_content",
        };
        ChunkTemplate::around_empty(whole, key)
    }

    fn serialize_chunk(
        &self,
        delta: Delta<'_>,
        finish_reason: Option<FinishReason>,
        usage: Option<Usage>,
        out: &mut Vec<u8>,
    ) {
        if self.options.format == StreamFormat::TextCompletion {
            self.serialize_text_chunk(delta.content, finish_reason, usage, out);
            return;
        }
        let choices = [ChunkChoice {
            index: 0,
            delta,
            finish_reason,
            logprobs: None,
        }];
        let choices: &[ChunkChoice] = if usage.is_some() { &[] } else { &choices };
        let chunk = ChatChunk {
            id: &self.options.ctx.id,
            object: "chat.completion.chunk",
            created: self.options.ctx.created,
            model: &self.options.ctx.model,
            choices,
            usage,
        };
        out.extend_from_slice(b"data: ");
        // Writing plain structs to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &chunk);
        out.extend_from_slice(b"\n\n");
    }

    /// Legacy completions have only text: reasoning and role deltas are not sent.
    fn serialize_text_chunk(
        &self,
        text: Option<&str>,
        finish_reason: Option<FinishReason>,
        usage: Option<Usage>,
        out: &mut Vec<u8>,
    ) {
        if text.is_none() && finish_reason.is_none() && usage.is_none() {
            return;
        }
        let choices = [TextChoice {
            text: text.unwrap_or(""),
            index: 0,
            logprobs: None,
            finish_reason,
        }];
        let chunk = TextCompletion {
            id: &self.options.ctx.id,
            object: "text_completion",
            created: self.options.ctx.created,
            model: &self.options.ctx.model,
            choices: if usage.is_some() { &[] } else { &choices },
            usage,
        };
        out.extend_from_slice(b"data: ");
        let _ = serde_json::to_writer(&mut *out, &chunk);
        out.extend_from_slice(b"\n\n");
    }

    /// The end of a successful stream: finish reason once, usage if asked, `[DONE]`.
    fn end(&mut self) {
        if self.ended {
            return;
        }
        self.flush_filters();
        if self.filters.stop.is_stopped() {
            self.upstream_finish = Some(FinishReason::Stop);
        }
        if !self.sent_role {
            self.delta(Delta::default());
        }
        let usage = self.usage.unwrap_or_else(|| {
            Usage::new(
                self.options.prompt_tokens_estimate,
                self.content_chars.div_ceil(4),
            )
        });
        self.usage = Some(usage);
        let mut finish = finish_reason(
            self.tool_calls > 0,
            self.upstream_finish,
            usage.completion_tokens,
            self.options.max_tokens,
        );
        if self.options.legacy_functions && finish == FinishReason::ToolCalls {
            finish = FinishReason::FunctionCall;
        }
        if let Some(events) = self.responses.as_mut() {
            events.complete(finish, usage, &mut self.out);
            self.ended = true;
            return;
        }
        self.write_chunk(Delta::default(), Some(finish), None);
        if self.options.include_usage {
            self.write_chunk(Delta::default(), None, Some(usage));
        }
        self.out.extend_from_slice(b"data: [DONE]\n\n");
        self.ended = true;
    }

    fn fail(&mut self, error: &GatewayError) {
        if self.ended {
            return;
        }
        if let Some(events) = self.responses.as_mut() {
            events.failed(error, &mut self.out);
            self.ended = true;
            return;
        }
        self.out.extend_from_slice(b"data: ");
        self.out.extend_from_slice(error.to_json().as_bytes());
        self.out.extend_from_slice(b"\n\n");
        self.ended = true;
    }
}

/// The optional stages answer text passes through before it is sent.
struct ContentFilters {
    think: Option<ThinkSplitter>,
    leaked_calls: Option<LeakedCallGuard>,
    stop: StopScanner,
}

/// Estimate for streams whose upstream sends no usage.
pub fn prompt_tokens_estimate(upstream_input: &str) -> u64 {
    estimate_tokens(upstream_input)
}

// ---------- Frame reading ----------

/// One upstream frame, any family. Unknown fields (padding `p`, ids, …) are skipped.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(default, borrow)]
    response: Option<ResponseField<'a>>,
    #[serde(default)]
    tool_calls: Option<Vec<Value>>,
    #[serde(default)]
    usage: Option<UpstreamUsage>,
    #[serde(default, borrow)]
    choices: FirstChoice<'a>,
    #[serde(default, rename = "type", borrow)]
    kind: Option<Text<'a>>,
    #[serde(default, borrow)]
    delta: Option<Text<'a>>,
    /// Responses `output_item` events: the item (function calls matter).
    #[serde(default)]
    item: Option<Value>,
    #[serde(default)]
    output_index: Option<u64>,
}

/// The parts of a Responses-style event the translator reads.
struct ResponsesEvent<'f> {
    delta: &'f str,
    item: Option<&'f Value>,
    output_index: Option<u64>,
}

/// Legacy frames carry text in `response`; Responses-style events carry an object there.
enum ResponseField<'a> {
    Text(Cow<'a, str>),
    Object { usage: Option<UpstreamUsage> },
}

impl<'de: 'a, 'a> Deserialize<'de> for ResponseField<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ResponseField<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an object")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ResponseField::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ResponseField::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ResponseField::Text(Cow::Borrowed("")))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut usage = None;
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    if key.0 == "usage" {
                        usage = map.next_value::<Option<UpstreamUsage>>()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(ResponseField::Object { usage })
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A string borrowed from the frame when it has no escapes, owned otherwise.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// The first element of `choices` (we always ask for one), without allocating a Vec.
#[derive(Default)]
struct FirstChoice<'a>(Option<NativeChoice<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstChoice<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FirstChoice<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of choices")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FirstChoice(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<NativeChoice<'de>>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstChoice(first))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct NativeChoice<'a> {
    #[serde(default, borrow)]
    delta: Option<NativeDelta<'a>>,
    /// `text_completion` chunks carry their text here.
    #[serde(default, borrow)]
    text: Option<Text<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct NativeDelta<'a> {
    #[serde(default, borrow)]
    content: Option<Text<'a>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Text<'a>>,
    #[serde(default, borrow)]
    reasoning: Option<Text<'a>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<NativeToolCall<'a>>>,
}

#[derive(Deserialize)]
struct NativeToolCall<'a> {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default, borrow)]
    id: Option<Text<'a>>,
    #[serde(default, borrow)]
    function: Option<NativeFunction<'a>>,
}

#[derive(Default, Deserialize)]
struct NativeFunction<'a> {
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default, borrow)]
    arguments: Option<Text<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options(include_usage: bool) -> ChatStreamOptions {
        ChatStreamOptions {
            ctx: CompletionContext {
                id: "chatcmpl-1".into(),
                created: 7,
                model: "gpt-4".into(),
            },
            include_usage,
            max_tokens: 100,
            prompt_tokens_estimate: 3,
            tool_names: Vec::new(),
            stop: Vec::new(),
            split_think: false,
            format: StreamFormat::ChatCompletion,
            echo: String::new(),
            legacy_functions: false,
        }
    }

    #[test]
    fn text_chunks_from_templates_are_the_chunks_serde_writes() {
        let texts = [
            "",
            "plain",
            "quote \" back\\slash",
            "line\nbreak\ttab\u{1}",
            "é 日本 🎉",
            "\"content\":\"\"",
        ];
        for format in [StreamFormat::ChatCompletion, StreamFormat::TextCompletion] {
            let mut options = options(false);
            options.format = format;
            options.ctx.model = "m\"content\":\"\"".into(); // a client-chosen name with the marker
            let writer = ChunkWriter::new(options);
            for field in [TextField::Content, TextField::Reasoning] {
                for text in texts {
                    let delta = match field {
                        TextField::Content => Delta {
                            content: Some(text),
                            ..Delta::default()
                        },
                        TextField::Reasoning => Delta {
                            reasoning_content: Some(text),
                            ..Delta::default()
                        },
                    };
                    let mut serialized = Vec::new();
                    writer.serialize_chunk(delta, None, None, &mut serialized);
                    let mut templated = Vec::new();
                    if let Some(template) = writer.text_template(field) {
                        template.write(text, &mut templated);
                    }
                    assert_eq!(
                        String::from_utf8(templated).unwrap(),
                        String::from_utf8(serialized).unwrap(),
                        "{format:?} {field:?} {text:?}"
                    );
                }
            }
        }
    }

    /// Runs the translator over `input` cut into `piece`-byte chunks.
    fn translate(input: &str, piece: usize, include_usage: bool) -> String {
        let mut stream = ChatStream::new(options(include_usage));
        let mut out = Vec::new();
        for chunk in input.as_bytes().chunks(piece.max(1)) {
            out.extend(stream.push(chunk));
        }
        out.extend(stream.finish());
        String::from_utf8(out).unwrap()
    }

    fn events(sse: &str) -> Vec<Value> {
        sse.split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .map(|d| {
                if d == "[DONE]" {
                    json!("[DONE]")
                } else {
                    serde_json::from_str(d).unwrap()
                }
            })
            .collect()
    }

    const LEGACY: &str = concat!(
        "data: {\"response\":\"Hel\",\"p\":\"abcdef\"}\n\n",
        ": heartbeat\n\n",
        "data: {\"response\":\"lo \\\"w\\u00e9\\\"\",\"p\":\"x\"}\n\n",
        "data: {\"response\":\"\",\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2,\"total_tokens\":6}}\n\n",
        "data: [DONE]\n\n"
    );

    #[test]
    fn legacy_stream_is_split_invariant() {
        let whole = translate(LEGACY, LEGACY.len(), true);
        for piece in 1..LEGACY.len() {
            assert_eq!(translate(LEGACY, piece, true), whole, "piece {piece}");
        }
        let ev = events(&whole);
        assert_eq!(
            ev[0]["choices"][0]["delta"],
            json!({"role":"assistant","content":"Hel"})
        );
        assert_eq!(ev[1]["choices"][0]["delta"]["content"], "lo \"wé\"");
        assert_eq!(ev[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(ev[3]["choices"], json!([]));
        assert_eq!(ev[3]["usage"]["total_tokens"], 6);
        assert_eq!(ev[4], "[DONE]");
        assert_eq!(ev.len(), 5);
        for e in &ev[..4] {
            assert_eq!(e["object"], "chat.completion.chunk");
            assert_eq!(e["id"], "chatcmpl-1");
            assert_eq!(e["model"], "gpt-4");
        }
    }

    #[test]
    fn usage_only_when_asked_and_finish_once_without_done() {
        let no_done = LEGACY.replace("data: [DONE]\n\n", "");
        let ev = events(&translate(&no_done, 5, false));
        assert_eq!(ev.len(), 4);
        let finishes = ev
            .iter()
            .filter(|e| !e["choices"][0]["finish_reason"].is_null() && e != &&json!("[DONE]"))
            .count();
        assert_eq!(finishes, 1);
        assert!(ev.iter().all(|e| e.get("usage").is_none()));
    }

    #[test]
    fn legacy_tool_calls_stream_as_openai_deltas() {
        let input = "data: {\"response\":\"\",\"tool_calls\":[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}]}\n\ndata: {\"tool_calls\":[{\"id\":null,\"type\":null,\"function\":{\"name\":null,\"arguments\":null}}]}\n\ndata: [DONE]\n\n";
        let ev = events(&translate(input, 7, false));
        let call = &ev[0]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(call["index"], 0);
        assert_eq!(call["type"], "function");
        assert_eq!(call["function"]["name"], "get_weather");
        assert_eq!(call["function"]["arguments"], "{\"city\":\"Paris\"}");
        assert!(call["id"].as_str().unwrap().starts_with("call_"));
        assert_eq!(ev[1]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(ev.len(), 3);
    }

    const NATIVE: &str = concat!(
        "data: {\"id\":\"u\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"@cf/qwen/qwen3-30b-a3b-fp8\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"reasoning_content\":\"hmm\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"u\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"u\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"chatcmpl-tool-9\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"u\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"u\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: {\"id\":\"u\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\n",
        "data: [DONE]\n\n"
    );

    #[test]
    fn native_stream_keeps_reasoning_and_tool_call_fragments() {
        let whole = translate(NATIVE, NATIVE.len(), true);
        for piece in [1, 2, 3, 13, 64] {
            assert_eq!(translate(NATIVE, piece, true), whole, "piece {piece}");
        }
        let ev = events(&whole);
        assert_eq!(
            ev[0]["choices"][0]["delta"],
            json!({"role":"assistant","reasoning_content":"hmm"})
        );
        assert_eq!(ev[1]["choices"][0]["delta"], json!({"content":"Hi"}));
        let first = &ev[2]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(first["id"], "chatcmpl-tool-9");
        assert_eq!(first["function"]["name"], "f");
        assert_eq!(first["function"]["arguments"], "");
        let args: String = ev[3..5]
            .iter()
            .map(|e| {
                e["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(args, "{\"a\":1}");
        assert!(ev[3]["choices"][0]["delta"]["tool_calls"][0]
            .get("id")
            .is_none());
        assert_eq!(ev[5]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(ev[6]["usage"]["total_tokens"], 8);
        assert_eq!(ev[7], "[DONE]");
    }

    #[test]
    fn failure_midway_is_an_error_event_and_the_end() {
        let mut stream = ChatStream::new(options(false));
        let mut out = stream.push(b"data: {\"response\":\"a\"}\n\n").to_vec();
        out.extend(stream.fail("3040: Capacity temporarily exceeded"));
        out.extend(stream.push(b"data: {\"response\":\"b\"}\n\n"));
        out.extend(stream.finish());
        let ev = events(&String::from_utf8(out).unwrap());
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[1]["error"]["code"], "rate_limit_exceeded");
    }

    #[test]
    fn an_absurd_tool_call_index_is_dropped() {
        let input = "data: {\"tool_calls\":[{\"index\":4294967295,\"id\":\"c\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}\n\ndata: [DONE]\n\n";
        let ev = events(&translate(input, 7, false));
        assert!(ev
            .iter()
            .all(|e| e["choices"][0]["delta"]["tool_calls"].is_null()));
        assert_eq!(ev[ev.len() - 2]["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn garbage_frames_are_skipped_and_length_is_reported() {
        let mut opts = options(false);
        opts.max_tokens = 2;
        let mut stream = ChatStream::new(opts);
        let mut out = stream.push(b"data: {not json\n\ndata: {\"response\":\"a b\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n").to_vec();
        out.extend(stream.finish());
        let ev = events(&String::from_utf8(out).unwrap());
        assert_eq!(ev[0]["choices"][0]["delta"]["content"], "a b");
        assert_eq!(ev[1]["choices"][0]["finish_reason"], "length");
        assert_eq!(ev[2], "[DONE]");
    }

    #[test]
    fn a_whole_json_answer_becomes_a_stream() {
        let mut stream = ChatStream::new(options(true));
        let out = stream
            .whole_output(&json!({"response":"Hi","usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}).to_string())
            .unwrap();
        let ev = events(&String::from_utf8(out).unwrap());
        assert_eq!(ev[0]["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(ev[1]["choices"][0]["finish_reason"], "stop");
        assert_eq!(ev[2]["usage"]["total_tokens"], 2);
        assert_eq!(ev[3], "[DONE]");
    }

    fn translate_with(options: ChatStreamOptions, input: &str, piece: usize) -> Vec<Value> {
        let mut stream = ChatStream::new(options);
        let mut out = Vec::new();
        for chunk in input.as_bytes().chunks(piece) {
            out.extend(stream.push(chunk));
        }
        out.extend(stream.finish());
        events(&String::from_utf8(out).unwrap())
    }

    fn legacy_frames(tokens: &[&str]) -> String {
        tokens
            .iter()
            .map(|t| format!("data: {}\n\n", json!({"response": t})))
            .chain(["data: [DONE]\n\n".to_owned()])
            .collect()
    }

    fn joined(ev: &[Value], field: &str) -> String {
        ev.iter()
            .filter_map(|e| e["choices"][0]["delta"][field].as_str())
            .collect()
    }

    #[test]
    fn think_tags_become_reasoning_deltas() {
        let input = legacy_frames(&["<thi", "nk>Hmm", ", yes</th", "ink>\n\nFour", "."]);
        let mut opts = options(false);
        opts.split_think = true;
        for piece in [1, 5, 1000] {
            let ev = translate_with(opts.clone(), &input, piece);
            assert_eq!(joined(&ev, "reasoning_content"), "Hmm, yes");
            assert_eq!(joined(&ev, "content"), "Four.");
        }
    }

    #[test]
    fn stop_sequences_end_a_stream() {
        let input = legacy_frames(&["one ", "two E", "ND three"]);
        let mut opts = options(false);
        opts.stop = vec!["END".into()];
        opts.max_tokens = 1;
        let ev = translate_with(opts, &input, 3);
        assert_eq!(joined(&ev, "content"), "one two ");
        let finish: Vec<_> = ev
            .iter()
            .filter_map(|e| e["choices"][0]["finish_reason"].as_str())
            .collect();
        assert_eq!(finish, vec!["stop"]);
    }

    #[test]
    fn leaked_tool_calls_in_a_stream_become_tool_calls() {
        let input = legacy_frames(&[
            "{\"name\": \"get_",
            "weather\", \"parameters\": {\"city\": \"Paris\"}}",
        ]);
        let mut opts = options(false);
        opts.tool_names = vec!["get_weather".into()];
        let ev = translate_with(opts.clone(), &input, 4);
        assert_eq!(joined(&ev, "content"), "");
        let call = &ev[0]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(call["function"]["name"], "get_weather");
        assert_eq!(call["function"]["arguments"], "{\"city\":\"Paris\"}");
        assert_eq!(ev[1]["choices"][0]["finish_reason"], "tool_calls");
        // Ordinary text with tools offered still streams token by token.
        let ev = translate_with(opts, &legacy_frames(&["Hello", " there"]), 1000);
        assert_eq!(ev[0]["choices"][0]["delta"]["content"], "Hello");
        assert_eq!(ev[1]["choices"][0]["delta"]["content"], " there");
    }

    #[test]
    fn legacy_frames_with_openai_style_tool_call_deltas() {
        let input = concat!(
            "data: {\"response\":\"\",\"tool_calls\":[{\"id\":\"abc\",\"type\":\"function\",\"index\":0,\"function\":{\"name\":\"get_weather\"}}]}\n\n",
            "data: {\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"location\\\":\"}}]}\n\n",
            "data: {\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}\n\n",
            "data: {\"tool_calls\":[{\"id\":null,\"type\":null,\"function\":{\"name\":null,\"arguments\":null}}]}\n\n",
            "data: {\"response\":\"\",\"tool_calls\":[{\"name\":\"second\",\"arguments\":{}}]}\n\n",
            "data: [DONE]\n\n"
        );
        let ev = events(&translate(input, 11, false));
        let args: String = ev
            .iter()
            .filter_map(|e| {
                e["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            })
            .collect();
        assert_eq!(ev[0]["choices"][0]["delta"]["tool_calls"][0]["id"], "abc");
        assert!(args.starts_with("{\"location\":\"Paris\"}"));
        let second = &ev[3]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(second["index"], 1);
        assert_eq!(second["function"]["name"], "second");
        assert_eq!(second["function"]["arguments"], "{}");
        assert_eq!(ev[4]["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn echo_comes_first_and_the_buffer_is_reused() {
        let mut opts = options(false);
        opts.format = StreamFormat::TextCompletion;
        opts.echo = "Say hi.".into();
        let mut stream = ChatStream::new(opts);
        let first =
            String::from_utf8(stream.push(b"data: {\"response\":\" w1\"}\n\n").to_vec()).unwrap();
        let ev = events(&first);
        assert_eq!(ev[0]["choices"][0]["text"], "Say hi.");
        assert_eq!(ev[1]["choices"][0]["text"], " w1");
        let second = stream.push(b"data: {\"response\":\" w2\"}\n\n").to_vec();
        assert_eq!(
            events(&String::from_utf8(second).unwrap()).len(),
            1,
            "handed-out bytes are not repeated"
        );
    }

    #[test]
    fn responses_style_events_are_read() {
        let input = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Yo\"}\n\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"usage\":{\"input_tokens\":2,\"output_tokens\":1,\"total_tokens\":3}}}\n\n";
        let ev = events(&translate(input, 9, true));
        assert_eq!(ev[0]["choices"][0]["delta"]["content"], "Yo");
        assert_eq!(ev[2]["usage"]["total_tokens"], 3);
    }
}
