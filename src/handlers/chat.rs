//! `POST /v1/chat/completions`.

use crate::platform::request::ClientRequest;

use super::RequestContext;
use crate::error::GatewayError;
use crate::platform::ai::{self, AiOutput};
use crate::platform::http::{self, Response};
use crate::platform::ids;
use futures_util::future::try_join_all;

use crate::platform::fetch::fetch_images;
use crate::transform::chat::{chat_completion, chat_completion_from_outputs, CompletionContext};
use crate::transform::chat_request::{
    parse_chat_request, plan_chat_request, remote_image_urls, UpstreamForm,
};
use crate::transform::chat_stream::{
    prompt_tokens_estimate, stream_of_completion, ChatStream, ChatStreamOptions, StreamFormat,
};
use crate::transform::completions::{completion_from_outputs, plan_completion};

pub async fn completions(
    req: &ClientRequest,
    cx: &RequestContext<'_>,
) -> Result<Response, GatewayError> {
    let body = cx.read_body(req).await?;
    let mut request = parse_chat_request(&body)?;
    let tokens_param = match request.max_completion_tokens {
        Some(_) => "max_completion_tokens",
        None => "max_tokens",
    };
    cx.config.limits.apply_to_chat(&mut request, tokens_param)?;
    cx.check_model_name(request.model.as_deref())?;
    // Workers AI vision models take image bytes, not URLs: fetch those first.
    let images = fetch_images(remote_image_urls(&request, &cx.config.aliases)?).await?;
    let plan = plan_chat_request(&request, &cx.config.aliases, &images, UpstreamForm::Chat)?;
    let ctx = new_context("chatcmpl-", &plan.model.requested, cx);
    if !plan.stream || !plan.extra_inputs.is_empty() {
        // `n` choices are `n` runs.
        let inputs = std::iter::once(&plan.upstream_input).chain(&plan.extra_inputs);
        let outputs = run_all(cx, &plan.model.upstream_id, inputs).await?;
        let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
        if plan.stream {
            let completion = chat_completion(&outputs, &ctx, &plan)?;
            let events = stream_of_completion(&completion, plan.include_usage);
            return Ok(http::event_stream(ai::ready_stream(&events)));
        }
        let (body, usage) = chat_completion_from_outputs(&outputs, &ctx, &plan)?;
        cx.log.edit(|line| line.record_usage(usage.into()));
        return Ok(http::json(200, body));
    }

    let output = cx
        .run_ai(&plan.model.upstream_id, &plan.upstream_input)
        .await?;
    let translator = ChatStream::new(ChatStreamOptions::for_chat(&plan, ctx));
    Ok(http::event_stream(
        translated(cx, output, translator).await?,
    ))
}

/// `POST /v1/completions`.
pub async fn legacy_completions(
    req: &ClientRequest,
    cx: &RequestContext<'_>,
) -> Result<Response, GatewayError> {
    let body = cx.read_body(req).await?;
    let plan = plan_completion(&body, &cx.config.aliases, &cx.config.limits)?;
    cx.check_model(&plan.model)?;
    let ctx = new_context("cmpl-", &plan.model.requested, cx);
    let model = plan.model.upstream_id.as_str();
    if !plan.stream {
        let outputs = run_all(cx, model, &plan.upstream_inputs).await?;
        let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
        return Ok(http::json(
            200,
            completion_from_outputs(&outputs, &ctx, &plan)?,
        ));
    }
    let input = plan.upstream_inputs.first().map_or("", String::as_str);
    let output = cx.run_ai(model, input).await?;
    let translator = ChatStream::new(ChatStreamOptions {
        prompt_tokens_estimate: prompt_tokens_estimate(input),
        ctx,
        include_usage: plan.include_usage,
        max_tokens: plan.max_tokens,
        tool_names: Vec::new(),
        stop: plan.stop.clone(),
        split_think: plan.model.spec.capabilities.reasoning,
        format: StreamFormat::TextCompletion,
        echo: match plan.echo {
            true => plan.prompts.first().cloned().unwrap_or_default(),
            false => String::new(),
        },
        legacy_functions: false,
    });
    Ok(http::event_stream(
        translated(cx, output, translator).await?,
    ))
}

/// The client's stream: upstream SSE translated chunk by chunk, or a whole answer replayed.
async fn translated(
    cx: &RequestContext<'_>,
    output: AiOutput,
    mut translator: ChatStream,
) -> Result<worker::web_sys::ReadableStream, GatewayError> {
    Ok(match output {
        AiOutput::Stream(upstream) => cx.translate(&upstream, translator, None).await?,
        // Some models answer JSON even when asked to stream: still give the client a stream.
        AiOutput::Json(json) => ai::ready_stream(&translator.whole_output(&json)?),
        AiOutput::Bytes(bytes) => {
            let mut out = translator.push(&bytes).to_vec();
            out.extend_from_slice(translator.finish());
            ai::ready_stream(&out)
        }
    })
}

/// Runs every input on `model` concurrently; their JSON answers, in order.
pub(super) async fn run_all(
    cx: &RequestContext<'_>,
    model: &str,
    inputs: impl IntoIterator<Item = &String>,
) -> Result<Vec<String>, GatewayError> {
    try_join_all(
        inputs
            .into_iter()
            .map(|input| run_to_json(cx, model, input)),
    )
    .await
}

pub(super) async fn run_to_json(
    cx: &RequestContext<'_>,
    model: &str,
    input: &str,
) -> Result<String, GatewayError> {
    cx.run_ai(model, input).await?.into_json(model)
}

/// A fresh id (`<prefix><uuid>`), the time the request arrived (read once, for its log line),
/// and the model name the client sent.
pub(super) fn new_context(
    prefix: &str,
    requested_model: &str,
    cx: &RequestContext<'_>,
) -> CompletionContext {
    CompletionContext {
        id: ids::prefixed(prefix),
        created: cx.log.arrived_seconds(),
        model: requested_model.to_owned(),
    }
}
