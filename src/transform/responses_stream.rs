//! Responses API event streams. The chat stream translator reads every family's upstream frames;
//! this writer turns what it finds (reasoning text, answer text, tool-call fragments, the end)
//! into Responses events: `response.created` … `response.completed`, each with its
//! `sequence_number`, item ids, `output_index` and `content_index`.

use serde::Serialize;
use serde_json::{json, Value};

use super::chat::CompletionContext;
use super::openai::{FinishReason, Usage};
use super::responses::{
    item_id, response_object, status_of, ItemStatus, OutputItem, ResponseEcho, ResponseError,
    ResponseStatus, ResponseUsage, TextContent,
};
use crate::error::GatewayError;

/// The event writer for one response.
#[derive(Debug)]
pub struct ResponseEvents {
    ctx: CompletionContext,
    echo: ResponseEcho,
    sequence_number: u64,
    started: bool,
    /// The output so far; the open item's text grows in place. `response.completed` carries the
    /// whole output, so it is kept (as OpenAI's own stream implies).
    items: Vec<OutputItem>,
    /// The item still receiving deltas.
    open: Option<usize>,
    /// Output index of each tool call, by the chat translator's call index.
    calls: Vec<usize>,
    /// The finished `response` object, once the stream completed.
    finished: Option<String>,
}

/// A delta event: the hot path, so a plain struct rather than a `json!` value.
#[derive(Serialize)]
struct DeltaEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_index: Option<u32>,
    delta: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    logprobs: Option<[(); 0]>,
}

impl ResponseEvents {
    pub fn new(ctx: CompletionContext, echo: ResponseEcho) -> Self {
        ResponseEvents {
            ctx,
            echo,
            sequence_number: 0,
            started: false,
            items: Vec::new(),
            open: None,
            calls: Vec::new(),
            finished: None,
        }
    }

    /// The finished `response` JSON (for storing), after `complete`.
    pub fn finished_response(&self) -> Option<&str> {
        self.finished.as_deref()
    }

    pub fn reasoning(&mut self, text: &str, out: &mut Vec<u8>) {
        if text.is_empty() {
            return;
        }
        let index = self.open_text_item(true, out);
        if let Some(OutputItem::Reasoning { id, content, .. }) = self.items.get_mut(index) {
            if let Some(TextContent::ReasoningText { text: all }) = content.first_mut() {
                all.push_str(text);
            }
            let event = DeltaEvent {
                kind: "response.reasoning_text.delta",
                sequence_number: self.sequence_number,
                item_id: id,
                output_index: index,
                content_index: Some(0),
                delta: text,
                logprobs: None,
            };
            write_event(out, event.kind, &event);
            self.sequence_number += 1;
        }
    }

    pub fn content(&mut self, text: &str, out: &mut Vec<u8>) {
        if text.is_empty() {
            return;
        }
        let index = self.open_text_item(false, out);
        if let Some(OutputItem::Message { id, content, .. }) = self.items.get_mut(index) {
            if let Some(TextContent::OutputText { text: all, .. }) = content.first_mut() {
                all.push_str(text);
            }
            let event = DeltaEvent {
                kind: "response.output_text.delta",
                sequence_number: self.sequence_number,
                item_id: id,
                output_index: index,
                content_index: Some(0),
                delta: text,
                logprobs: Some([]),
            };
            write_event(out, event.kind, &event);
            self.sequence_number += 1;
        }
    }

    /// The first fragment of tool call `call_index` (it carries the id and name).
    pub fn call_started(
        &mut self,
        call_index: u32,
        call_id: &str,
        name: &str,
        arguments: &str,
        out: &mut Vec<u8>,
    ) {
        self.start(out);
        self.close_open(out);
        let index = self.items.len();
        let item = OutputItem::FunctionCall {
            id: item_id("fc", &self.ctx, index),
            call_id: call_id.to_owned(),
            name: name.to_owned(),
            arguments: String::new(),
            status: ItemStatus::InProgress,
        };
        self.emit(
            "response.output_item.added",
            json!({"output_index": index, "item": item}),
            out,
        );
        self.items.push(item);
        self.open = Some(index);
        let slot = call_index as usize;
        if self.calls.len() <= slot {
            self.calls.resize(slot + 1, index);
        }
        if let Some(entry) = self.calls.get_mut(slot) {
            *entry = index;
        }
        self.call_arguments(call_index, arguments, out);
    }

