//! Thin handlers: parse, call the pure core, call Workers AI, write the response.

pub mod audio;
pub mod chat;
pub mod embeddings;
pub mod health;
pub mod images;
pub mod models;
pub mod moderations;
pub mod responses;

use std::cell::RefCell;

use worker::{Env, Request, Response};

use crate::error::GatewayError;
use crate::models::{resolve, ResolvedModel};
use crate::policy::auth::Caller;
use crate::policy::config::GatewayConfig;
use crate::policy::routes::Route;
use crate::transform::audio::AudioTask;

/// What a handler needs besides the request.
pub struct RequestContext<'a> {
    pub env: &'a Env,
    pub config: &'a GatewayConfig,
    /// Who sent the request (`None` on open routes such as `/health`).
    pub caller: Option<Caller>,
    /// The model asked for and the Workers AI model used, for the request's log line.
    pub models_used: RefCell<Option<(String, String)>>,
}

impl RequestContext<'_> {
    /// Refuses a model outside the deployment's `ALLOWED_MODELS`.
    pub fn check_model(&self, model: &ResolvedModel) -> Result<(), GatewayError> {
        *self.models_used.borrow_mut() = Some((model.requested.clone(), model.upstream_id.clone()));
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
}

pub async fn dispatch(
    route: Route,
    req: &mut Request,
    cx: &RequestContext<'_>,
) -> Result<Response, GatewayError> {
    match route {
        Route::Health => Ok(health::health()),
        Route::ListModels => models::list(cx).await,
        Route::RetrieveModel(id) => models::retrieve(&id, cx).await,
        Route::ModelSearch => models::search(req, cx).await,
        Route::ChatCompletions => chat::completions(req, cx).await,
        Route::Completions => chat::legacy_completions(req, cx).await,
        Route::CreateResponse => responses::create(req, cx).await,
        Route::RetrieveResponse(id) => responses::retrieve(&id, cx).await,
        Route::DeleteResponse(id) => responses::delete(&id, cx).await,
        Route::ResponseInputItems(id) => responses::input_items(&id, cx).await,
        Route::Embeddings => embeddings::create(req, cx).await,
        Route::ImageGenerations => images::generate(req, cx).await,
        Route::Transcriptions => audio::transcribe(req, cx, AudioTask::Transcribe).await,
        Route::Translations => audio::transcribe(req, cx, AudioTask::Translate).await,
        Route::Speech => audio::speech(req, cx).await,
        Route::Moderations => moderations::create(req, cx).await,
        Route::NotServed(name) => Err(GatewayError::NotServed(name)),
    }
}

/// Refuses a body whose declared `Content-Length` is over `limit` (413), before reading it.
pub fn declared_length_check(req: &Request, limit: usize) -> Result<(), GatewayError> {
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<usize>().ok());
    match declared.filter(|size| *size > limit) {
        Some(size) => Err(GatewayError::PayloadTooLarge { size, limit }),
        None => Ok(()),
    }
}

/// Reads the body as text, refusing bodies over the configured limit with a 413.
pub async fn read_body(req: &mut Request, limit: usize) -> Result<String, GatewayError> {
    declared_length_check(req, limit)?;
    let body = req.text().await.map_err(|err| {
        GatewayError::invalid(format!("Could not read the request body: {err}"), None)
    })?;
    if body.len() > limit {
        return Err(GatewayError::PayloadTooLarge {
            size: body.len(),
            limit,
        });
    }
    Ok(body)
}
