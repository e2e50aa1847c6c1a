//! Property tests (issue 8, fuzzing): every request normaliser and every SSE translator is fed
//! arbitrary input and must neither panic nor hold unbounded memory.
//!
//! - Request normalisers get (a) arbitrary strings and lossy-UTF-8 bytes, (b) arbitrary JSON built
//!   from the real field names, (c) mutations of the seed bodies in `tests/corpus/*.json` (keys
//!   deleted, values swapped for other types, huge strings, repeated elements, deep nesting, cut
//!   or corrupted text). Each must answer `Ok` or an OpenAI-shaped error (status 400..=599, a
//!   non-empty message), and its `Ok` plans must carry valid JSON for Workers AI.
//! - The stream translators (`ChatStream` for chat, text completions and Responses events, and
//!   the `SseDecoder` under them) get arbitrary bytes, mutated seed streams
//!   (`tests/corpus/*.sse`) and generated upstream streams of every frame family, cut at
//!   arbitrary points: their output must not depend on the cut, stay linear in the input, and be
//!   well-formed SSE.
//! - A counting global allocator measures the most heap each call holds at once, so "no
//!   unbounded allocation" is checked, not assumed.
//!
//! CI runs a short pass (`cargo test`): `PROPTEST_CASES` cases per property, default
//! [`DEFAULT_CASES`]. A long run: `PROPTEST_CASES=100000 cargo test --release --test properties`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError};
use serde_json::{json, Map, Value};

use openai_to_workers_ai::error::{upstream_error_from_message, GatewayError};
use openai_to_workers_ai::models::{self, AliasOverrides, ALIASES, CATALOGUE};
use openai_to_workers_ai::policy::cache::{CacheAsk, CacheDecision, CachePolicy};
use openai_to_workers_ai::policy::idempotency::{self, IdempotencyStep};
use openai_to_workers_ai::policy::limits::RequestLimits;
use openai_to_workers_ai::policy::log::TokenUsage;
use openai_to_workers_ai::policy::{routes, upstream};
use openai_to_workers_ai::transform::audio::{
    plan_speech, plan_transcription, AudioInput, AudioTask, TranscriptionForm,
};
use openai_to_workers_ai::transform::chat::{first_stop, CompletionContext};
use openai_to_workers_ai::transform::chat_request::{
    parse_chat_request, plan_chat, plan_chat_request, remote_image_urls, ChatPlan, UpstreamForm,
};
use openai_to_workers_ai::transform::chat_stream::{ChatStream, ChatStreamOptions, StreamFormat};
use openai_to_workers_ai::transform::completions::plan_completion;
use openai_to_workers_ai::transform::embeddings::plan_embeddings;
use openai_to_workers_ai::transform::images::{plan_images, ImageRun};
use openai_to_workers_ai::transform::media::{RemoteImage, RemoteImages};
use openai_to_workers_ai::transform::moderations::plan_moderation;
use openai_to_workers_ai::transform::responses::ResponseEcho;
use openai_to_workers_ai::transform::responses_request::{
    draft_responses, parse_responses_request, plan_responses, previous_response_id,
};
use openai_to_workers_ai::transform::sse::SseDecoder;

// ---------------------------------------------------------------------------------------------
// Bounds
// ---------------------------------------------------------------------------------------------

/// Cases per property when `PROPTEST_CASES` is unset: the whole file runs in well under a minute
/// in a debug build on two cores.
const DEFAULT_CASES: u32 = 256;

/// A normaliser may hold at most this much heap per byte of input, plus [`HEAP_SLACK`], at once.
/// Parsing into `serde_json::Value` trees, cloning item lists and writing up to eight upstream
/// bodies is tens of bytes per input byte; anything growing faster than the input fails.
const HEAP_PER_INPUT_BYTE: usize = 256;
const HEAP_SLACK: usize = 1 << 20;

/// A stream translator may write at most this many bytes per input byte, plus
/// [`OUTPUT_SLACK`] and the size of the echoed request: a one-character frame (22 bytes
/// upstream) becomes a whole `chat.completion.chunk` or Responses delta event downstream.
const OUTPUT_PER_INPUT_BYTE: usize = 64;
const OUTPUT_SLACK: usize = 16 * 1024;

fn cases(divisor: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(DEFAULT_CASES)
        .div_ceil(divisor)
        .max(1)
}

fn config(divisor: u32) -> Config {
    Config {
        cases: cases(divisor),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/properties.txt",
        ))),
        // Shrinking stops after this many steps (a debug build shrinks slowly).
        max_shrink_iters: 4096,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Heap metering: a global allocator counting live bytes per thread
// ---------------------------------------------------------------------------------------------

struct Metered;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note_alloc(size: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(size as isize);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn note_free(size: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(size as isize)));
}

unsafe impl GlobalAlloc for Metered {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            note_alloc(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            note_alloc(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        note_free(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            note_free(layout.size());
            note_alloc(new_size);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Metered = Metered;

/// Runs `f`; its result, and the most heap (bytes) this thread held at once during it beyond
/// what was live before.
fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let out = f();
    let peak = PEAK.with(Cell::get);
    (out, usize::try_from(peak - start).unwrap_or(0))
}

// ---------------------------------------------------------------------------------------------
// Seed corpus
// ---------------------------------------------------------------------------------------------

struct Corpus {
    /// `tests/corpus/*.json`: valid request bodies from the unit and e2e tests.
    bodies: Vec<(String, Value)>,
    /// `tests/corpus/*.sse`: upstream streams from the translator's unit tests.
    streams: Vec<(String, Vec<u8>)>,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .expect("tests/corpus exists")
            .map(|entry| entry.expect("a readable corpus entry").path())
            .collect();
        paths.sort();
        let mut corpus = Corpus {
            bodies: Vec::new(),
            streams: Vec::new(),
        };
        for path in paths {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let bytes = std::fs::read(&path).expect("a readable corpus file");
            match path.extension().and_then(|e| e.to_str()) {
                Some("json") => {
                    let body = serde_json::from_slice(&bytes)
                        .unwrap_or_else(|err| panic!("{name} is not JSON: {err}"));
                    corpus.bodies.push((name, body));
                }
                Some("sse") => corpus.streams.push((name, bytes)),
                _ => {}
            }
        }
        assert!(corpus.bodies.len() >= 20, "the seed corpus is missing");
        assert!(!corpus.streams.is_empty(), "the seed streams are missing");
        corpus
    })
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// An error the gateway may answer with: 4xx/5xx, and an OpenAI error body with a message.
fn check_error(what: &str, err: &GatewayError) -> Result<(), TestCaseError> {
    let status = err.status();
    prop_assert!(
        (400..=599).contains(&status),
        "{what}: status {status} for {err:?}"
    );
    let body: Value = serde_json::from_str(&err.to_json())
        .map_err(|e| TestCaseError::fail(format!("{what}: error body is not JSON ({e})")))?;
    let error = &body["error"];
    prop_assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| !m.trim().is_empty()),
        "{what}: empty message in {body} for {err:?}"
    );
    prop_assert!(
        error["type"].as_str().is_some_and(|t| !t.is_empty()),
        "{what}: no type in {body}"
    );
    for field in ["param", "code"] {
        prop_assert!(
            error
                .get(field)
                .is_some_and(|v| v.is_null() || v.is_string()),
            "{what}: `{field}` missing or not a string in {body}"
        );
    }
    Ok(())
}

fn check_json(what: &str, text: &str) -> Result<Value, TestCaseError> {
    serde_json::from_str(text).map_err(|err| {
        TestCaseError::fail(format!(
            "{what}: not valid JSON ({err}): {}",
            text.chars().take(300).collect::<String>()
        ))
    })
}

/// Runs one normaliser on an input of `input_len` bytes: no panic (a panic fails the case), a
/// linear heap bound, and `Ok` checked by `ok` or an OpenAI-shaped error.
fn check<T>(
    what: &str,
    input_len: usize,
    f: impl FnOnce() -> Result<T, GatewayError>,
    ok: impl FnOnce(&T) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let (result, peak) = peak_heap(f);
    let bound = HEAP_PER_INPUT_BYTE * input_len + HEAP_SLACK;
    prop_assert!(
        peak <= bound,
        "{what}: held {peak} bytes at once for a {input_len}-byte input (bound {bound})"
    );
    match &result {
        Ok(value) => ok(value),
        Err(err) => check_error(what, err),
    }
}

/// A chat plan carries valid JSON for Workers AI, and the stream translator its settings make
/// (its stop sequences, tool names, `<think>` splitting, Responses echo) translates a seed
/// stream into well-formed events.
fn check_chat_plan(
    what: &str,
    plan: &ChatPlan,
    echo: Option<&ResponseEcho>,
) -> Result<(), TestCaseError> {
    prop_assert!(check_json(what, &plan.upstream_input)?.is_object());
    prop_assert!(plan.extra_inputs.len() < 8, "{what}: too many runs");
    for input in &plan.extra_inputs {
        prop_assert!(check_json(what, input)?.is_object());
    }
    let setup = Setup {
        mode: if echo.is_some() {
            Mode::Responses
        } else {
            Mode::Chat
        },
        options: ChatStreamOptions::for_chat(plan, context(&plan.model.requested)),
        echo: echo.cloned().unwrap_or_default(),
    };
    let streams = &corpus().streams;
    let stream = &streams[plan.upstream_input.len() % streams.len()].1;
    let translation = translate(&setup, stream.chunks(7), &End::Finish);
    check_output(&setup, stream.len(), &translation, &End::Finish)
}

