//! `POST /v1/images/generations`.

use futures_util::future::try_join_all;

use crate::platform::request::ClientRequest;

use super::RequestContext;
use crate::error::GatewayError;
use crate::platform::ai::Whole;
use crate::platform::http::{self, Response};
use crate::platform::{ids, now_seconds};
use crate::transform::images::{
    generated_image, images_response, plan_images, refine_upstream_error, GeneratedImage,
    ImageOutput, ImageRun,
};

pub async fn generate(
    req: &ClientRequest,
    cx: &RequestContext<'_>,
) -> Result<Response, GatewayError> {
    let body = cx.read_body(req).await?;
    // A random starting seed, so each request (and each of its `n` images) differs.
    let plan = plan_images(&body, &cx.config.aliases, ids::random_u32())?;
    cx.check_model(&plan.model)?;
    let model = plan.model.upstream_id.as_str();
    // The images are made concurrently; any failure fails the request, as on OpenAI.
    let images = try_join_all(plan.runs.iter().map(|run| generate_one(cx, model, run)))
        .await
        .map_err(refine_upstream_error)?;
    Ok(http::json(
        200,
        images_response(&images, &plan, now_seconds())?,
    ))
}

async fn generate_one(
    cx: &RequestContext<'_>,
    model: &str,
    run: &ImageRun,
) -> Result<GeneratedImage, GatewayError> {
    let output = match run {
        ImageRun::Json(input) => cx.run_ai(model, input).await?,
        ImageRun::Multipart(fields) => cx.run_ai_form(model, fields).await?,
    };
    match output.whole().await? {
        Whole::Json(json) => generated_image(ImageOutput::Json(&json), model),
        Whole::Bytes(bytes) => generated_image(ImageOutput::Bytes(&bytes), model),
    }
}
