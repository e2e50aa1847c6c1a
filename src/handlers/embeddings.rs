//! `POST /v1/embeddings`.

use crate::platform::request::ClientRequest;

use super::chat::run_all;
use super::RequestContext;
use crate::error::GatewayError;
use crate::platform::http::{self, Response};
use crate::transform::embeddings::{embeddings_response, plan_embeddings};

pub async fn create(
    req: &ClientRequest,
    cx: &RequestContext<'_>,
) -> Result<Response, GatewayError> {
    let body = cx.read_body(req).await?;
    let plan = plan_embeddings(&body, &cx.config.aliases)?;
    cx.check_model(&plan.model)?;
    // Batches run concurrently; answers come back in input order.
    let outputs = run_all(cx, &plan.model.upstream_id, &plan.upstream_inputs).await?;
    let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
    Ok(http::json(200, embeddings_response(&outputs, &plan)?))
}