    /// More of tool call `call_index`'s arguments.
    pub fn call_arguments(&mut self, call_index: u32, arguments: &str, out: &mut Vec<u8>) {
        if arguments.is_empty() {
            return;
        }
        let Some(&index) = self.calls.get(call_index as usize) else {
            return;
        };
        if let Some(OutputItem::FunctionCall {
            id, arguments: all, ..
        }) = self.items.get_mut(index)
        {
            all.push_str(arguments);
            let event = DeltaEvent {
                kind: "response.function_call_arguments.delta",
                sequence_number: self.sequence_number,
                item_id: id,
                output_index: index,
                content_index: None,
                delta: arguments,
                logprobs: None,
            };
            write_event(out, event.kind, &event);
            self.sequence_number += 1;
        }
    }

    /// The end of a successful answer: close what is open, then `response.completed` (or
    /// `response.incomplete` when the output limit cut it).
    pub fn complete(&mut self, finish: FinishReason, usage: Usage, out: &mut Vec<u8>) {
        self.start(out);
        let status = status_of(finish);
        if status == ResponseStatus::Incomplete {
            // The cut item is incomplete; the others finished.
            if let Some(OutputItem::Message { status, .. }) =
                self.open.and_then(|index| self.items.get_mut(index))
            {
                *status = ItemStatus::Incomplete;
            }
        }
        self.close_open(out);
        let response = response_object(
            &self.ctx,
            &self.echo,
            status,
            &self.items,
            Some(ResponseUsage::from(usage)),
            self.ctx.created,
        );
        let response = serde_json::to_string(&response).unwrap_or_else(|_| "null".into());
        let kind = match status {
            ResponseStatus::Incomplete => "response.incomplete",
            _ => "response.completed",
        };
        self.emit_response(kind, &response, out);
        self.finished = Some(response);
    }

    /// Upstream failed after the stream began: `response.failed`, carrying the error.
    pub fn failed(&mut self, error: &GatewayError, out: &mut Vec<u8>) {
        self.start(out);
        let mut response = response_object(
            &self.ctx,
            &self.echo,
            ResponseStatus::Failed,
            &self.items,
            None,
            self.ctx.created,
        );
        response.error = Some(ResponseError {
            code: match error.status() {
                429 => "rate_limit_exceeded",
                _ => "server_error",
            },
            message: error.to_string(),
        });
        let response = serde_json::to_string(&response).unwrap_or_else(|_| "null".into());
        self.emit_response("response.failed", &response, out);
    }

