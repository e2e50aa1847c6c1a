//! What happens around a model request: its `Idempotency-Key`, the response cache, the upstream
//! its model is routed to (Workers AI or the OpenAI-compatible one), and the fallback chain.
//! Requests that use none of these go straight to their handler, with no extra parsing.

use wasm_bindgen::JsValue;

use crate::platform::request::ClientRequest;

use super::{dispatch, Answer, RequestContext};
use crate::error::GatewayError;
use crate::models::resolve;
use crate::platform::ai::error_message;
use crate::platform::http::{self, Body, Response};
use crate::platform::keep;
use crate::platform::log::{failed, logged_stream};
use crate::platform::openai;
use crate::platform::store::{kv_delete, kv_get, kv_put, sha256};
use crate::policy::cache::{CacheAsk, CacheDecision};
use crate::policy::idempotency::{self, IdempotencyStep, KeptResponse};
use crate::policy::log::TokenUsage;
use crate::policy::routes::{RequestHeader, Route};
use crate::policy::upstream::{is_retryable, model_of, with_model, Target, OPENAI_PREFIX};

/// A request straight to its handler, or, for a model request that uses an `Idempotency-Key`,
/// the response cache or an upstream beyond the binding, through those first.
pub fn serve<'a>(route: Route, req: &'a ClientRequest, cx: &'a RequestContext<'a>) -> Answer<'a> {
    let idempotency_key = req.header(RequestHeader::IdempotencyKey);
    let Some(openai_path) = route.json_model_path() else {
        if idempotency_key.is_some() {
            cx.log.edit(|line| line.idempotency = Some("unsupported"));
        }
        return dispatch(route, req, cx);
    };
    let config = cx.config;
    if idempotency_key.is_none()
        && !config.cache.enabled()
        && !config.upstream.routes_beyond_binding()
    {
        return dispatch(route, req, cx);
    }
    Box::pin(around_model(route, openai_path, idempotency_key, req, cx))
}

async fn around_model(
    route: Route,
    openai_path: &'static str,
    idempotency_key: Option<String>,
    req: &ClientRequest,
    cx: &RequestContext<'_>,
) -> Result<Response, GatewayError> {
    let body = cx.read_body(req).await?;
    let claim = match idempotency_key {
        None => None,
        Some(key) => match begin_idempotent(cx, route.name(), &key, &body).await? {
            Begun::Replayed(response) => return Ok(response),
            Begun::Claimed(claim) => Some(claim),
            Begun::Untracked => None,
        },
    };
    let cache_ask = CacheAsk::from_headers(
        req.header(RequestHeader::XGatewayCache).as_deref(),
        req.header(RequestHeader::CacheControl).as_deref(),
    );
    let result = cached(route, openai_path, req, cx, body, cache_ask).await;
    match claim {
        Some(claim) => claim.finish(result, cx).await,
        None => result,
    }
}

/// Answers from the response cache when it may, else asks upstream and keeps a 200.
async fn cached(
    route: Route,
    openai_path: &str,
    req: &ClientRequest,
    cx: &RequestContext<'_>,
    body: String,
    ask: CacheAsk,
) -> Result<Response, GatewayError> {
    let model = model_of(&body);
    cx.log.edit(|line| line.model.clone_from(&model));
    let hash = match cx.config.cache.enabled() {
        true => cache_hash(route.name(), cx, &body, model.as_deref(), ask).await,
        false => None,
    };
    if let Some(hash) = &hash {
        if let Some(kept) = keep::cache_lookup(cx.env, hash).await {
            note_cache(cx, "hit");
            note_usage(cx, &kept);
            let mut response = keep::response_of(&kept);
            response.set_header("x-cache", "HIT");
            return Ok(response);
        }
    }
    let result = through_chain(route, openai_path, req, cx, body, model).await;
    let Some(hash) = hash else {
        return result;
    };
    let mut response = match result {
        Ok(response) => response,
        Err(err) => failed(&err, &cx.log),
    };
    response.set_header("x-cache", "MISS");
    if response.status_code() != 200 {
        note_cache(cx, "miss (not stored: error)");
        return Ok(response);
    }
    // A fallback's answer is not what the model asked for would say: ask again next time.
    if response.header("x-gateway-fallback-from").is_some() {
        note_cache(cx, "miss (not stored: fallback)");
        return Ok(response);
    }
    // `whole` keeps the headers set so far, X-Cache among them.
    let (response, kept) = keep::whole(response).await?;
    keep::cache_store(cx.env, &hash, &kept, cx.config.cache.ttl_seconds).await;
    note_cache(cx, "miss");
    Ok(response)
}

