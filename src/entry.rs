//! The Worker's fetch entry: configuration, CORS, routing, auth, then the handler. Every error
//! leaves here as an OpenAI-shaped JSON response.

use worker::{event, Context, Env, Request, Response, Result};

use crate::error::GatewayError;
use crate::handlers::{self, RequestContext};
use crate::platform::http;
use crate::policy::auth::{presented_key, Caller};
use crate::policy::config::GatewayConfig;
use crate::policy::routes;

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string())
        .or_else(|| env.secret(name).ok().map(|s| s.to_string()))
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let origin = header(&req, "origin");
    let request_id = header(&req, "x-request-id")
        .filter(|id| !id.is_empty() && id.len() <= 200)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());

    let response = match GatewayConfig::load(|name| var(&env, name)) {
        Err(err) => http::error(&err),
        Ok(config) => {
            let (mut response, cors) = if req.method().as_ref() == "OPTIONS" {
                let requested = header(&req, "access-control-request-headers");
                let cors = config
                    .cors
                    .preflight_headers(origin.as_deref(), requested.as_deref());
                (http::empty(204), cors)
            } else {
                let response = handle(&mut req, &env, &config)
                    .await
                    .unwrap_or_else(|err| http::error(&err));
                (response, config.cors.response_headers(origin.as_deref()))
            };
            for (name, value) in cors {
                let _ = response.headers_mut().set(name, &value);
            }
            response
        }
    };
    let _ = response.headers().set("x-request-id", &request_id);
    Ok(response)
}

async fn handle(
    req: &mut Request,
    env: &Env,
    config: &GatewayConfig,
) -> std::result::Result<Response, GatewayError> {
    let route = routes::route(req.method().as_ref(), &req.path())?;
    let caller = match route.needs_auth() {
        true => Some(authenticate(req, config)?),
        false => None,
    };
    let cx = RequestContext {
        env,
        config,
        caller,
    };
    handlers::dispatch(route, req, &cx).await
}

fn authenticate(
    req: &Request,
    config: &GatewayConfig,
) -> std::result::Result<Caller, GatewayError> {
    if config.keys.is_empty() {
        return Err(GatewayConfig::missing_keys_error());
    }
    let authorization = header(req, "authorization");
    let x_api_key = header(req, "x-api-key");
    let key = presented_key(authorization.as_deref(), x_api_key.as_deref()).ok_or_else(|| {
        GatewayError::Unauthorized(
            "Missing API key. Send it as `Authorization: Bearer <key>` (what OpenAI SDKs do with api_key) or `X-API-Key: <key>`.".into(),
        )
    })?;
    config.keys.authenticate(key).ok_or_else(|| {
        GatewayError::Unauthorized(
            "Incorrect API key provided. Use a key issued for this gateway (not an OpenAI key)."
                .into(),
        )
    })
}