fn no_check<T>(_: &T) -> Result<(), TestCaseError> {
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The normalisers, as the handlers call them
// ---------------------------------------------------------------------------------------------

/// Deployment settings: the defaults, and a deployment with its own aliases (one broken) and
/// every request limit set.
struct Deployment {
    overrides: AliasOverrides,
    limits: RequestLimits,
}

fn deployments() -> &'static [Deployment] {
    static DEPLOYMENTS: OnceLock<Vec<Deployment>> = OnceLock::new();
    DEPLOYMENTS.get_or_init(|| {
        let vars = BTreeMap::from([
            ("ALLOWED_MODELS", "gpt-4,@cf/meta/*,tts-1"),
            ("MAX_MESSAGES", "3"),
            ("MAX_INPUT_CHARS", "200"),
            ("MAX_TOKENS", "64"),
        ]);
        vec![
            Deployment {
                overrides: AliasOverrides::default(),
                limits: RequestLimits::default(),
            },
            Deployment {
                overrides: AliasOverrides::parse(
                    r#"{"mine":"@cf/meta/llama-3-8b-instruct","broken":"not-a-model","gpt-4":"@cf/openai/gpt-oss-20b","emb":"@cf/baai/bge-m3"}"#,
                )
                .expect("valid overrides"),
                limits: RequestLimits::load(|name| vars.get(name).map(|v| v.to_string()))
                    .expect("valid limits"),
            },
        ]
    })
}

/// What the shell's fetch returns for every http(s) image the request names.
fn fetched(urls: &[String]) -> RemoteImages {
    urls.iter()
        .map(|url| {
            (
                url.clone(),
                RemoteImage {
                    media_type: "image/png",
                    bytes: b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
                },
            )
        })
        .collect()
}

fn history() -> Vec<Value> {
    vec![
        json!({"role":"user","content":"first"}),
        json!({"type":"message","role":"assistant","content":[{"type":"output_text","text":"one"}]}),
    ]
}

/// Every normaliser that reads a request body, on `body`.
fn exercise_requests(body: &str) -> Result<(), TestCaseError> {
    let len = body.len();
    for (which, deployment) in deployments().iter().enumerate() {
        let overrides = &deployment.overrides;
        let limits = &deployment.limits;
        let tag = |name: &str| format!("{name} (deployment {which})");

        check(
            &tag("plan_chat"),
            len,
            || plan_chat(body, overrides),
            |plan| check_chat_plan("plan_chat", plan, None),
        )?;
        for form in [UpstreamForm::Chat, UpstreamForm::NativeResponses] {
            check(
                &tag("chat pipeline"),
                len,
                || {
                    let mut request = parse_chat_request(body)?;
                    let tokens_param = match request.max_completion_tokens {
                        Some(_) => "max_completion_tokens",
                        None => "max_tokens",
                    };
                    limits.apply_to_chat(&mut request, tokens_param)?;
                    let images = fetched(&remote_image_urls(&request, overrides)?);
                    let plan = plan_chat_request(&request, overrides, &images, form)?;
                    limits.check_model(&plan.model, None)?;
                    Ok(plan)
                },
                |plan| check_chat_plan("chat pipeline", plan, None),
            )?;
        }
        check(
            &tag("responses pipeline"),
            len,
            || {
                let request = parse_responses_request(body)?;
                let earlier = match previous_response_id(&request) {
                    Some(_) => history(),
                    None => Vec::new(),
                };
                let mut draft = draft_responses(&request, earlier)?;
                limits.apply_to_chat(&mut draft.chat_request, "max_output_tokens")?;
                let images = fetched(&remote_image_urls(&draft.chat_request, overrides)?);
                plan_responses(&request, draft, overrides, &images)
            },
            |plan| {
                check_chat_plan("responses pipeline", &plan.chat, Some(&plan.echo))?;
                let echo = check_json(
                    "responses echo",
                    &serde_json::to_string(&plan.echo).expect("the echo serialises"),
                )?;
                prop_assert!(echo.is_object());
                Ok(())
            },
        )?;
        check(
            &tag("plan_completion"),
            len,
            || plan_completion(body, overrides, limits),
            |plan| {
                prop_assert_eq!(
                    plan.upstream_inputs.len(),
                    plan.prompts.len() * plan.n as usize
                );
                for input in &plan.upstream_inputs {
                    prop_assert!(check_json("plan_completion", input)?.is_object());
                }
                Ok(())
            },
        )?;
        check(
            &tag("plan_embeddings"),
            len,
            || plan_embeddings(body, overrides),
            |plan| {
                prop_assert!(!plan.upstream_inputs.is_empty());
                for input in &plan.upstream_inputs {
                    prop_assert!(check_json("plan_embeddings", input)?.is_object());
                }
                Ok(())
            },
        )?;
        check(
            &tag("plan_images"),
            len,
            || plan_images(body, overrides, u32::MAX - 3),
            |plan| {
                prop_assert!((1..=10).contains(&plan.runs.len()));
                for run in &plan.runs {
                    if let ImageRun::Json(input) = run {
                        prop_assert!(check_json("plan_images", input)?.is_object());
                    }
                }
                Ok(())
            },
        )?;
        check(
            &tag("plan_speech"),
            len,
            || plan_speech(body, overrides),
            |plan| {
                prop_assert!(check_json("plan_speech", &plan.input_json)?.is_object());
                Ok(())
            },
        )?;
        check(
            &tag("plan_moderation"),
            len,
            || plan_moderation(body, overrides),
            |plan| {
                prop_assert!((1..=32).contains(&plan.upstream_inputs.len()));
                for input in &plan.upstream_inputs {
                    prop_assert!(check_json("plan_moderation", input)?.is_object());
                }
                Ok(())
            },
        )?;
        // The transcription handler reads the form's text fields as this JSON.
        if let Ok(form) = serde_json::from_str::<TranscriptionForm>(body) {
            exercise_transcription(&form, overrides, len)?;
        }
    }
    Ok(())
}

/// Every normaliser, on `body`.
fn exercise_body(body: &str) -> Result<(), TestCaseError> {
    exercise_requests(body)?;
    exercise_text(body)
}

fn exercise_transcription(
    form: &TranscriptionForm,
    overrides: &AliasOverrides,
    len: usize,
) -> Result<(), TestCaseError> {
    let audio: [Option<&[u8]>; 3] = [None, Some(b""), Some(b"RIFF\0\0\0\0WAVEfmt ")];
    for file in audio {
        for task in [AudioTask::Transcribe, AudioTask::Translate] {
            check(
                "plan_transcription",
                len,
                || plan_transcription(form, file, task, overrides),
                |plan| {
                    if let AudioInput::Json(input) = &plan.input {
                        prop_assert!(check_json("plan_transcription", input)?.is_object());
                    }
                    Ok(())
                },
            )?;
        }
    }
    Ok(())
}

/// The normalisers that read any text: model names, paths, stored records, upstream messages.
fn exercise_text(text: &str) -> Result<(), TestCaseError> {
    let len = text.len();
    for deployment in deployments() {
        check(
            "models::resolve",
            len,
            || models::resolve(text, &deployment.overrides),
            no_check,
        )?;
    }
    for method in ["GET", "POST", "DELETE", "HEAD", "PUT", "OPTIONS", text] {
        for path in [
            text,
            &format!("/v1/{text}"),
            &format!("/v1/responses/{text}"),
        ] {
            check(
                "routes::route",
                len,
                || routes::route(method, path),
                no_check,
            )?;
        }
    }
    let _ = routes::percent_decode(text);
    let _ = routes::query_param(text, "q");
    check(
        "AliasOverrides::parse",
        len,
        || AliasOverrides::parse(text),
        no_check,
    )?;
    for var in [
        "MAX_MESSAGES",
        "MAX_INPUT_CHARS",
        "MAX_TOKENS",
        "ALLOWED_MODELS",
    ] {
        check(
            "RequestLimits::load",
            len,
            || RequestLimits::load(|name| (name == var).then(|| text.to_owned())),
            no_check,
        )?;
    }
    for var in ["RESPONSE_CACHE", "RESPONSE_CACHE_TTL"] {
        check(
            "CachePolicy::load",
            len,
            || {
                CachePolicy::load(|name| match name {
                    "RESPONSE_CACHE" if var != name => Some("on".to_owned()),
                    _ => (name == var).then(|| text.to_owned()),
                })
            },
            no_check,
        )?;
    }
    check(
        "idempotency::check_key",
        len,
        || idempotency::check_key(text),
        no_check,
    )?;
    check_upstream_message(text)?;
    exercise_parsers(text)
}