/// The hash a cacheable request is filed under; `None` (and a `bypass` note) otherwise.
async fn cache_hash(
    route: &str,
    cx: &RequestContext<'_>,
    body: &str,
    model: Option<&str>,
    ask: CacheAsk,
) -> Option<String> {
    let decision = match serde_json::from_str::<serde_json::Value>(body) {
        // Not JSON: the handler explains; nothing to cache.
        Err(_) => CacheDecision::Bypass("invalid body"),
        Ok(value) => {
            let model = model.unwrap_or("");
            // The model that will answer: a renamed alias must not return the old model's answers.
            let upstream = match cx.config.upstream.target(model) {
                Ok(Target::OpenAi(name)) => format!("{OPENAI_PREFIX}{name}"),
                _ => resolve(model, &cx.config.aliases)
                    .map(|m| m.upstream_id)
                    .unwrap_or_default(),
            };
            cx.config
                .cache
                .decide(route, &value, &upstream, cx.user(), ask)
        }
    };
    match decision {
        CacheDecision::Use { key_material } => Some(sha256(&key_material).await),
        CacheDecision::Bypass(why) => {
            note_cache(cx, &format!("bypass: {why}"));
            None
        }
    }
}

/// Tries the model asked for, then each fallback of its chain while the answer is a rate limit,
/// a server error or a timeout. The headers say which model and upstream answered.
async fn through_chain(
    route: Route,
    openai_path: &str,
    req: &ClientRequest,
    cx: &RequestContext<'_>,
    mut body: String,
    model: Option<String>,
) -> Result<Response, GatewayError> {
    let Some(model) = model else {
        // No model named: the handler uses its default, or explains.
        *cx.body.borrow_mut() = Some(body);
        return dispatch(route, req, cx).await;
    };
    let chain = cx.config.upstream.chain(&model);
    let last = chain.len() - 1;
    for (index, candidate) in chain.iter().copied().enumerate() {
        let attempt_body = match index {
            0 if last == 0 => std::mem::take(&mut body),
            0 => body.clone(),
            _ => with_model(&body, candidate)?,
        };
        let target = cx.config.upstream.target(candidate)?;
        let result = attempt(
            &route,
            openai_path,
            req,
            cx,
            candidate,
            &target,
            attempt_body,
        )
        .await;
        let status = match &result {
            Ok(response) => response.status_code(),
            Err(err) => err.status(),
        };
        cx.log.edit(|line| {
            line.attempts = index as u32 + 1;
            line.upstream = Some(target.name());
        });
        if index < last && is_retryable(status) {
            let why = match &result {
                Err(err) => err.to_string(),
                Ok(_) => format!("HTTP {status}"),
            };
            worker::console_warn!(
                "{candidate} failed ({why}); trying {}",
                chain.get(index + 1).copied().unwrap_or_default()
            );
            continue;
        }
        let mut response = result?;
        response.set_header("x-gateway-upstream", target.name());
        response.set_header("x-gateway-model", candidate);
        if index > 0 {
            response.set_header("x-gateway-fallback-from", &model);
        }
        return Ok(response);
    }
    Err(GatewayError::Internal(
        "the fallback chain was empty".into(),
    ))
}

/// One model of the chain.
async fn attempt(
    route: &Route,
    openai_path: &str,
    req: &ClientRequest,
    cx: &RequestContext<'_>,
    candidate: &str,
    target: &Target<'_>,
    body: String,
) -> Result<Response, GatewayError> {
    match target {
        Target::WorkersAi => {
            *cx.body.borrow_mut() = Some(body);
            dispatch(route.clone(), req, cx).await
        }
        Target::OpenAi(name) => {
            let upstream = cx.config.upstream.openai.as_ref().ok_or_else(|| {
                GatewayError::Internal("routed to an unconfigured upstream".into())
            })?;
            cx.log.edit(|line| {
                line.model.get_or_insert_with(|| candidate.to_owned());
                line.upstream_model = Some((*name).to_owned());
            });
            let key_models = cx.caller.as_ref().and_then(|c| c.models.as_deref());
            // By the name sent only: `openai/gpt-4` must not pass as the Workers AI alias `gpt-4`.
            cx.config
                .limits
                .check_names(candidate, candidate, key_models)?;
            let body = match *name == candidate {
                true => body,
                false => with_model(&body, name)?,
            };
            let response = openai::forward(upstream, openai_path, &body, cx.ai.timeout_ms).await?;
            // A whole JSON answer is small: read it, so the log line can carry its tokens.
            // Streams pass through untouched.
            let ok = response.status_code() == 200;
            if ok && response.content_type().starts_with("text/event-stream") {
                // The log line waits for the stream's end.
                if let Body::Stream(stream) = response.body() {
                    return Ok(http::event_stream(logged_stream(stream, &cx.log)));
                }
            }
            match ok && response.content_type().starts_with("application/json") {
                true => Ok(keep::whole(response).await?.0),
                false => Ok(response),
            }
        }
    }
}

