//! Calls to the Workers AI binding through `glue.js`, and the stream translator JS drives.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::web_sys::ReadableStream;
use worker::Env;

use crate::error::{upstream_error_from_message, GatewayError};
use crate::platform::log::PendingLog;
use crate::platform::promise::settled;
use crate::transform::chat_stream::ChatStream;
use crate::transform::responses::StoredResponse;

#[wasm_bindgen(module = "/src/platform/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = aiRun)]
    fn ai_run(
        ai: &JsValue,
        model: &str,
        input: &str,
        options: &str,
        timeout_ms: f64,
    ) -> js_sys::Promise;

    #[wasm_bindgen(catch, js_name = aiRunForm)]
    async fn ai_run_form(
        ai: &JsValue,
        model: &str,
        fields: &str,
        options: &str,
        timeout_ms: f64,
    ) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_name = aiRunByteList)]
    async fn ai_run_byte_list(
        ai: &JsValue,
        model: &str,
        bytes: &[u8],
        options: &str,
        timeout_ms: f64,
    ) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_name = readBytes)]
    async fn read_bytes(stream: &ReadableStream) -> Result<JsValue, JsValue>;

    /// The message of anything JS threw.
    #[wasm_bindgen(js_name = errorMessage)]
    pub fn error_message(error: &JsValue) -> String;

    #[wasm_bindgen(catch, js_name = translateStream)]
    async fn translate_stream(
        upstream: &ReadableStream,
        translator: JsValue,
        kv: &JsValue,
        key: &str,
        ttl_seconds: f64,
        timeout_ms: f64,
    ) -> Result<JsValue, JsValue>;

    // Takes a JS-owned copy: a `&[u8]` here would reach JS as a view into wasm memory, which the
    // allocator reuses once the Rust buffer is freed, long before the client reads the stream.
    #[wasm_bindgen(js_name = streamOf)]
    fn stream_of(bytes: js_sys::Uint8Array) -> ReadableStream;
}

/// What the binding answered.
pub enum AiOutput {
    /// A JSON document (objects are stringified on the JS side).
    Json(String),
    /// A byte stream: SSE for text models asked to stream, raw bytes for some image models.
    Stream(ReadableStream),
    Bytes(Vec<u8>),
}

/// How this request calls the binding: its options (the AI Gateway) and time limit.
#[derive(Debug, Clone, Default)]
pub struct AiCall {
    /// The JSON of `env.AI.run`'s third argument, or empty.
    pub options: String,
    /// 0: no limit of the gateway's own.
    pub timeout_ms: f64,
}

fn binding(env: &Env) -> Result<JsValue, GatewayError> {
    crate::platform::binding(env, "AI").ok_or_else(|| {
            GatewayError::Misconfigured(
                "The Workers AI binding `AI` is missing. Add `[ai] binding = \"AI\"` to wrangler.toml and deploy again.".into(),
            )
        })
}

fn output_of(result: Result<JsValue, JsValue>) -> Result<AiOutput, GatewayError> {
    let output = result.map_err(|err| upstream_error_from_message(&error_message(&err)))?;
    if let Some(json) = output.as_string() {
        return Ok(AiOutput::Json(json));
    }
    if let Some(bytes) = output.dyn_ref::<js_sys::Uint8Array>() {
        return Ok(AiOutput::Bytes(bytes.to_vec()));
    }
    Ok(AiOutput::Stream(output.unchecked_into()))
}

/// Runs `model` with `input_json` on the `AI` binding.
pub async fn run(
    env: &Env,
    call: &AiCall,
    model: &str,
    input_json: &str,
) -> Result<AiOutput, GatewayError> {
    let ai = binding(env)?;
    let running = ai_run(&ai, model, input_json, &call.options, call.timeout_ms);
    output_of(settled(&running).await)
}

/// Runs `model` with a multipart form of `fields` (flux-2 takes its input that way).
pub async fn run_form(
    env: &Env,
    call: &AiCall,
    model: &str,
    fields: &[(&str, String)],
) -> Result<AiOutput, GatewayError> {
    let fields = serde_json::to_string(fields)
        .map_err(|err| GatewayError::Internal(format!("could not encode the form: {err}")))?;
    let ai = binding(env)?;
    output_of(ai_run_form(&ai, model, &fields, &call.options, call.timeout_ms).await)
}

/// Runs `model` with `{audio: [byte values]}` (the original whisper's input form).
pub async fn run_byte_list(
    env: &Env,
    call: &AiCall,
    model: &str,
    bytes: &[u8],
) -> Result<AiOutput, GatewayError> {
    let ai = binding(env)?;
    output_of(ai_run_byte_list(&ai, model, bytes, &call.options, call.timeout_ms).await)
}

