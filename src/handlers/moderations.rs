//! `POST /v1/moderations`.

use crate::platform::request::ClientRequest;

use super::chat::run_all;
use super::RequestContext;
use crate::error::GatewayError;
use crate::platform::http::{self, Response};
use crate::platform::ids;
use crate::transform::moderations::{moderation_response, plan_moderation};

pub async fn create(
    req: &ClientRequest,
    cx: &RequestContext<'_>,
) -> Result<Response, GatewayError> {
    let body = cx.read_body(req).await?;
    let plan = plan_moderation(&body, &cx.config.aliases)?;
    cx.check_model(&plan.model)?;
    // Each text is judged on its own, concurrently; results come back in input order.
    let outputs = run_all(cx, &plan.model.upstream_id, &plan.upstream_inputs).await?;
    let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
    let id = ids::prefixed("modr-");
    Ok(http::json(200, moderation_response(&outputs, &plan, &id)?))
}
