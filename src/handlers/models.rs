//! `GET /v1/models` and `GET /v1/models/{id}`.

use worker::Response;

use super::RequestContext;
use crate::error::GatewayError;
use crate::models::list_models;
use crate::platform::http;
use crate::transform::openai::ModelList;

fn encode<T: serde::Serialize>(value: &T) -> Result<Response, GatewayError> {
    serde_json::to_string(value)
        .map(|body| http::json(200, body))
        .map_err(|err| GatewayError::Internal(format!("could not encode the model list: {err}")))
}

pub fn list(cx: &RequestContext<'_>) -> Result<Response, GatewayError> {
    let data = list_models(&cx.config.aliases);
    encode(&ModelList {
        object: "list",
        data: &data,
    })
}

pub fn retrieve(id: &str, cx: &RequestContext<'_>) -> Result<Response, GatewayError> {
    let model = list_models(&cx.config.aliases)
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| GatewayError::ModelNotFound {
            model: id.to_owned(),
        })?;
    encode(&model)
}