/// A whole answer of a non-text model: JSON, or bytes (image and audio models answer either).
pub enum Whole {
    Json(String),
    Bytes(Vec<u8>),
}

impl AiOutput {
    /// The JSON answer a non-streaming text call expects; a byte answer is an upstream error.
    pub fn into_json(self, model: &str) -> Result<String, GatewayError> {
        match self {
            AiOutput::Json(json) => Ok(json),
            AiOutput::Stream(_) | AiOutput::Bytes(_) => Err(GatewayError::Upstream {
                code: None,
                message: format!("`{model}` answered with bytes where JSON was expected."),
            }),
        }
    }

    /// The answer in full: a byte stream is read to its end.
    pub async fn whole(self) -> Result<Whole, GatewayError> {
        Ok(match self {
            AiOutput::Json(json) => Whole::Json(json),
            AiOutput::Bytes(bytes) => Whole::Bytes(bytes),
            AiOutput::Stream(stream) => Whole::Bytes(read_all(&stream).await?),
        })
    }
}

/// Every byte of a stream (an image model's PNG answer, or an upstream answer to keep).
pub async fn read_all(stream: &ReadableStream) -> Result<Vec<u8>, GatewayError> {
    let bytes = read_bytes(stream)
        .await
        .map_err(|err| upstream_error_from_message(&error_message(&err)))?;
    Ok(js_sys::Uint8Array::new(&bytes).to_vec())
}

/// The Rust half of a translated stream: JS calls these once per chunk.
#[wasm_bindgen]
pub struct StreamTranslator {
    inner: ChatStream,
    /// For a stored Responses stream: the input items kept beside the finished response.
    stored_input_items: Option<Vec<serde_json::Value>>,
    /// The request's log line, written when the stream ends (this translator is freed).
    log: Rc<PendingLog>,
}

impl Drop for StreamTranslator {
    fn drop(&mut self) {
        if let Some(usage) = self.inner.usage() {
            self.log.edit(|line| line.record_usage(usage.into()));
        }
    }
}

#[wasm_bindgen]
impl StreamTranslator {
    // Each result is copied once, straight from the translator's reused buffer into JS.
    pub fn push(&mut self, chunk: &[u8]) -> js_sys::Uint8Array {
        self.inner.push(chunk).into()
    }

    pub fn finish(&mut self) -> js_sys::Uint8Array {
        self.inner.finish().into()
    }

    pub fn fail(&mut self, message: &str) -> js_sys::Uint8Array {
        let code = upstream_error_from_message(message).code();
        self.log.edit(|line| line.error_code = code);
        self.inner.fail(message).into()
    }

    /// The record to store once a Responses stream completed; empty otherwise.
    #[wasm_bindgen(js_name = storedRecord)]
    pub fn stored_record(&self) -> String {
        match (&self.stored_input_items, self.inner.finished_response()) {
            (Some(items), Some(response)) => {
                StoredResponse::record(response, items).unwrap_or_default()
            }
            _ => String::new(),
        }
    }
}

/// Where a streamed response is stored when it completes.
pub struct StreamStore<'a> {
    pub kv: &'a JsValue,
    pub key: String,
    pub input_items: Vec<serde_json::Value>,
}

/// Returns a stream of OpenAI SSE translated from `upstream` by `translator`. Resolves at the
/// first translated output, so a failure before the client sees anything is an `Err` (an HTTP
/// error with the mapped status) rather than a 200.
pub async fn translate(
    upstream: &ReadableStream,
    translator: ChatStream,
    store: Option<StreamStore<'_>>,
    log: &Rc<PendingLog>,
    timeout_ms: f64,
) -> Result<ReadableStream, GatewayError> {
    let (kv, key, input_items) = match store {
        Some(store) => (store.kv.clone(), store.key, Some(store.input_items)),
        None => (JsValue::UNDEFINED, String::new(), None),
    };
    log.edit(|line| line.stream = true);
    let translator = StreamTranslator {
        inner: translator,
        stored_input_items: input_items,
        log: Rc::clone(log),
    };
    let ttl = crate::platform::store::TTL_SECONDS as f64;
    translate_stream(upstream, translator.into(), &kv, &key, ttl, timeout_ms)
        .await
        .map(JsCast::unchecked_into)
        .map_err(|err| upstream_error_from_message(&error_message(&err)))
}

/// A stream holding already-translated bytes.
pub fn ready_stream(bytes: &[u8]) -> ReadableStream {
    stream_of(js_sys::Uint8Array::from(bytes))
}
