//! `/v1/responses`: create (JSON or event stream), retrieve, delete, and list input items.

use serde_json::json;

use crate::platform::request::ClientRequest;

use super::chat::{new_context, run_to_json};
use super::RequestContext;
use crate::error::GatewayError;
use crate::platform::ai::{self, AiOutput, StreamStore};
use crate::platform::fetch::fetch_images;
use crate::platform::http::{self, Response};
use crate::platform::now_seconds;
use crate::platform::store::{self, ResponseStore};
use crate::transform::chat_request::remote_image_urls;
use crate::transform::chat_stream::{ChatStream, ChatStreamOptions};
use crate::transform::responses::{encode, response_from_output, response_object, StoredResponse};
use crate::transform::responses_request::{
    draft_responses, parse_responses_request, plan_responses, previous_response_id, ResponsesPlan,
};

pub async fn create(
    req: &ClientRequest,
    cx: &RequestContext<'_>,
) -> Result<Response, GatewayError> {
    let body = cx.read_body(req).await?;
    let request = parse_responses_request(&body)?;
    let store = ResponseStore::of(cx.env);
    let history = match previous_response_id(&request) {
        None => Vec::new(),
        Some(id) => {
            let store = store
                .as_ref()
                .ok_or_else(|| store::unavailable("previous_response_id"))?;
            store
                .load(cx.user(), id)
                .await?
                .ok_or_else(|| store::previous_not_found(id))?
                .conversation()
        }
    };
    let mut draft = draft_responses(&request, history)?;
    cx.config
        .limits
        .apply_to_chat(&mut draft.chat_request, "max_output_tokens")?;
    cx.check_model_name(request.model.as_deref())?;
    let images = fetch_images(remote_image_urls(&draft.chat_request, &cx.config.aliases)?).await?;
    let mut plan = plan_responses(&request, draft, &cx.config.aliases, &images)?;
    // Without the binding `store` is accepted and ignored, as documented, and the response says
    // it was not stored.
    if store.is_none() {
        plan.echo.store = false;
    }
    let store = store.filter(|_| plan.store);
    let ctx = new_context("resp_", &plan.chat.model.requested, cx);

    if !plan.stream {
        let output =
            run_to_json(cx, &plan.chat.model.upstream_id, &plan.chat.upstream_input).await?;
        let finished = response_from_output(&output, &ctx, &plan)?;
        let response = response_object(
            &ctx,
            &plan.echo,
            finished.status,
            &finished.output,
            Some(finished.usage),
            now_seconds(),
        );
        let json = encode(&response)?;
        if let Some(store) = &store {
            save(store, cx, &ctx.id, &json, &plan).await;
        }
        return Ok(http::json(200, json));
    }

    let output = cx
        .run_ai(&plan.chat.model.upstream_id, &plan.chat.upstream_input)
        .await?;
    let mut translator = ChatStream::responses(
        ChatStreamOptions::for_chat(&plan.chat, ctx.clone()),
        plan.echo.clone(),
    );
    let stream = match output {
        AiOutput::Stream(upstream) => {
            let target = match &store {
                Some(store) => Some(StreamStore {
                    kv: store.raw(),
                    key: ResponseStore::key(cx.user(), &ctx.id),
                    input_items: plan.input_items,
                }),
                None => None,
            };
            cx.translate(&upstream, translator, target).await?
        }
        // JSON mode (and some models) answer whole: still a proper event stream.
        AiOutput::Json(json) => {
            let events = translator.whole_output(&json)?;
            if let (Some(store), Some(response)) = (&store, translator.finished_response()) {
                save(store, cx, &ctx.id, response, &plan).await;
            }
            ai::ready_stream(&events)
        }
        AiOutput::Bytes(bytes) => {
            let mut events = translator.push(&bytes).to_vec();
            events.extend_from_slice(translator.finish());
            ai::ready_stream(&events)
        }
    };
    Ok(http::event_stream(stream))
}

/// Stores a finished response. A storage failure does not cost the client its answer; it is
/// logged, and a later `previous_response_id` gets a clear 404.
async fn save(
    store: &ResponseStore,
    cx: &RequestContext<'_>,
    id: &str,
    response_json: &str,
    plan: &ResponsesPlan,
) {
    let saved = match StoredResponse::record(response_json, &plan.input_items) {
        Ok(record) => store.save(cx.user(), id, &record).await,
        Err(err) => Err(err),
    };
    if let Err(err) = saved {
        worker::console_error!("{err}");
    }
}

fn store_for_reading(cx: &RequestContext<'_>, id: &str) -> Result<ResponseStore, GatewayError> {
    // Without the binding nothing was ever stored.
    ResponseStore::of(cx.env).ok_or_else(|| {
        GatewayError::NotFound(format!(
            "Response with id '{id}' not found: this gateway has no {} KV namespace bound, so it stores no responses. Send the whole conversation in `input` instead.",
            store::BINDING
        ))
    })
}

pub async fn retrieve(id: &str, cx: &RequestContext<'_>) -> Result<Response, GatewayError> {
    let stored = store_for_reading(cx, id)?
        .load(cx.user(), id)
        .await?
        .ok_or_else(|| store::not_found(id))?;
    Ok(http::json(200, encode(&stored.response)?))
}

pub async fn delete(id: &str, cx: &RequestContext<'_>) -> Result<Response, GatewayError> {
    let store = store_for_reading(cx, id)?;
    if store.load(cx.user(), id).await?.is_none() {
        return Err(store::not_found(id));
    }
    store.delete(cx.user(), id).await?;
    let body = json!({"id": id, "object": "response", "deleted": true});
    Ok(http::json(200, body.to_string()))
}

pub async fn input_items(id: &str, cx: &RequestContext<'_>) -> Result<Response, GatewayError> {
    let stored = store_for_reading(cx, id)?
        .load(cx.user(), id)
        .await?
        .ok_or_else(|| store::not_found(id))?;
    Ok(http::json(200, encode(&stored.input_item_list())?))
}
