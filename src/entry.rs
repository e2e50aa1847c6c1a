//! The Worker's fetch entry: configuration, CORS, routing, auth, then the handler. Every error
//! leaves here as an OpenAI-shaped JSON response.

use std::cell::OnceCell;
use std::rc::Rc;

use worker::{event, web_sys, Context, Env, Result};

use crate::error::GatewayError;
use crate::handlers::{pipeline, Answer, RequestContext};
use crate::platform::ai::AiCall;
use crate::platform::http::{self, Body, Response};
use crate::platform::ids;
use crate::platform::log::{failed, settled_of, PendingLog};
use crate::platform::rate_limit;
use crate::platform::request::ClientRequest;
use crate::platform::{self, store};
use crate::policy::auth::{caller_from_record, presented_key, Caller};
use crate::policy::config::GatewayConfig;
use crate::policy::log::{RequestLog, TokenUsage};
use crate::policy::rate_limit::{subject_for_ip, subject_for_key};
use crate::policy::routes::{self, RequestHeader, Route};

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string())
        .or_else(|| env.secret(name).ok().map(|s| s.to_string()))
}

thread_local! {
    static CONFIG: OnceCell<Rc<GatewayConfig>> = const { OnceCell::new() };
}

/// The configuration, read once per isolate: vars and secrets cannot change under a running
/// isolate (a new value is a new deployment), and reading ~30 of them across the JS boundary on
/// every request cost more CPU than the rest of a small request. A bad configuration is not
/// kept, so each request reports it.
fn config(env: &Env) -> std::result::Result<Rc<GatewayConfig>, GatewayError> {
    if let Some(config) = CONFIG.with(|cell| cell.get().cloned()) {
        return Ok(config);
    }
    let config = Rc::new(GatewayConfig::load(|name| var(env, name))?);
    CONFIG.with(|cell| {
        let _ = cell.set(Rc::clone(&config));
    });
    Ok(config)
}

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    let req = ClientRequest::new(req);
    let origin = req.header(RequestHeader::Origin);
    let request_id = req
        .header(RequestHeader::XRequestId)
        .filter(|id| !id.is_empty() && id.len() <= 200)
        .unwrap_or_else(|| ids::uuid_v4().to_string());
    // Written when the last holder drops it: here, or at the end of a translated stream.
    let log = PendingLog::new(RequestLog {
        request_id: request_id.clone(),
        method: req.method().to_string(),
        path: req.path().to_owned(),
        ..RequestLog::default()
    });

    let mut response = match config(&env) {
        Err(err) => failed(&err, &log),
        Ok(config) => {
            let (mut response, cors) = if req.method() == "OPTIONS" {
                let requested = req.header(RequestHeader::AccessControlRequestHeaders);
                let cors = config
                    .cors
                    .preflight_headers(origin.as_deref(), requested.as_deref());
                (http::empty(204), cors)
            } else {
                // Boxed as `dispatch` boxes each handler: its own function, not inlined here.
                let handled: Answer<'_> = Box::pin(handle(&req, &env, &config, &log));
                let response = handled.await.unwrap_or_else(|err| failed(&err, &log));
                (response, config.cors.response_headers(origin.as_deref()))
            };
            for (name, value) in cors {
                response.set_header(name, &value);
            }
            response
        }
    };
    response.set_header("x-request-id", &request_id);
    if let Body::Stream(stream) = response.body() {
        // Keeps the request alive until the stream ends or the client leaves, so that its
        // cancel() runs (releasing the translator and writing the log line).
        if let Some(settled) = settled_of(stream) {
            ctx.wait_until(async move {
                let _ = wasm_bindgen_futures::JsFuture::from(settled).await;
            });
        }
    }
    let latency_ms = log.elapsed_ms();
    log.edit(|line| {
        line.status = response.status_code();
        line.latency_ms = latency_ms;
        // Tokens the handler did not note: read from the answer's `usage`, if it has one.
        if line.total_tokens.is_none() {
            let usage = match response.body() {
                Body::Text(text) => TokenUsage::of_json_answer(text),
                Body::Bytes(bytes) => TokenUsage::of_json_answer(bytes),
                Body::Stream(_) | Body::Empty => None,
            };
            if let Some(usage) = usage {
                line.record_usage(usage);
            }
        }
    });
    Ok(response.into_raw())
}

async fn handle(
    req: &ClientRequest,
    env: &Env,
    config: &GatewayConfig,
    log: &Rc<PendingLog>,
) -> std::result::Result<Response, GatewayError> {
    let route = routes::route(req.method(), req.path())?;
    log.edit(|line| line.route = Some(route.name()));
    let (caller, subject) = match route.needs_auth() {
        true => {
            let (caller, key) = authenticate(req, env, config).await?;
            (Some(caller), subject_for_key(&key))
        }
        false => (
            None,
            subject_for_ip(req.header(RequestHeader::CfConnectingIp).as_deref()),
        ),
    };
    let user = caller.as_ref().map(|c| c.user.clone());
    log.edit(|line| line.user = user.clone());
    let rate = match route {
        Route::Health => None,
        _ => rate_limit::check(env, config.rate_limit.as_ref(), &subject).await,
    };
    let mut response = match rate.as_ref().filter(|d| !d.allowed) {
        Some(refused) => failed(&refused.error(), log),
        None => {
            let cx = RequestContext {
                env,
                config,
                caller,
                ai: AiCall {
                    options: config.upstream.ai_run_options(user.as_deref()),
                    timeout_ms: config.upstream.timeout_ms.unwrap_or(0) as f64,
                },
                log: Rc::clone(log),
                body: Default::default(),
            };
            pipeline::serve(route, req, &cx)
                .await
                .unwrap_or_else(|err| failed(&err, log))
        }
    };
    // On every answer once counted, refusals and errors too (as OpenAI sends them).
    for (name, value) in rate.map(|d| d.headers()).unwrap_or_default() {
        response.set_header(name, &value);
    }
    Ok(response)
}

/// The caller and the key they presented (for counting, never for logs): a key from
/// `API_KEYS`/`API_KEY`, else one stored in `GATEWAY_KV`.
async fn authenticate(
    req: &ClientRequest,
    env: &Env,
    config: &GatewayConfig,
) -> std::result::Result<(Caller, String), GatewayError> {
    // With keys in the configuration, the KV binding is looked up only for keys not among them.
    if config.keys.is_empty() && platform::binding(env, store::BINDING).is_none() {
        return Err(GatewayConfig::missing_keys_error());
    }
    let authorization = req.header(RequestHeader::Authorization);
    // `X-API-Key` counts only without a bearer key: read it only then (it is not in the head).
    let x_api_key = match presented_key(authorization.as_deref(), None) {
        Some(_) => None,
        None => req.header(RequestHeader::XApiKey),
    };
    let key = presented_key(authorization.as_deref(), x_api_key.as_deref()).ok_or_else(|| {
        GatewayError::Unauthorized(
            "Missing API key. Send it as `Authorization: Bearer <key>` (what OpenAI SDKs do with api_key) or `X-API-Key: <key>`.".into(),
        )
    })?;
    if let Some(caller) = config.keys.authenticate(key) {
        return Ok((caller, key.to_owned()));
    }
    if let Some(record) = store::stored_key_record(env, key).await? {
        let caller = caller_from_record(&record, platform::now_seconds())?;
        return Ok((caller, key.to_owned()));
    }
    Err(GatewayError::Unauthorized(
        "Incorrect API key provided. Use a key issued for this gateway (not an OpenAI key).".into(),
    ))
}