/// The normalisers that parse text as JSON.
fn exercise_parsers(text: &str) -> Result<(), TestCaseError> {
    let len = text.len();
    let model = upstream::model_of(text);
    if let Some(model) = &model {
        for deployment in deployments() {
            check(
                "resolve(model_of)",
                len,
                || models::resolve(model, &deployment.overrides),
                no_check,
            )?;
        }
    }
    for fallback in ["@cf/meta/llama-3-8b-instruct", "", "\"\\\u{0}é"] {
        check(
            "upstream::with_model",
            len,
            || upstream::with_model(text, fallback),
            |rewritten| {
                let value = check_json("with_model", rewritten)?;
                prop_assert_eq!(value["model"].as_str(), Some(fallback));
                let model = upstream::model_of(rewritten);
                prop_assert_eq!(model.as_deref(), Some(fallback));
                Ok(())
            },
        )?;
    }
    for hash in ["h1", text] {
        check(
            "idempotency::decide",
            len,
            || idempotency::decide(Some(text), hash),
            |step| {
                if let IdempotencyStep::Replay(kept) = step {
                    let _ = idempotency::is_text(&kept.content_type);
                }
                Ok(())
            },
        )?;
    }
    let _ = TokenUsage::of_json_answer(text);
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        exercise_value(&value)?;
    }
    Ok(())
}

fn check_upstream_message(text: &str) -> Result<(), TestCaseError> {
    let (err, peak) = peak_heap(|| upstream_error_from_message(text));
    prop_assert!(peak <= HEAP_PER_INPUT_BYTE * text.len() + HEAP_SLACK);
    check_error("upstream_error_from_message", &err)
}

/// The normalisers that read a parsed body.
fn exercise_value(body: &Value) -> Result<(), TestCaseError> {
    let policies = [
        CachePolicy::load(|name| (name == "RESPONSE_CACHE").then(|| "on".to_owned())),
        CachePolicy::load(|name| (name == "RESPONSE_CACHE").then(|| "opt-in".to_owned())),
    ];
    for policy in policies {
        let policy = policy.expect("a valid cache policy");
        for route in [
            "chat.completions",
            "completions",
            "embeddings",
            "models.list",
        ] {
            for ask in [CacheAsk::Default, CacheAsk::Use, CacheAsk::Force] {
                let decision = policy.decide(route, body, "@cf/meta/llama-3-8b-instruct", "u", ask);
                if let CacheDecision::Use { key_material } = decision {
                    prop_assert!(key_material.starts_with(route));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Input strategies: words, JSON, request-shaped JSON, mutations of the seeds
// ---------------------------------------------------------------------------------------------

/// Field names the normalisers read (and some they do not).
const KEYS: &[&str] = &[
    "model",
    "messages",
    "role",
    "content",
    "name",
    "tool_calls",
    "tool_call_id",
    "function",
    "arguments",
    "type",
    "text",
    "image_url",
    "url",
    "image",
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "parameters",
    "properties",
    "required",
    "description",
    "enum",
    "items",
    "stream",
    "stream_options",
    "include_usage",
    "n",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "temperature",
    "top_p",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "stop",
    "response_format",
    "json_schema",
    "schema",
    "reasoning_effort",
    "reasoning",
    "effort",
    "summary",
    "input",
    "input_items",
    "instructions",
    "prompt",
    "suffix",
    "echo",
    "size",
    "negative_prompt",
    "encoding_format",
    "dimensions",
    "voice",
    "lang",
    "language",
    "speed",
    "store",
    "metadata",
    "previous_response_id",
    "background",
    "conversation",
    "truncation",
    "user",
    "call_id",
    "output",
    "id",
    "format",
    "verbosity",
    "parallel_tool_calls",
    "detail",
    "refusal",
    "timestamp_granularities[]",
    "stream_format",
    "usage",
    "prompt_tokens",
    "completion_tokens",
    "body_hash",
    "response",
    "status",
    "content_type",
    "base64",
];

/// Values the normalisers compare against, and other interesting strings.
const WORDS: &[&str] = &[
    "",
    " ",
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
    "wizard",
    "text",
    "image_url",
    "input_text",
    "input_image",
    "output_text",
    "function_call",
    "function_call_output",
    "reasoning",
    "message",
    "item_reference",
    "web_search",
    "json_object",
    "json_schema",
    "object",
    "string",
    "auto",
    "none",
    "required",
    "url",
    "b64_json",
    "json",
    "verbose_json",
    "srt",
    "vtt",
    "mp3",
    "wav",
    "sse",
    "base64",
    "float",
    "word",
    "segment",
    "1024x1024",
    "512x768",
    "1536x1024",
    "0x0",
    "99999999999x1",
    "x",
    "fr",
    "en",
    "alloy",
    "minimal",
    "low",
    "medium",
    "high",
    "xhigh",
    "max",
    "disabled",
    "call_1",
    "call_abc",
    "resp_1",
    "get_weather",
    "f",
    "END",
    "\n",
    "</s>",
    "<think>",
    "</think>",
    "data:image/png;base64,iVBORw0KGgo=",
    "data:image/png;base64,",
    "data:,",
    "data:image/png;base64,!!!",
    "https://example.com/a.png",
    "http://example.com/b.jpg",
    "HTTPS://EXAMPLE.COM/C.GIF",
    "ftp://x",
    "{\"city\":\"Paris\"}",
    "{",
    "[1,2",
    "é",
    "🦀",
    "\u{0}",
    "\u{2028}",
    "\\",
    "\"",
    "%2F",
    "%",
    "%zz",
    "%C3%A9",
    "%FF",
    "/v1",
    "/",
    "?q=a+b",
    "3040: Capacity temporarily exceeded",
    "InferenceUpstreamError: 5007: No such model",
    "gateway-timeout: no answer",
    "gateway-timeout:",
    "Error:Error:Error: 1:",
];

fn model_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<String> = ALIASES.iter().map(|(alias, _)| alias.to_string()).collect();
        names.extend(CATALOGUE.iter().map(|spec| spec.id.to_owned()));
        names.extend(
            [
                "mine",
                "broken",
                "emb",
                "nope",
                "@cf/unknown/model",
                "@cf/",
                "@hf/x",
                " gpt-4 ",
            ]
            .map(String::from),
        );
        names
    })
}

fn words() -> &'static [String] {
    static WORD_LIST: OnceLock<Vec<String>> = OnceLock::new();
    WORD_LIST.get_or_init(|| WORDS.iter().map(|w| w.to_string()).collect())
}

fn keys() -> &'static [String] {
    static KEY_LIST: OnceLock<Vec<String>> = OnceLock::new();
    KEY_LIST.get_or_init(|| KEYS.iter().map(|k| k.to_string()).collect())
}

fn model_name() -> impl Strategy<Value = String> {
    prop::sample::select(model_names())
}

fn word() -> BoxedStrategy<String> {
    prop_oneof![
        6 => prop::sample::select(words()),
        2 => model_name(),
        2 => "\\PC{0,16}",
        1 => ".{0,24}",
        1 => (prop::sample::select(words()), 1..300usize).prop_map(|(w, n)| w.repeat(n)),
    ]
    .boxed()
}

fn key() -> BoxedStrategy<String> {
    prop_oneof![8 => prop::sample::select(keys()), 1 => "\\PC{0,8}"].boxed()
}

fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => (-3i64..12).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        2 => prop::sample::select(vec![
            0.0, 0.5, 1.0, 1.5, 2.0, 2.5, -1.5, -0.0, 1e300, -1e300, 5e-324, 1e19, 4294967296.0,
            9_999_999_999.0, 0.1,
        ])
        .prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => number(),
        4 => word().prop_map(Value::String),
    ]
    .boxed()
}

/// Any JSON value, keys mostly the real field names; bounded depth and size.
fn json_value() -> BoxedStrategy<Value> {
    leaf()
        .prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..6)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
        .boxed()
}

fn image_url() -> BoxedStrategy<Value> {
    prop_oneof![
        word().prop_map(|url| json!({ "url": url })),
        word().prop_map(|url| json!({ "url": url, "detail": "low" })),
        word().prop_map(Value::String),
        json_value(),
    ]
    .boxed()
}

fn content_part() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => word().prop_map(|text| json!({"type": "text", "text": text})),
        2 => image_url().prop_map(|url| json!({"type": "image_url", "image_url": url})),
        1 => word().prop_map(|text| json!({"type": "input_text", "text": text})),
        1 => image_url().prop_map(|url| json!({"type": "input_image", "image_url": url})),
        1 => word().prop_map(|text| json!({"type": "output_text", "text": text})),
        1 => json_value(),
    ]
    .boxed()
}

fn content() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(Value::Null),
        4 => word().prop_map(Value::String),
        3 => prop::collection::vec(content_part(), 0..4).prop_map(Value::Array),
        1 => json_value(),
    ]
    .boxed()
}

