//! Thin handlers: parse, call the pure core, call Workers AI, write the response.

pub mod audio;
pub mod chat;
pub mod embeddings;
pub mod health;
pub mod images;
pub mod models;
pub mod moderations;
pub mod pipeline;
pub mod responses;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use worker::web_sys::ReadableStream;
use worker::Env;

use crate::platform::http::Response;

use crate::platform::request::ClientRequest;

use crate::error::GatewayError;
use crate::models::{resolve, ResolvedModel};
use crate::platform::ai::{self, AiCall, AiOutput, StreamStore};
use crate::platform::log::PendingLog;
use crate::policy::auth::Caller;
use crate::policy::config::GatewayConfig;
use crate::policy::routes::{RequestHeader, Route};
use crate::transform::audio::AudioTask;
use crate::transform::chat_stream::ChatStream;
use crate::transform::json_body::body_text;

/// What a handler needs besides the request.
pub struct RequestContext<'a> {
    pub env: &'a Env,
    pub config: &'a GatewayConfig,
    /// Who sent the request (`None` on open routes such as `/health`).
    pub caller: Option<Caller>,
    /// How this request calls the `AI` binding (AI Gateway options, time limit).
    pub ai: AiCall,
    /// The request's log line.
    pub log: Rc<PendingLog>,
    /// The body, when the pipeline has read it already (with the model of a fallback set in it).
    pub body: RefCell<Option<String>>,
}

impl RequestContext<'_> {
    /// Refuses a model outside the deployment's `ALLOWED_MODELS` or the key's own list.
    pub fn check_model(&self, model: &ResolvedModel) -> Result<(), GatewayError> {
        self.log.edit(|line| {
            // The name the client sent stays, when a fallback model answers instead.
            line.model.get_or_insert_with(|| model.requested.clone());
            line.upstream_model = Some(model.upstream_id.clone());
        });
        let key_models = self.caller.as_ref().and_then(|c| c.models.as_deref());
        self.config.limits.check_model(model, key_models)
    }

    /// The same, before planning (so nothing is fetched for a refused model). A name that does
    /// not resolve passes here: the planner explains it.
    pub fn check_model_name(&self, name: Option<&str>) -> Result<(), GatewayError> {
        match resolve(name.unwrap_or(""), &self.config.aliases) {
            Ok(model) => self.check_model(&model),
            Err(_) => Ok(()),
        }
    }

    /// The caller's user name, which scopes what they store.
    pub fn user(&self) -> &str {
        self.caller.as_ref().map_or("default", |c| c.user.as_str())
    }

    /// The request body: the one the pipeline read, or read now (413 over `MAX_BODY_BYTES`).
    pub async fn read_body(&self, req: &ClientRequest) -> Result<String, GatewayError> {
        let prefetched = self.body.borrow_mut().take();
        match prefetched {
            Some(body) => Ok(body),
            None => read_body(req, self.config.max_body_bytes).await,
        }
    }

    pub async fn run_ai(&self, model: &str, input_json: &str) -> Result<AiOutput, GatewayError> {
        ai::run(self.env, &self.ai, model, input_json).await
    }

    pub async fn run_ai_form(
        &self,
        model: &str,
        fields: &[(&str, String)],
    ) -> Result<AiOutput, GatewayError> {
        ai::run_form(self.env, &self.ai, model, fields).await
    }

    pub async fn run_ai_byte_list(
        &self,
        model: &str,
        bytes: &[u8],
    ) -> Result<AiOutput, GatewayError> {
        ai::run_byte_list(self.env, &self.ai, model, bytes).await
    }

    /// An upstream stream translated for the client; the log line is written when it ends.
    pub async fn translate(
        &self,
        upstream: &ReadableStream,
        translator: ChatStream,
        store: Option<StreamStore<'_>>,
    ) -> Result<ReadableStream, GatewayError> {
        ai::translate(upstream, translator, store, &self.log, self.ai.timeout_ms).await
    }
}

/// A handler's answer, still to come. Each handler's future is boxed so that it stays its own
/// function: awaited in place, all of them were inlined into one state machine of ~150 K wasm
/// instructions. V8 optimises a function whole, so once chat requests made it hot its compiler
/// threads worked through every handler; and each enclosing future was as large as the largest
/// handler's (the entry's `handle` future was 12.5 KB).
pub type Answer<'a> = Pin<Box<dyn Future<Output = Result<Response, GatewayError>> + 'a>>;

pub fn dispatch<'a>(
    route: Route,
    req: &'a ClientRequest,
    cx: &'a RequestContext<'a>,
) -> Answer<'a> {
    match route {
        Route::Health => Box::pin(std::future::ready(Ok(health::health()))),
        Route::ListModels => Box::pin(models::list(cx)),
        Route::RetrieveModel(id) => Box::pin(async move { models::retrieve(&id, cx).await }),
        Route::ModelSearch => Box::pin(models::search(req, cx)),
        Route::ChatCompletions => Box::pin(chat::completions(req, cx)),
        Route::Completions => Box::pin(chat::legacy_completions(req, cx)),
        Route::CreateResponse => Box::pin(responses::create(req, cx)),
        Route::RetrieveResponse(id) => Box::pin(async move { responses::retrieve(&id, cx).await }),
        Route::DeleteResponse(id) => Box::pin(async move { responses::delete(&id, cx).await }),
        Route::ResponseInputItems(id) => {
            Box::pin(async move { responses::input_items(&id, cx).await })
        }
        Route::Embeddings => Box::pin(embeddings::create(req, cx)),
        Route::ImageGenerations => Box::pin(images::generate(req, cx)),
        Route::Transcriptions => Box::pin(audio::transcribe(req, cx, AudioTask::Transcribe)),
        Route::Translations => Box::pin(audio::transcribe(req, cx, AudioTask::Translate)),
        Route::Speech => Box::pin(audio::speech(req, cx)),
        Route::Moderations => Box::pin(moderations::create(req, cx)),
        Route::NotServed(name) => Box::pin(std::future::ready(Err(GatewayError::NotServed(name)))),
    }
}

/// Refuses a body whose declared `Content-Length` is over `limit` (413), before reading it.
pub fn declared_length_check(req: &ClientRequest, limit: usize) -> Result<(), GatewayError> {
    let declared = req
        .header(RequestHeader::ContentLength)
        .and_then(|v| v.trim().parse::<usize>().ok());
    match declared.filter(|size| *size > limit) {
        Some(size) => Err(GatewayError::PayloadTooLarge { size, limit }),
        None => Ok(()),
    }
}

/// Reads the body as UTF-8 text, refusing bodies over the configured limit with a 413. The bytes
/// are read as they are (not decoded by JS, which would replace invalid UTF-8 silently).
pub async fn read_body(req: &ClientRequest, limit: usize) -> Result<String, GatewayError> {
    declared_length_check(req, limit)?;
    let bytes = req.bytes().await.map_err(|err| {
        GatewayError::invalid(format!("Could not read the request body: {err}"), None)
    })?;
    if bytes.len() > limit {
        return Err(GatewayError::PayloadTooLarge {
            size: bytes.len(),
            limit,
        });
    }
    body_text(bytes)
}