    /// `response.created` and `response.in_progress`, before the first output.
    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = response_object(
            &self.ctx,
            &self.echo,
            ResponseStatus::InProgress,
            &[],
            None,
            self.ctx.created,
        );
        let response = serde_json::to_string(&response).unwrap_or_else(|_| "null".into());
        self.emit_response("response.created", &response, out);
        self.emit_response("response.in_progress", &response, out);
    }

    /// An event carrying the `response` object, already serialised once for all its uses.
    fn emit_response(&mut self, kind: &'static str, response_json: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\ndata: {\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"sequence_number\":");
        out.extend_from_slice(self.sequence_number.to_string().as_bytes());
        out.extend_from_slice(b",\"response\":");
        out.extend_from_slice(response_json.as_bytes());
        out.extend_from_slice(b"}\n\n");
        self.sequence_number += 1;
    }

    /// The open reasoning item (or message), opening one after closing whatever else was open.
    fn open_text_item(&mut self, reasoning: bool, out: &mut Vec<u8>) -> usize {
        self.start(out);
        if let Some(index) = self.open {
            let same = matches!(
                (self.items.get(index), reasoning),
                (Some(OutputItem::Reasoning { .. }), true)
                    | (Some(OutputItem::Message { .. }), false)
            );
            if same {
                return index;
            }
        }
        self.close_open(out);
        let index = self.items.len();
        let (item, part) = if reasoning {
            let id = item_id("rs", &self.ctx, index);
            let part = TextContent::ReasoningText {
                text: String::new(),
            };
            let item = OutputItem::Reasoning {
                id,
                summary: [],
                content: vec![part.clone()],
                status: ItemStatus::InProgress,
            };
            (item, part)
        } else {
            let part = TextContent::output_text(String::new());
            let item = OutputItem::Message {
                id: item_id("msg", &self.ctx, index),
                status: ItemStatus::InProgress,
                role: "assistant",
                content: vec![part.clone()],
            };
            (item, part)
        };
        let mut announced = serde_json::to_value(&item).unwrap_or(Value::Null);
        if let Some(content) = announced.get_mut("content") {
            *content = json!([]);
        }
        let item_id = announced.get("id").cloned().unwrap_or(Value::Null);
        self.emit(
            "response.output_item.added",
            json!({"output_index": index, "item": announced}),
            out,
        );
        self.emit(
            "response.content_part.added",
            json!({"item_id": item_id, "output_index": index, "content_index": 0, "part": part}),
            out,
        );
        self.items.push(item);
        self.open = Some(index);
        index
    }

    /// Closes the open item: its `.done` events with the whole text, then `output_item.done`.
    fn close_open(&mut self, out: &mut Vec<u8>) {
        let Some(index) = self.open.take() else {
            return;
        };
        let Some(item) = self.items.get_mut(index) else {
            return;
        };
        let mut events: Vec<(&'static str, Value)> = Vec::with_capacity(3);
        match item {
            OutputItem::Reasoning {
                id,
                content,
                status,
                ..
            } => {
                *status = ItemStatus::Completed;
                let part = content.first();
                let text = match part {
                    Some(TextContent::ReasoningText { text }) => text.as_str(),
                    _ => "",
                };
                events.push((
                    "response.reasoning_text.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "text": text}),
                ));
                events.push((
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "part": part}),
                ));
            }
            OutputItem::Message {
                id,
                content,
                status,
                ..
            } => {
                if *status == ItemStatus::InProgress {
                    *status = ItemStatus::Completed;
                }
                let part = content.first();
                let text = match part {
                    Some(TextContent::OutputText { text, .. }) => text.as_str(),
                    _ => "",
                };
                events.push(("response.output_text.done", json!({"item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []})));
                events.push((
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "part": part}),
                ));
            }
            OutputItem::FunctionCall {
                id,
                name,
                arguments,
                status,
                ..
            } => {
                *status = ItemStatus::Completed;
                events.push(("response.function_call_arguments.done", json!({"item_id": id, "output_index": index, "name": name, "arguments": arguments})));
            }
        }
        events.push((
            "response.output_item.done",
            json!({"output_index": index, "item": &*item}),
        ));
        for (kind, body) in events {
            self.emit(kind, body, out);
        }
    }

    /// Writes one event: `event: <type>` and its JSON with `type` and `sequence_number` added.
    fn emit(&mut self, kind: &'static str, mut body: Value, out: &mut Vec<u8>) {
        if let Some(object) = body.as_object_mut() {
            object.insert("type".to_owned(), Value::from(kind));
            object.insert(
                "sequence_number".to_owned(),
                Value::from(self.sequence_number),
            );
        }
        write_event(out, kind, &body);
        self.sequence_number += 1;
    }
}