fn tool_call() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => (word(), word(), prop_oneof![word().prop_map(Value::String), json_value()]).prop_map(
            |(id, name, arguments)| json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
        ),
        1 => json_value(),
    ]
    .boxed()
}

fn message() -> BoxedStrategy<Value> {
    (
        prop::sample::select(vec![
            "system",
            "developer",
            "user",
            "assistant",
            "tool",
            "function",
            "wizard",
        ]),
        content(),
        prop::option::of(prop::collection::vec(tool_call(), 0..3)),
        prop::option::of(word()),
        prop::option::of(word()),
        prop::option::weighted(0.1, json_value()),
    )
        .prop_map(|(role, content, calls, call_id, name, extra)| {
            let mut message = json!({"role": role, "content": content});
            if let Some(calls) = calls {
                message["tool_calls"] = Value::Array(calls);
            }
            if let Some(id) = call_id {
                message["tool_call_id"] = Value::String(id);
            }
            if let Some(name) = name {
                message["name"] = Value::String(name);
            }
            if let Some(extra) = extra {
                message["function_call"] = extra;
            }
            message
        })
        .boxed()
}

fn input_item() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => message(),
        2 => (word(), word(), word()).prop_map(|(call_id, name, arguments)| json!({"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments})),
        2 => (word(), prop_oneof![word().prop_map(Value::String), json_value()]).prop_map(|(call_id, output)| json!({"type": "function_call_output", "call_id": call_id, "output": output})),
        1 => Just(json!({"type": "reasoning", "summary": []})),
        1 => json_value(),
    ]
    .boxed()
}

fn schema() -> BoxedStrategy<Value> {
    prop_oneof![
        (word(), word()).prop_map(|(name, kind)| json!({"type": "object", "properties": {name.clone(): {"type": kind}}, "required": [name]})),
        Just(json!({"type": "object", "properties": {"unit": {"type": ["string", "null"], "enum": ["c", "f"]}}})),
        json_value(),
    ]
    .boxed()
}

fn tool() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => (word(), word(), schema()).prop_map(|(name, description, parameters)| json!({"type": "function", "function": {"name": name, "description": description, "parameters": parameters}})),
        2 => (word(), schema()).prop_map(|(name, parameters)| json!({"type": "function", "name": name, "parameters": parameters})),
        1 => word().prop_map(|kind| json!({"type": kind})),
        1 => json_value(),
    ]
    .boxed()
}

/// A JSON object shaped like a request to any endpoint: some real fields with plausible values,
/// plus real field names with arbitrary values.
fn request_body() -> BoxedStrategy<Value> {
    (
        prop::option::weighted(0.9, model_name()),
        prop::option::of(prop::collection::vec(message(), 0..5)),
        prop::option::of(prop_oneof![
            word().prop_map(Value::String),
            prop::collection::vec(input_item(), 0..4).prop_map(Value::Array),
            prop::collection::vec(word().prop_map(Value::String), 0..4).prop_map(Value::Array),
        ]),
        prop::option::of(prop_oneof![
            word().prop_map(Value::String),
            prop::collection::vec(word().prop_map(Value::String), 0..4).prop_map(Value::Array),
        ]),
        prop::option::of(prop::collection::vec(tool(), 0..3)),
        prop::collection::vec((key(), json_value()), 0..6),
    )
        .prop_map(|(model, messages, input, prompt, tools, fields)| {
            let mut body = Map::new();
            if let Some(model) = model {
                body.insert("model".into(), Value::String(model));
            }
            if let Some(messages) = messages {
                body.insert("messages".into(), Value::Array(messages));
            }
            if let Some(input) = input {
                body.insert("input".into(), input);
            }
            if let Some(prompt) = prompt {
                body.insert("prompt".into(), prompt);
            }
            if let Some(tools) = tools {
                body.insert("tools".into(), Value::Array(tools));
            }
            body.extend(fields);
            Value::Object(body)
        })
        .boxed()
}

/// One change to a seed body, at the node a path of child choices leads to.
#[derive(Debug, Clone)]
enum Mutation {
    Remove(Vec<Index>),
    Replace(Vec<Index>, Value),
    Insert(Vec<Index>, String, Value),
    /// Replace with a string of this many copies of a word (a few KB at most).
    Huge(Vec<Index>, String, usize),
    /// Repeat an array's first element this many times.
    Repeat(Vec<Index>, usize),
    /// Wrap in this many arrays (or objects).
    Nest(Vec<Index>, usize, bool),
}

/// A change to the serialised text.
#[derive(Debug, Clone)]
enum TextMutation {
    Keep,
    Truncate(Index),
    InsertByte(Index, u8),
    DeleteByte(Index),
    /// The first key written twice (serde refuses duplicate fields).
    DuplicateKey,
    /// Whitespace, a BOM or a second document around the body.
    Wrap(&'static str, &'static str),
}

fn path() -> impl Strategy<Value = Vec<Index>> {
    prop::collection::vec(any::<Index>(), 0..5)
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => path().prop_map(Mutation::Remove),
        3 => (path(), json_value()).prop_map(|(p, v)| Mutation::Replace(p, v)),
        2 => (path(), key(), json_value()).prop_map(|(p, k, v)| Mutation::Insert(p, k, v)),
        1 => (path(), prop::sample::select(words()), 1..4096usize).prop_map(|(p, w, n)| Mutation::Huge(p, w, n)),
        1 => (path(), 2..300usize).prop_map(|(p, n)| Mutation::Repeat(p, n)),
        1 => (path(), 1..300usize, any::<bool>()).prop_map(|(p, d, o)| Mutation::Nest(p, d, o)),
    ]
}

fn text_mutation() -> impl Strategy<Value = TextMutation> {
    prop_oneof![
        6 => Just(TextMutation::Keep),
        1 => any::<Index>().prop_map(TextMutation::Truncate),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| TextMutation::InsertByte(i, b)),
        1 => any::<Index>().prop_map(TextMutation::DeleteByte),
        1 => Just(TextMutation::DuplicateKey),
        1 => prop::sample::select(vec![
            (" \n\t", "\r\n"),
            ("\u{feff}", ""),
            ("", "{}"),
            ("", " garbage"),
            ("[", "]"),
        ])
        .prop_map(|(before, after)| TextMutation::Wrap(before, after)),
    ]
}

/// The node `path` leads to: each step picks a child of an array or object.
fn node_at<'v>(value: &'v mut Value, path: &[Index]) -> &'v mut Value {
    let Some((step, rest)) = path.split_first() else {
        return value;
    };
    let len = match &*value {
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => 0,
    };
    if len == 0 {
        return value;
    }
    let at = step.index(len);
    match value {
        Value::Array(items) => node_at(&mut items[at], rest),
        Value::Object(map) => node_at(
            map.values_mut().nth(at).expect("an index below the length"),
            rest,
        ),
        _ => unreachable!("only arrays and objects have children"),
    }
}

fn nested(mut value: Value, depth: usize, objects: bool) -> Value {
    for _ in 0..depth {
        value = if objects {
            // `format` is a field of the one struct-typed field (`text`): an unknown key would be
            // skipped unparsed, which is fine at any depth.
            json!({ "format": value })
        } else {
            json!([value])
        };
    }
    value
}