/// The outcome of looking up an `Idempotency-Key`.
enum Begun {
    /// No KV namespace: the key cannot be honoured (the log says so).
    Untracked,
    Claimed(Claim),
    Replayed(Response),
}

/// A key claimed for this request: finished with its response, or released on failure.
struct Claim {
    kv: JsValue,
    key: String,
    body_hash: String,
    ttl_seconds: u64,
}

async fn begin_idempotent(
    cx: &RequestContext<'_>,
    route: &str,
    key: &str,
    body: &str,
) -> Result<Begun, GatewayError> {
    idempotency::check_key(key)?;
    let Some(kv) = keep::kv(cx.env) else {
        note_idempotency(cx, "unavailable");
        return Ok(Begun::Untracked);
    };
    let kv_key = format!("idempotency/{}/{}", cx.user(), sha256(key).await);
    let body_hash = sha256(&format!("{route}\n{body}")).await;
    let stored = kv_get(&kv, &kv_key).await.map_err(|err| {
        GatewayError::Internal(format!(
            "could not read the Idempotency-Key record: {}",
            error_message(&err)
        ))
    })?;
    let step =
        idempotency::decide(stored.as_string().as_deref(), &body_hash).inspect_err(|err| {
            let outcome = match err.status() {
                409 => "in_progress",
                _ => "reused",
            };
            note_idempotency(cx, outcome);
        })?;
    match step {
        IdempotencyStep::Replay(kept) => {
            note_idempotency(cx, "replayed");
            cx.log.edit(|line| line.model = model_of(body));
            note_usage(cx, &kept);
            let mut response = keep::response_of(&kept);
            response.set_header("idempotent-replayed", "true");
            Ok(Begun::Replayed(response))
        }
        IdempotencyStep::Run => {
            let claim = idempotency::claim(&body_hash);
            let ttl = idempotency::IN_FLIGHT_TTL_SECONDS as f64;
            if let Err(err) = kv_put(&kv, &kv_key, &claim, ttl).await {
                return Err(GatewayError::Internal(format!(
                    "could not record the Idempotency-Key: {}",
                    error_message(&err)
                )));
            }
            Ok(Begun::Claimed(Claim {
                kv,
                key: kv_key,
                body_hash,
                ttl_seconds: cx.config.idempotency_ttl,
            }))
        }
    }
}

impl Claim {
    /// Keeps a successful response for replays (a stream as it is sent); releases the key after
    /// a failure, so the client's retry runs again.
    async fn finish(
        self,
        result: Result<Response, GatewayError>,
        cx: &RequestContext<'_>,
    ) -> Result<Response, GatewayError> {
        let response = match result {
            Ok(response) if (200..300).contains(&response.status_code()) => response,
            other => {
                self.release().await;
                return other;
            }
        };
        let content_type = response.content_type().to_owned();
        if matches!(response.body(), Body::Stream(_))
            && content_type.starts_with("text/event-stream")
        {
            let meta = idempotency::finished(
                &self.body_hash,
                KeptResponse {
                    status: response.status_code(),
                    content_type,
                    body: String::new(),
                    base64: false,
                },
            );
            note_idempotency(cx, "stored");
            return Ok(keep::kept_stream(
                response,
                &self.kv,
                &self.key,
                &meta,
                self.ttl_seconds,
            ));
        }
        let (response, kept) = match keep::whole(response).await {
            Ok(whole) => whole,
            Err(err) => {
                // The answer could not be read: nothing to replay, so the retry runs again.
                self.release().await;
                return Err(err);
            }
        };
        note_idempotency(cx, "stored");
        let record = idempotency::finished(&self.body_hash, kept);
        if let Err(err) = kv_put(&self.kv, &self.key, &record, self.ttl_seconds as f64).await {
            worker::console_warn!(
                "could not keep the response for its Idempotency-Key: {}",
                error_message(&err)
            );
        }
        Ok(response)
    }

    async fn release(&self) {
        if let Err(err) = kv_delete(&self.kv, &self.key).await {
            worker::console_warn!(
                "could not release the Idempotency-Key: {}",
                error_message(&err)
            );
        }
    }
}

fn note_cache(cx: &RequestContext<'_>, outcome: &str) {
    cx.log.edit(|line| line.cache = Some(outcome.to_owned()));
}

fn note_idempotency(cx: &RequestContext<'_>, outcome: &'static str) {
    cx.log.edit(|line| line.idempotency = Some(outcome));
}

/// Tokens of a replayed answer (so the log shows what it would have cost).
fn note_usage(cx: &RequestContext<'_>, kept: &KeptResponse) {
    if kept.base64 {
        return;
    }
    if let Some(usage) = TokenUsage::of_json_answer(&kept.body) {
        cx.log.edit(|line| line.record_usage(usage));
    }
}
