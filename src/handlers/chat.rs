//! `POST /v1/chat/completions`.

use worker::{Request, Response};

use super::{read_body, RequestContext};
use crate::error::GatewayError;
use crate::platform::ai::{self, AiOutput};
use crate::platform::http;
use crate::transform::chat::{chat_completion_from_output, CompletionContext};
use crate::transform::chat_request::plan_chat;
use crate::transform::chat_stream::{prompt_tokens_estimate, ChatStream, ChatStreamOptions};

pub async fn completions(
    req: &mut Request,
    cx: &RequestContext<'_>,
) -> Result<Response, GatewayError> {
    let body = read_body(req, cx.config.max_body_bytes).await?;
    let plan = plan_chat(&body, &cx.config.aliases)?;
    let ctx = CompletionContext {
        id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        created: (js_sys::Date::now() / 1000.0) as u64,
        model: plan.model.requested.clone(),
    };
    let output = ai::run(cx.env, &plan.model.upstream_id, &plan.upstream_input).await?;

    if !plan.stream {
        return match output {
            AiOutput::Json(json) => {
                let body = chat_completion_from_output(&json, &ctx, &plan)?;
                Ok(http::json(200, body))
            }
            AiOutput::Stream(_) | AiOutput::Bytes(_) => Err(GatewayError::Upstream {
                code: None,
                message: format!(
                    "`{}` answered with a byte stream to a non-streaming request.",
                    plan.model.upstream_id
                ),
            }),
        };
    }

    let mut translator = ChatStream::new(ChatStreamOptions {
        prompt_tokens_estimate: prompt_tokens_estimate(&plan.upstream_input),
        ctx,
        include_usage: plan.include_usage,
        max_tokens: plan.max_tokens,
        tool_names: plan.tool_names.clone(),
        stop: plan.stop.clone(),
        split_think: plan.splits_think_tags(),
    });
    let stream = match output {
        AiOutput::Stream(upstream) => ai::translate(&upstream, translator),
        // Some models answer JSON even when asked to stream: still give the client a stream.
        AiOutput::Json(json) => ai::ready_stream(&translator.whole_output(&json)?),
        AiOutput::Bytes(bytes) => {
            let mut out = translator.push(&bytes);
            out.extend(translator.finish());
            ai::ready_stream(&out)
        }
    };
    Ok(http::event_stream(stream))
}