fn apply(body: &mut Value, mutation: &Mutation) {
    match mutation {
        Mutation::Remove(path) => {
            let (last, parent) = match path.split_last() {
                Some((last, parent)) => (*last, parent),
                None => return,
            };
            match node_at(body, parent) {
                Value::Array(items) if !items.is_empty() => {
                    let at = last.index(items.len());
                    items.remove(at);
                }
                Value::Object(map) if !map.is_empty() => {
                    let at = last.index(map.len());
                    let key = map
                        .keys()
                        .nth(at)
                        .cloned()
                        .expect("an index below the length");
                    map.remove(&key);
                }
                _ => {}
            }
        }
        Mutation::Replace(path, value) => *node_at(body, path) = value.clone(),
        Mutation::Insert(path, key, value) => match node_at(body, path) {
            Value::Object(map) => {
                map.insert(key.clone(), value.clone());
            }
            Value::Array(items) => items.push(value.clone()),
            other => *other = value.clone(),
        },
        Mutation::Huge(path, word, times) => {
            let mut text = word.repeat(*times);
            if text.len() > 8192 {
                let mut cut = 8192;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            *node_at(body, path) = Value::String(text);
        }
        Mutation::Repeat(path, times) => {
            if let Value::Array(items) = node_at(body, path) {
                if let Some(first) = items.first().cloned() {
                    items.extend(std::iter::repeat_n(first, *times));
                }
            }
        }
        Mutation::Nest(path, depth, objects) => {
            let node = node_at(body, path);
            *node = nested(node.take(), *depth, *objects);
        }
    }
}

fn byte_at(text: &[u8], index: &Index) -> usize {
    index.index(text.len() + 1)
}

fn apply_text(text: String, mutation: &TextMutation) -> String {
    let mut bytes = text.into_bytes();
    match mutation {
        TextMutation::Keep => {}
        TextMutation::Truncate(at) => bytes.truncate(byte_at(&bytes, at)),
        TextMutation::InsertByte(at, byte) => bytes.insert(byte_at(&bytes, at), *byte),
        TextMutation::DeleteByte(at) => {
            if !bytes.is_empty() {
                let at = at.index(bytes.len());
                bytes.remove(at);
            }
        }
        TextMutation::DuplicateKey => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if let Some(end) = text.find("\",") {
                if text.starts_with("{\"") {
                    let first = &text[1..end + 2];
                    return format!("{{{first}{}", &text[1..]);
                }
            }
        }
        TextMutation::Wrap(before, after) => {
            return format!("{before}{}{after}", String::from_utf8_lossy(&bytes));
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A seed body, changed by `mutations` and then `text`.
fn mutated_seed(seed: &Index, mutations: &[Mutation], text: &TextMutation) -> String {
    let bodies = &corpus().bodies;
    let mut body = bodies[seed.index(bodies.len())].1.clone();
    for mutation in mutations {
        apply(&mut body, mutation);
    }
    apply_text(body.to_string(), text)
}

/// Any string: arbitrary text, lossy UTF-8 of arbitrary bytes, or something starting like JSON.
fn any_text() -> BoxedStrategy<String> {
    prop_oneof![
        2 => any::<String>(),
        2 => prop::collection::vec(any::<u8>(), 0..512)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        2 => "\\{.{0,64}",
        1 => "[ \t\r\n]*\\{\"[a-z_]{1,12}\":.{0,32}",
        2 => word(),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Request normaliser properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(1))]

    /// (a) Arbitrary text: every normaliser answers Ok or an OpenAI-shaped error.
    #[test]
    fn normalisers_survive_arbitrary_text(text in any_text()) {
        exercise_body(&text)?;
    }

    /// (b) Arbitrary JSON with the real field names, top-level and request-shaped.
    #[test]
    fn normalisers_survive_arbitrary_json(
        body in prop_oneof![1 => json_value(), 4 => request_body()],
    ) {
        exercise_body(&body.to_string())?;
    }

    /// (c) The seed bodies, mutated: deleted keys, other types, huge strings, repeated elements,
    /// deep nesting, cut or corrupted text.
    #[test]
    fn normalisers_survive_mutated_seeds(
        seed in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
        text in text_mutation(),
    ) {
        exercise_body(&mutated_seed(&seed, &mutations, &text))?;
    }
}

proptest! {
    // Each case runs every normaliser on a deep body: an eighth of the cases.
    #![proptest_config(config(8))]

    /// Nesting past serde_json's recursion limit (128) in a field the normaliser parses is
    /// refused with a 400, not a stack overflow.
    #[test]
    fn deep_nesting_is_refused(
        seed in any::<Index>(),
        (field, in_chat, in_responses) in prop::sample::select(vec![
            // (field, a typed field of chat requests, of Responses requests)
            ("messages", true, false),
            ("input", true, true),
            ("input_items", true, true),
            ("tools", true, true),
            ("tool_choice", true, true),
            ("functions", true, false),
            ("response_format", true, false),
            ("stop", true, false),
            ("text", false, true),
            ("metadata", false, true),
            ("prompt", false, true),
            ("unknown", false, false),
        ]),
        depth in 129..400usize,
        objects in any::<bool>(),
    ) {
        let bodies = &corpus().bodies;
        let mut body = bodies[seed.index(bodies.len())].1.clone();
        body[field] = nested(json!("x"), depth, objects);
        let text = body.to_string();
        exercise_body(&text)?;
        let refused = |result: Result<(), GatewayError>| match result {
            Err(err) => err.status() == 400,
            Ok(()) => false,
        };
        // Unknown fields are skipped without recursion, so any depth is fine there.
        if in_chat {
            prop_assert!(
                refused(parse_chat_request(&text).map(drop)),
                "chat accepted `{field}` nested {depth} deep"
            );
        }
        if in_responses {
            prop_assert!(
                refused(parse_responses_request(&text).map(drop)),
                "responses accepted `{field}` nested {depth} deep"
            );
        }
    }
}

/// Far deeper nesting than the generators reach, in fields parsed as JSON values, in a skipped
/// field, and as the whole body: still an error (or a skip), promptly, never a stack overflow.
#[test]
fn extreme_nesting_is_refused() {
    for depth in [128, 129, 1_000, 100_000] {
        for (open, close) in [("[", "]"), ("{\"format\":", "}")] {
            let deep = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            // (body, refused by the chat parser, by the Responses parser)
            for (body, chat, responses) in [
                (format!("{{\"model\":\"gpt-4\",\"input\":{deep}}}"), true, true),
                (
                    format!("{{\"model\":\"gpt-4\",\"messages\":[{{\"role\":\"user\",\"content\":\"x\"}}],\"tools\":[{deep}]}}"),
                    true,
                    true,
                ),
                (
                    format!("{{\"model\":\"gpt-4\",\"input\":\"x\",\"metadata\":{{\"a\":{deep}}}}}"),
                    false,
                    true,
                ),
                (
                    format!("{{\"model\":\"gpt-4\",\"unknown\":{deep},\"input\":\"x\"}}"),
                    false,
                    false,
                ),
                (deep.clone(), false, false),
            ] {
                let checked = exercise_requests(&body).and_then(|()| exercise_parsers(&body));
                if let Err(err) = checked {
                    panic!("depth {depth}: {err}");
                }
                let status = |result: Result<(), GatewayError>| result.map_err(|e| e.status());
                if depth > 128 && chat {
                    let parsed = status(parse_chat_request(&body).map(drop));
                    assert_eq!(parsed, Err(400), "chat, depth {depth}");
                }
                if depth > 128 && responses {
                    let parsed = status(parse_responses_request(&body).map(drop));
                    assert_eq!(parsed, Err(400), "responses, depth {depth}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Stream translators
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `/v1/chat/completions`: `chat.completion.chunk` events.
    Chat,
    /// `/v1/completions`: `text_completion` events.
    Text,
    /// `/v1/responses`: Responses events.
    Responses,
}

/// A translator as a handler builds one (only the settings a handler can produce: `echo` for
/// text completions only, no tools there, no legacy functions for Responses).
#[derive(Debug, Clone)]
struct Setup {
    mode: Mode,
    options: ChatStreamOptions,
    echo: ResponseEcho,
}

impl Setup {
    fn start(&self) -> ChatStream {
        match self.mode {
            Mode::Responses => ChatStream::responses(self.options.clone(), self.echo.clone()),
            Mode::Chat | Mode::Text => ChatStream::new(self.options.clone()),
        }
    }

    /// Output a translator may write beyond its per-input-byte share: the echoed request.
    fn fixed_output(&self) -> usize {
        let echo = serde_json::to_string(&self.echo).map_or(0, |e| e.len());
        OUTPUT_SLACK + 8 * echo + 2 * self.options.echo.len()
    }
}

fn context(model: &str) -> CompletionContext {
    CompletionContext {
        id: "chatcmpl-prop".into(),
        created: 1_700_000_000,
        model: model.into(),
    }
}

const STOPS: &[&str] = &[
    "END", "\n\n", "</s>", "b", "abcd", "bc", "é", "🦀", "<think>", "}", "``",
];

fn rich_echo() -> ResponseEcho {
    ResponseEcho {
        instructions: Some("Be brief".into()),
        max_output_tokens: Some(50),
        metadata: json!({"a": "b"}),
        parallel_tool_calls: true,
        previous_response_id: Some("resp_1".into()),
        reasoning: json!({"effort": "low"}),
        store: true,
        temperature: 1.0,
        text: json!({"format": {"type": "text"}}),
        tool_choice: json!("auto"),
        tools: vec![
            json!({"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}),
        ],
        top_p: 1.0,
        truncation: "disabled",
        user: Some("u1".into()),
    }
}

fn setup() -> impl Strategy<Value = Setup> {
    setup_of(vec![Mode::Chat, Mode::Text, Mode::Responses])
}

fn setup_of(modes: Vec<Mode>) -> impl Strategy<Value = Setup> {
    (
        prop::sample::select(modes),
        any::<bool>(),
        prop_oneof![Just(0u32), 1u32..64, Just(u32::MAX)],
        prop::collection::vec(prop::sample::select(STOPS), 0..3),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        prop::option::of(word()),
        prop::sample::select(vec![
            "gpt-4",
            "@cf/meta/llama-3-8b-instruct",
            "ünï\"cødé\\\u{1}",
        ]),
    )
        .prop_map(
            |(mode, include_usage, max_tokens, stop, flags, echo, model)| {
                let (tools, split_think, legacy_functions, rich) = flags;
                let text = mode == Mode::Text;
                let options = ChatStreamOptions {
                    ctx: context(model),
                    include_usage,
                    max_tokens,
                    prompt_tokens_estimate: 3,
                    tool_names: match tools && !text {
                        true => vec!["get_weather".into(), "f".into()],
                        false => Vec::new(),
                    },
                    stop: stop.into_iter().map(String::from).collect(),
                    split_think,
                    format: match text {
                        true => StreamFormat::TextCompletion,
                        false => StreamFormat::ChatCompletion,
                    },
                    echo: echo.filter(|_| text).unwrap_or_default(),
                    legacy_functions: legacy_functions && mode == Mode::Chat,
                };
                Setup {
                    mode,
                    options,
                    echo: match rich {
                        true => rich_echo(),
                        false => ResponseEcho::default(),
                    },
                }
            },
        )
}

/// How the upstream stream ends.
#[derive(Debug, Clone)]
enum End {
    Finish,
    Fail(String),
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![
        3 => Just(End::Finish),
        1 => word().prop_map(End::Fail),
    ]
}

struct Translation {
    out: Vec<u8>,
    /// Most heap held at once, the translator and its output included.
    peak: usize,
    finished_response: Option<String>,
}

fn translate<'a>(
    setup: &Setup,
    chunks: impl IntoIterator<Item = &'a [u8]>,
    end: &End,
) -> Translation {
    let ((out, finished_response), peak) = peak_heap(|| {
        let mut stream = setup.start();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend_from_slice(stream.push(chunk));
        }
        match end {
            End::Finish => out.extend_from_slice(stream.finish()),
            End::Fail(message) => out.extend_from_slice(stream.fail(message)),
        }
        (out, stream.finished_response().map(str::to_owned))
    });
    Translation {
        out,
        peak,
        finished_response,
    }
}

/// `bytes` cut at `cuts` (repeated cuts give empty chunks, which a translator must accept).
fn pieces<'a>(bytes: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut out = Vec::with_capacity(at.len() + 1);
    let mut start = 0;
    for cut in at {
        out.push(&bytes[start..cut]);
        start = cut;
    }
    out.push(&bytes[start..]);
    out
}

/// The output is bounded by the input, valid UTF-8, and well-formed SSE for its mode.
fn check_output(
    setup: &Setup,
    input_len: usize,
    translation: &Translation,
    end: &End,
) -> Result<(), TestCaseError> {
    let out = &translation.out;
    let bound = OUTPUT_PER_INPUT_BYTE * input_len + setup.fixed_output();
    prop_assert!(
        out.len() <= bound,
        "{} output bytes for {input_len} input bytes (bound {bound})",
        out.len()
    );
    let heap_bound = HEAP_PER_INPUT_BYTE * input_len + HEAP_SLACK + 4 * setup.fixed_output();
    prop_assert!(
        translation.peak <= heap_bound,
        "held {} bytes at once for {input_len} input bytes (bound {heap_bound})",
        translation.peak
    );
    let text = std::str::from_utf8(out)
        .map_err(|err| TestCaseError::fail(format!("output is not UTF-8: {err}")))?;
    prop_assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "unterminated event"
    );
    let events: Vec<&str> = text.split_terminator("\n\n").collect();
    match setup.mode {
        Mode::Responses => check_response_events(&events, translation, end),
        Mode::Chat | Mode::Text => check_chunk_events(setup, &events, end),
    }
}

fn check_chunk_events(setup: &Setup, events: &[&str], end: &End) -> Result<(), TestCaseError> {
    let ctx = &setup.options.ctx;
    let object = match setup.mode {
        Mode::Text => "text_completion",
        _ => "chat.completion.chunk",
    };
    let (mut done, mut failed, mut finishes, mut usages) = (false, false, 0, 0);
    for (i, event) in events.iter().enumerate() {
        prop_assert!(!done && !failed, "an event after the end: {event}");
        let data = event
            .strip_prefix("data: ")
            .ok_or_else(|| TestCaseError::fail(format!("not a data event: {event:?}")))?;
        prop_assert!(!data.contains('\n'), "a multi-line event: {event:?}");
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let chunk = check_json("chunk", data)?;
        if let Some(error) = chunk.get("error") {
            prop_assert!(
                matches!(end, End::Fail(_)),
                "an error event without a failure"
            );
            prop_assert!(error["message"].is_string(), "error event {chunk}");
            failed = true;
            continue;
        }
        prop_assert_eq!(chunk["object"].as_str(), Some(object));
        prop_assert_eq!(chunk["id"].as_str(), Some(ctx.id.as_str()));
        prop_assert_eq!(chunk["model"].as_str(), Some(ctx.model.as_str()));
        prop_assert_eq!(chunk["created"].as_u64(), Some(ctx.created));
        let choices = chunk["choices"]
            .as_array()
            .ok_or_else(|| TestCaseError::fail(format!("no choices: {chunk}")))?;
        if chunk.get("usage").is_some_and(|u| !u.is_null()) {
            prop_assert!(choices.is_empty(), "usage with choices: {chunk}");
            usages += 1;
            continue;
        }
        prop_assert_eq!(choices.len(), 1, "{}", chunk);
        let choice = &choices[0];
        if setup.mode == Mode::Chat && i == 0 {
            prop_assert_eq!(
                choice["delta"]["role"].as_str(),
                Some("assistant"),
                "first chunk {}",
                chunk
            );
        }
        if !choice["finish_reason"].is_null() {
            finishes += 1;
        }
    }
    match end {
        End::Finish => {
            prop_assert!(done, "no [DONE] after finish()");
            prop_assert_eq!(finishes, 1, "finish reasons");
            prop_assert_eq!(
                usages,
                usize::from(setup.options.include_usage),
                "usage chunks"
            );
        }
        End::Fail(_) => {
            prop_assert!(
                done || failed,
                "neither [DONE] nor an error event after fail()"
            );
            prop_assert_eq!(finishes, usize::from(done), "finish reasons");
        }
    }
    Ok(())
}

fn check_response_events(
    events: &[&str],
    translation: &Translation,
    end: &End,
) -> Result<(), TestCaseError> {
    const TERMINAL: &[&str] = &[
        "response.completed",
        "response.incomplete",
        "response.failed",
    ];
    let mut last: Option<(String, Value)> = None;
    for (sequence, event) in events.iter().enumerate() {
        if let Some((kind, _)) = &last {
            prop_assert!(
                !TERMINAL.contains(&kind.as_str()),
                "an event after {kind}: {event}"
            );
        }
        let (kind, data) = event
            .strip_prefix("event: ")
            .and_then(|e| e.split_once("\ndata: "))
            .ok_or_else(|| TestCaseError::fail(format!("not an event/data pair: {event:?}")))?;
        prop_assert!(!data.contains('\n'), "a multi-line event: {event:?}");
        let body = check_json(kind, data)?;
        prop_assert_eq!(body["type"].as_str(), Some(kind), "{}", body);
        prop_assert_eq!(body["sequence_number"].as_u64(), Some(sequence as u64));
        if sequence == 0 {
            prop_assert_eq!(kind, "response.created");
        }
        last = Some((kind.to_owned(), body));
    }
    let Some((kind, body)) = last else {
        return Err(TestCaseError::fail("no events at all"));
    };
    match end {
        End::Finish => {
            prop_assert!(
                kind == "response.completed" || kind == "response.incomplete",
                "ended with {kind}"
            );
            let finished = translation
                .finished_response
                .as_deref()
                .ok_or_else(|| TestCaseError::fail("no finished response"))?;
            prop_assert_eq!(
                &check_json("finished response", finished)?,
                &body["response"]
            );
        }
        End::Fail(_) => prop_assert!(TERMINAL.contains(&kind.as_str()), "ended with {kind}"),
    }
    Ok(())
}

// ----- Upstream streams -----

const STREAM_WORDS: &[&str] = &[
    "Hel",
    "lo",
    " ",
    "\n",
    "\n\n",
    "<think>",
    "</think>",
    "<thi",
    "nk>",
    "</th",
    "ink>",
    "END",
    "E",
    "ND",
    "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}",
    "{\"name\": \"get_",
    "weather\", \"parameters\": {}}",
    "[{\"name\":\"f\",\"arguments\":{}}]",
    "<tool_call>",
    "</tool_call>",
    "<tool",
    "```",
    "`",
    "``",
    "json\n",
    "[",
    "]",
    "{",
    "}",
    "é",
    "🦀",
    "\u{0}",
    "\"",
    "\\",
    "abcd",
    "bc",
    "b",
    "a",
    "</s>",
];

fn stream_text() -> BoxedStrategy<String> {
    prop_oneof![
        6 => prop::sample::select(STREAM_WORDS).prop_map(String::from),
        2 => "\\PC{0,8}",
        1 => word(),
    ]
    .boxed()
}

/// An answer's text as upstream tokens: free text, a `<think>` block then an answer, or a tool
/// call written into the text (bare, fenced, tagged, a list), maybe after whitespace.
fn answer_tokens() -> BoxedStrategy<Vec<String>> {
    let tokens = || prop::collection::vec(stream_text(), 0..8);
    let call = (call_name(), any::<bool>()).prop_map(|(name, arguments)| {
        let field = if arguments { "arguments" } else { "parameters" };
        json!({ "name": name, field: {"city": "Paris"} }).to_string()
    });
    prop_oneof![
        3 => prop::collection::vec(stream_text(), 0..12),
        1 => (tokens(), tokens(), any::<bool>()).prop_map(|(thought, answer, closed)| {
            let mut all = vec!["<think>".to_owned()];
            all.extend(thought);
            if closed {
                all.push("</think>".to_owned());
            }
            all.extend(answer);
            all
        }),
        1 => (
            prop::sample::select(vec!["", " ", "\n"]),
            call,
            prop::sample::select(vec![
                ("", ""),
                ("```json\n", "\n```"),
                ("```", "```"),
                ("<tool_call>", "</tool_call>"),
                ("[", "]"),
                ("Sure: ", ""),
            ]),
        )
            .prop_map(|(space, call, (open, close))| {
                vec![format!("{space}{open}{call}{close}")]
            }),
    ]
    .boxed()
}

fn call_index() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 0u64..3,
        1 => Just(127u64),
        1 => Just(128u64),
        1 => Just(u64::from(u32::MAX)),
        1 => Just(u64::MAX),
    ]
}

fn call_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["get_weather", "f", "", "unknown"])
}

fn call_id() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        json!("call_1"),
        json!("chatcmpl-tool-9"),
        json!(""),
        Value::Null,
    ])
}

