//! `GET /v1/models`, `GET /v1/models/{id}` and the `/models/search` page.

use crate::platform::request::ClientRequest;

use super::RequestContext;
use crate::error::GatewayError;
use crate::models::listing::{filter_entries, list_models, search_entries};
use crate::platform::catalogue::upstream_models;
use crate::platform::http::{self, Response};
use crate::policy::routes::{query_param, RequestHeader};
use crate::transform::openai::ModelList;

/// The search page; `__MODELS_JSON__` is replaced with the entries (HTML-safe JSON).
const SEARCH_PAGE: &str = include_str!("models_search.html");

fn encode<T: serde::Serialize>(value: &T) -> Result<String, GatewayError> {
    serde_json::to_string(value)
        .map_err(|err| GatewayError::Internal(format!("could not encode the model list: {err}")))
}

pub async fn list(cx: &RequestContext<'_>) -> Result<Response, GatewayError> {
    let upstream = upstream_models(cx.env).await;
    let data = list_models(&cx.config.aliases, upstream.as_deref());
    Ok(http::json(
        200,
        encode(&ModelList {
            object: "list",
            data: &data,
        })?,
    ))
}

pub async fn retrieve(id: &str, cx: &RequestContext<'_>) -> Result<Response, GatewayError> {
    let upstream = upstream_models(cx.env).await;
    let model = list_models(&cx.config.aliases, upstream.as_deref())
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| GatewayError::ModelNotFound {
            model: id.to_owned(),
        })?;
    Ok(http::json(200, encode(&model)?))
}

/// HTML for browsers; JSON (`{object:"list", data:[…]}`) for `Accept: application/json` or
/// `?format=json`. `q` and `task` filter the JSON and pre-fill the page's search box.
pub async fn search(
    req: &ClientRequest,
    cx: &RequestContext<'_>,
) -> Result<Response, GatewayError> {
    let url = req.url();
    let query = query_param(url, "q").unwrap_or_default();
    let task = query_param(url, "task").unwrap_or_default();
    let wants_json = query_param(url, "format").as_deref() == Some("json")
        || req
            .header(RequestHeader::Accept)
            .is_some_and(|accept| accept.contains("application/json"));
    let upstream = upstream_models(cx.env).await;
    let entries = search_entries(&cx.config.aliases, upstream.as_deref());
    if wants_json {
        let data = filter_entries(entries, &query, &task);
        return Ok(http::json(
            200,
            encode(&serde_json::json!({"object": "list", "data": data}))?,
        ));
    }
    // `<` escaped so that no text in the data can close the script element.
    let data = encode(&entries)?.replace('<', "\\u003c");
    let page = SEARCH_PAGE.replacen("__MODELS_JSON__", &data, 1);
    Ok(http::html(200, page))
}