fn write_event(out: &mut Vec<u8>, kind: &str, body: &impl Serialize) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Writing plain structs to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, body);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::chat_stream::{ChatStream, ChatStreamOptions, StreamFormat};
    use serde_json::Value;

    fn stream(tool_names: Vec<String>) -> ChatStream {
        let options = ChatStreamOptions {
            ctx: CompletionContext {
                id: "resp_abc".into(),
                created: 7,
                model: "gpt-4".into(),
            },
            include_usage: false,
            max_tokens: 100,
            prompt_tokens_estimate: 3,
            tool_names,
            stop: Vec::new(),
            split_think: false,
            format: StreamFormat::ChatCompletion,
            echo: String::new(),
            legacy_functions: false,
        };
        ChatStream::responses(options, ResponseEcho::default())
    }

    /// Feeds `input` in pieces of `piece` bytes; returns the events as (type, data).
    fn translate(input: &str, piece: usize, tools: &[&str]) -> Vec<(String, Value)> {
        let mut translator = stream(tools.iter().map(|t| t.to_string()).collect());
        let mut out = Vec::new();
        for chunk in input.as_bytes().chunks(piece) {
            out.extend_from_slice(translator.push(chunk));
        }
        out.extend_from_slice(translator.finish());
        let text = String::from_utf8(out).unwrap();
        text.split("\n\n")
            .filter(|block| !block.is_empty())
            .map(|block| {
                let mut lines = block.lines();
                let kind = lines.next().unwrap().strip_prefix("event: ").unwrap();
                let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
                (kind.to_owned(), serde_json::from_str(data).unwrap())
            })
            .collect()
    }

    fn types(events: &[(String, Value)]) -> Vec<&str> {
        events.iter().map(|(kind, _)| kind.as_str()).collect()
    }

    const LEGACY: &str = "data: {\"response\":\"Hel\",\"p\":\"abc\"}\n\ndata: {\"response\":\"lo\"}\n\ndata: {\"response\":\"\",\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2,\"total_tokens\":6}}\n\ndata: [DONE]\n\n";

    #[test]
    fn text_streams_as_the_full_event_sequence_however_split() {
        let whole = translate(LEGACY, LEGACY.len(), &[]);
        assert_eq!(
            types(&whole),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        for (index, (kind, data)) in whole.iter().enumerate() {
            assert_eq!(data["type"], kind.as_str());
            assert_eq!(data["sequence_number"], index as u64);
        }
        let completed = &whole.last().unwrap().1["response"];
        assert_eq!(completed["status"], "completed");
        assert_eq!(completed["output"][0]["content"][0]["text"], "Hello");
        assert_eq!(completed["usage"]["total_tokens"], 6);
        assert_eq!(whole[6].1["text"], "Hello");
        for piece in [1, 2, 5, 17] {
            let split = translate(LEGACY, piece, &[]);
            let texts = |events: &[(String, Value)]| -> String {
                events
                    .iter()
                    .filter_map(|(_, d)| d["delta"].as_str())
                    .collect()
            };
            assert_eq!(texts(&split), "Hello", "piece {piece}");
            assert_eq!(
                split.last().unwrap().1,
                whole.last().unwrap().1,
                "piece {piece}"
            );
        }
    }

    #[test]
    fn reasoning_then_tool_calls_from_gpt_oss_events() {
        let input = concat!(
            "event: response.reasoning_text.delta\ndata: {\"type\":\"response.reasoning_text.delta\",\"output_index\":0,\"delta\":\"hmm\"}\n\n",
            "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":1,\"item\":{\"type\":\"function_call\",\"call_id\":\"call_9\",\"name\":\"f\",\"arguments\":\"\"}}\n\n",
            "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"output_index\":1,\"delta\":\"{\\\"a\\\":\"}\n\n",
            "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"output_index\":1,\"delta\":\"1}\"}\n\n",
            "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":2,\"output_tokens\":5,\"total_tokens\":7}}}\n\n",
        );
        for piece in [input.len(), 3, 11] {
            let events = translate(input, piece, &["f"]);
            assert_eq!(
                types(&events)[2..],
                [
                    "response.output_item.added",
                    "response.content_part.added",
                    "response.reasoning_text.delta",
                    "response.reasoning_text.done",
                    "response.content_part.done",
                    "response.output_item.done",
                    "response.output_item.added",
                    "response.function_call_arguments.delta",
                    "response.function_call_arguments.delta",
                    "response.function_call_arguments.done",
                    "response.output_item.done",
                    "response.completed",
                ],
                "piece {piece}"
            );
            let done = &events[11].1;
            assert_eq!(done["arguments"], "{\"a\":1}");
            assert_eq!(done["output_index"], 1);
            let output = &events.last().unwrap().1["response"]["output"];
            assert_eq!(output[1]["call_id"], "call_9");
            assert_eq!(output[1]["status"], "completed");
            assert_eq!(
                events.last().unwrap().1["response"]["usage"]["output_tokens"],
                5
            );
        }
    }

    #[test]
    fn failure_midway_is_response_failed_and_a_cut_answer_is_incomplete() {
        let mut translator = stream(Vec::new());
        let mut out = translator.push(b"data: {\"response\":\"Hi\"}\n\n").to_vec();
        out.extend_from_slice(translator.fail("3040: Capacity temporarily exceeded"));
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("event: response.failed"));
        assert!(text.contains("\"code\":\"rate_limit_exceeded\""));
        assert!(!text.contains("response.completed"));

        let mut tokens: String = (0..100)
            .map(|i| format!("data: {{\"response\":\"w{i} \"}}\n\n"))
            .collect();
        tokens.push_str("data: {\"response\":\"\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":100}}\n\n");
        let events = translate(&tokens, 64, &[]);
        let (kind, last) = events.last().unwrap();
        assert_eq!(kind, "response.incomplete");
        assert_eq!(
            last["response"]["incomplete_details"]["reason"],
            "max_output_tokens"
        );
        assert_eq!(last["response"]["output"][0]["status"], "incomplete");
    }
}