fn usage() -> impl Strategy<Value = Value> {
    (0u64..100, 0u64..100, any::<bool>()).prop_map(|(prompt, completion, responses)| {
        match responses {
            true => json!({"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion}),
            false => json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}),
        }
    })
}

fn native(delta: Value, finish: Value) -> Value {
    json!({"id": "u", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

/// One upstream frame's JSON, of any family the translator reads.
fn payload() -> BoxedStrategy<Value> {
    prop_oneof![
        // Legacy text, usage, whole tool calls, OpenAI-style call deltas, null finalisers.
        8 => stream_text().prop_map(|t| json!({"response": t})),
        1 => (stream_text(), usage()).prop_map(|(t, u)| json!({"response": t, "usage": u, "p": "abcdef"})),
        1 => (call_name(), json_value()).prop_map(|(n, a)| json!({"response": "", "tool_calls": [{"name": n, "arguments": a}]})),
        1 => (call_id(), call_index(), call_name()).prop_map(|(id, i, n)| json!({"tool_calls": [{"id": id, "type": "function", "index": i, "function": {"name": n}}]})),
        1 => (call_index(), stream_text()).prop_map(|(i, t)| json!({"tool_calls": [{"index": i, "function": {"arguments": t}}]})),
        1 => Just(json!({"tool_calls": [{"id": null, "type": null, "function": {"name": null, "arguments": null}}]})),
        // OpenAI-native chunks.
        6 => (stream_text(), prop::sample::select(vec!["content", "reasoning_content", "reasoning"]))
            .prop_map(|(t, field)| native(json!({ field: t }), Value::Null)),
        1 => (call_index(), call_id(), call_name()).prop_map(|(i, id, n)| native(json!({"tool_calls": [{"index": i, "id": id, "type": "function", "function": {"name": n, "arguments": ""}}]}), Value::Null)),
        1 => (call_index(), stream_text()).prop_map(|(i, t)| native(json!({"tool_calls": [{"index": i, "function": {"arguments": t}}]}), Value::Null)),
        1 => prop::sample::select(vec!["stop", "length", "tool_calls", "content_filter", "odd"])
            .prop_map(|reason| native(json!({}), json!(reason))),
        1 => usage().prop_map(|u| json!({"id": "u", "choices": [], "usage": u})),
        2 => stream_text().prop_map(|t| json!({"choices": [{"text": t, "index": 0, "finish_reason": null}]})),
        // Responses-style events.
        3 => (stream_text(), prop::sample::select(vec!["response.output_text.delta", "response.reasoning_text.delta", "response.reasoning.delta"]))
            .prop_map(|(t, kind)| json!({"type": kind, "delta": t})),
        1 => (0u64..4, call_id(), call_name()).prop_map(|(o, id, n)| json!({"type": "response.output_item.added", "output_index": o, "item": {"type": "function_call", "call_id": id, "name": n, "arguments": ""}})),
        1 => (0u64..4, stream_text()).prop_map(|(o, t)| json!({"type": "response.function_call_arguments.delta", "output_index": o, "delta": t})),
        1 => usage().prop_map(|u| json!({"type": "response.completed", "response": {"id": "r", "usage": u}})),
        1 => Just(json!({"type": "response.incomplete", "response": {}})),
        // Anything else.
        1 => json_value(),
    ]
    .boxed()
}

/// One upstream line: mostly `data:` frames, some comments, other fields and broken frames.
fn line() -> BoxedStrategy<String> {
    prop_oneof![
        24 => (payload(), any::<bool>()).prop_map(|(p, space)| format!("data:{}{p}", if space { " " } else { "" })),
        1 => Just(": ping".to_owned()),
        2 => prop::sample::select(vec![
            "event: message", "event: response.output_text.delta", "id: 7", "retry: 10", "data",
            "data:", "data: {not json", "data: [DONE]", "data: [DONE] ", "DATA: {}",
        ])
        .prop_map(String::from),
    ]
    .boxed()
}

/// A well-formed upstream stream: lines with LF or CRLF endings, with or without blank
/// separator lines, usually closed by `[DONE]`.
fn upstream_stream() -> BoxedStrategy<Vec<u8>> {
    (
        prop::collection::vec(
            (
                line(),
                prop::sample::select(vec!["\n", "\r\n", "\n\n", "\r\n\r\n"]),
            ),
            0..24,
        ),
        prop::option::weighted(0.7, Just("data: [DONE]\n\n")),
    )
        .prop_map(|(lines, done)| {
            let mut out = String::new();
            for (line, ending) in lines {
                out.push_str(&line);
                out.push_str(ending);
            }
            out.push_str(done.unwrap_or_default());
            out.into_bytes()
        })
        .boxed()
}

fn seed_stream() -> impl Strategy<Value = Vec<u8>> {
    any::<Index>().prop_map(|seed| {
        let streams = &corpus().streams;
        streams[seed.index(streams.len())].1.clone()
    })
}

/// A byte-level change to a stream.
fn corrupt(mut bytes: Vec<u8>, edits: &[(Index, u8, bool)]) -> Vec<u8> {
    for (at, byte, insert) in edits {
        let at = at.index(bytes.len() + 1);
        match (insert, at < bytes.len()) {
            (false, true) => bytes[at] = *byte,
            _ => bytes.insert(at, *byte),
        }
    }
    bytes
}

/// Any bytes: random, or a generated or seed stream with corrupted bytes.
fn any_stream_bytes() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..2048),
        2 => (upstream_stream(), prop::collection::vec((any::<Index>(), any::<u8>(), any::<bool>()), 0..8))
            .prop_map(|(bytes, edits)| corrupt(bytes, &edits)),
        1 => (seed_stream(), prop::collection::vec((any::<Index>(), any::<u8>(), any::<bool>()), 0..8))
            .prop_map(|(bytes, edits)| corrupt(bytes, &edits)),
    ]
    .boxed()
}

fn valid_stream() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![4 => upstream_stream(), 1 => seed_stream()].boxed()
}

fn cuts() -> impl Strategy<Value = Vec<Index>> {
    prop::collection::vec(any::<Index>(), 0..12)
}

// ----- What a client reads from a chat stream -----

#[derive(Debug, Default, PartialEq)]
struct Answer {
    content: String,
    reasoning: String,
    /// Tool calls by index: name and the concatenated arguments.
    calls: BTreeMap<u64, (String, String)>,
    finish: Vec<String>,
    usage: Vec<Value>,
}

fn answer(out: &[u8]) -> Answer {
    let mut answer = Answer::default();
    let text = String::from_utf8_lossy(out);
    for event in text.split_terminator("\n\n") {
        let Some(data) = event.strip_prefix("data: ") else {
            continue;
        };
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
            answer.usage.push(usage.clone());
        }
        let choice = &chunk["choices"][0];
        let delta = &choice["delta"];
        for text in [&choice["text"], &delta["content"]] {
            answer.content.push_str(text.as_str().unwrap_or_default());
        }
        answer
            .reasoning
            .push_str(delta["reasoning_content"].as_str().unwrap_or_default());
        let calls = delta["tool_calls"].as_array().cloned().unwrap_or_default();
        let legacy = delta
            .get("function_call")
            .map(|c| json!({"index": 0, "function": c}));
        for call in calls.iter().chain(legacy.iter()) {
            let entry = answer
                .calls
                .entry(call["index"].as_u64().unwrap_or(u64::MAX))
                .or_default();
            entry
                .0
                .push_str(call["function"]["name"].as_str().unwrap_or_default());
            entry
                .1
                .push_str(call["function"]["arguments"].as_str().unwrap_or_default());
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            answer.finish.push(reason.to_owned());
        }
    }
    answer
}

/// A legacy stream carrying `pieces` as its tokens.
fn legacy_stream(pieces: &[&str]) -> Vec<u8> {
    let mut out = String::new();
    for piece in pieces {
        out.push_str(&format!("data: {}\n\n", json!({ "response": piece })));
    }
    out.push_str("data: [DONE]\n\n");
    out.into_bytes()
}

/// `text` cut at character boundaries near `cuts`.
fn regroup<'t>(text: &'t str, cuts: &[Index]) -> Vec<&'t str> {
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|c| {
            let mut at = c.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            at
        })
        .collect();
    at.sort_unstable();
    at.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in at {
        out.push(&text[start..cut]);
        start = cut;
    }
    out.push(&text[start..]);
    out
}

// ----- Properties -----

proptest! {
    #![proptest_config(config(1))]

    /// Arbitrary bytes, cut anywhere, then `finish()` or `fail(msg)`: no panic, bounded output
    /// and heap, well-formed events.
    #[test]
    fn chat_stream_survives_arbitrary_bytes(
        setup in setup(),
        bytes in any_stream_bytes(),
        cuts in cuts(),
        end in end(),
    ) {
        let translation = translate(&setup, pieces(&bytes, &cuts), &end);
        check_output(&setup, bytes.len(), &translation, &end)?;
    }

    /// The same upstream bytes give byte-identical output however they are cut: whole, at
    /// random points, and one byte at a time.
    #[test]
    fn chat_stream_is_split_invariant(
        setup in setup(),
        bytes in valid_stream(),
        cuts in cuts(),
        end in end(),
    ) {
        let whole = translate(&setup, [bytes.as_slice()], &end);
        check_output(&setup, bytes.len(), &whole, &end)?;
        let cut = translate(&setup, pieces(&bytes, &cuts), &end);
        prop_assert_eq!(
            String::from_utf8_lossy(&cut.out),
            String::from_utf8_lossy(&whole.out),
            "cut at {:?}",
            cuts
        );
        let bytewise = translate(&setup, bytes.chunks(1), &end);
        prop_assert_eq!(
            String::from_utf8_lossy(&bytewise.out),
            String::from_utf8_lossy(&whole.out),
            "one byte at a time"
        );
        prop_assert_eq!(cut.finished_response, whole.finished_response);
    }

    /// Long streams (a generated stream repeated up to 16 times): output and heap stay within
    /// the linear bound, so nothing grows with the square of the stream.
    #[test]
    fn chat_stream_output_is_linear(
        setup in setup(),
        lines in prop::collection::vec(line(), 1..12),
        times in 1..17usize,
    ) {
        let once: Vec<u8> = lines
            .iter()
            .filter(|line| !line.starts_with("data: [DONE]"))
            .flat_map(|line| format!("{line}\n\n").into_bytes())
            .collect();
        let repeated = once.repeat(times);
        let translation = translate(&setup, [repeated.as_slice()], &End::Finish);
        check_output(&setup, repeated.len(), &translation, &End::Finish)?;
    }

    /// The text filters (`<think>` splitting, stop sequences, the leaked-call guard) give the
    /// same answer however upstream cut the text into tokens.
    #[test]
    fn chat_stream_text_is_token_split_invariant(
        setup in setup_of(vec![Mode::Chat, Mode::Text]),
        tokens in answer_tokens(),
        cuts in cuts(),
    ) {
        let text: String = tokens.concat();
        let whole = answer(&translate(&setup, [legacy_stream(&[&text]).as_slice()], &End::Finish).out);
        if setup.mode == Mode::Chat && setup.options.tool_names.is_empty() && !setup.options.split_think {
            // Plain text: cut where a whole (non-streamed) answer is cut.
            let cut = first_stop(&text, &setup.options.stop);
            prop_assert_eq!(&whole.content, &text[..cut.unwrap_or(text.len())]);
        }
        let as_generated: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let chars: Vec<&str> = regroup(&text, &[]).into_iter().flat_map(|t| {
            t.char_indices().map(move |(i, c)| &t[i..i + c.len_utf8()])
        }).collect();
        for grouping in [as_generated, regroup(&text, &cuts), chars] {
            let split = answer(&translate(&setup, [legacy_stream(&grouping).as_slice()], &End::Finish).out);
            prop_assert_eq!(&split, &whole, "tokens {:?}", grouping);
        }
    }

    /// `whole_output` (a JSON answer replayed as a stream): a well-formed stream, or an
    /// OpenAI-shaped error.
    #[test]
    fn whole_output_survives_arbitrary_answers(
        setup in setup(),
        answer in prop_oneof![
            2 => payload().prop_map(|p| p.to_string()),
            2 => (stream_text(), stream_text(), call_name(), json_value(), usage()).prop_map(|(c, r, n, a, u)| {
                json!({"choices": [{"message": {"role": "assistant", "content": c, "reasoning_content": r,
                    "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": n, "arguments": a}}]},
                    "finish_reason": "tool_calls"}], "usage": u}).to_string()
            }),
            1 => (stream_text(), call_name(), prop::sample::select(vec!["completed", "incomplete", "odd"])).prop_map(|(t, n, status)| {
                json!({"status": status, "output": [
                    {"type": "reasoning", "content": [{"type": "reasoning_text", "text": t}]},
                    {"type": "message", "content": [{"type": "output_text", "text": t}]},
                    {"type": "function_call", "call_id": "c", "name": n, "arguments": "{}"}]}).to_string()
            }),
            1 => json_value().prop_map(|v| v.to_string()),
            1 => any_text(),
        ],
    ) {
        let (result, peak) = peak_heap(|| setup.start().whole_output(&answer));
        match result {
            Ok(out) => {
                let translation = Translation { out, peak, finished_response: None };
                if setup.mode == Mode::Responses {
                    // `whole_output` hands back the bytes; the finished response stays inside.
                    let mut stream = setup.start();
                    let out = stream.whole_output(&answer).expect("the same answer again");
                    let translation = Translation {
                        out,
                        peak,
                        finished_response: stream.finished_response().map(str::to_owned),
                    };
                    check_output(&setup, answer.len(), &translation, &End::Finish)?;
                } else {
                    check_output(&setup, answer.len(), &translation, &End::Finish)?;
                }
            }
            Err(err) => check_error("whole_output", &err)?,
        }
    }

    /// The SSE decoder hands out the same payloads however the bytes are cut, one line each.
    #[test]
    fn sse_decoder_is_split_invariant(bytes in any_stream_bytes(), cuts in cuts()) {
        let decode = |chunks: Vec<&[u8]>| {
            let mut decoder = SseDecoder::new();
            let mut payloads: Vec<Vec<u8>> = Vec::new();
            for chunk in chunks {
                decoder
                    .feed(chunk, |data| payloads.push(data.to_vec()))
                    .expect("lines far below the limit");
            }
            decoder.finish(|data| payloads.push(data.to_vec()));
            payloads
        };
        let whole = decode(vec![bytes.as_slice()]);
        prop_assert_eq!(&decode(pieces(&bytes, &cuts)), &whole);
        prop_assert_eq!(&decode(bytes.chunks(1).collect()), &whole);
        for payload in &whole {
            prop_assert!(!payload.is_empty() && !payload.contains(&b'\n'));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bugs the properties found, as minimal cases
// ---------------------------------------------------------------------------------------------

fn chat_setup(stop: &[&str], tools: bool) -> Setup {
    Setup {
        mode: Mode::Chat,
        options: ChatStreamOptions {
            ctx: context("gpt-4"),
            include_usage: false,
            max_tokens: 100,
            prompt_tokens_estimate: 3,
            tool_names: match tools {
                true => vec!["get_weather".into()],
                false => Vec::new(),
            },
            stop: stop.iter().map(|s| s.to_string()).collect(),
            split_think: false,
            format: StreamFormat::ChatCompletion,
            echo: String::new(),
            legacy_functions: false,
        },
        echo: ResponseEcho::default(),
    }
}

fn answer_for(setup: &Setup, tokens: &[&str]) -> Answer {
    answer(&translate(setup, [legacy_stream(tokens).as_slice()], &End::Finish).out)
}

#[test]
fn overlapping_stop_sequences_cut_the_same_whatever_the_tokens() {
    let setup = chat_setup(&["abcd", "bc"], false);
    let whole = answer_for(&setup, &["abcd"]);
    let split = answer_for(&setup, &["abc", "d"]);
    assert_eq!(split, whole);
}

#[test]
fn a_fenced_leaked_call_is_recovered_whatever_the_tokens() {
    let setup = chat_setup(&[], true);
    let text = "```json\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n```";
    let whole = answer_for(&setup, &[text]);
    assert_eq!(whole.calls.len(), 1, "{whole:?}");
    let split = answer_for(&setup, &["`", &text[1..]]);
    assert_eq!(split, whole);
}

#[test]
fn a_bare_timeout_mark_still_has_a_message() {
    let err = upstream_error_from_message("gateway-timeout:");
    assert_eq!(err.status(), 504);
    assert!(!err.to_body().error.message.trim().is_empty(), "{err:?}");
}
