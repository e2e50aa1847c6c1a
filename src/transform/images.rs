//! `POST /v1/images/generations`: OpenAI's request → one Workers AI run per image, in the input
//! form of the model's family, and the images back as `b64_json` or `data:` URLs.
//!
//! Families (shared/reference/workers-ai-models):
//! - flux-1-schnell: JSON `{prompt, steps}` only (no size, no seed) → `{image: base64}`;
//! - flux-2-*: a multipart form (`prompt`, `width`, `height`, `seed`) → `{image: base64}`;
//! - stable-diffusion-xl-*, dreamshaper-8-lcm: JSON `{prompt, width, height, seed}` → PNG bytes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::media::sniff_image_type;
use crate::error::GatewayError;
use crate::models::{self, AliasOverrides, Family, ResolvedModel};

#[derive(Debug, Default, Deserialize)]
pub struct ImageRequest {
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub n: Option<i64>,
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub response_format: Option<String>,
    #[serde(default)]
    pub negative_prompt: Option<String>,
}

/// OpenAI's default model when the request names none.
const DEFAULT_MODEL: &str = "dall-e-2";
/// OpenAI's limit on `n`.
const MAX_IMAGES: i64 = 10;
/// flux-1-schnell's documented `maxLength` for `prompt`.
const FLUX1_MAX_PROMPT_CHARS: usize = 2048;
/// Width and height the SDXL-style schemas accept; flux-2 documents none, so the same range.
const MIN_SIDE: u32 = 256;
const MAX_SIDE: u32 = 2048;

/// How a model takes its input and gives its image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImageFamily {
    /// JSON `{prompt, steps}`; fixed 1024×1024 output, no seed.
    Flux1,
    /// Multipart form; `{image: base64}`.
    Flux2,
    /// JSON with `width`/`height`/`seed`; raw image bytes back.
    StableDiffusion,
}

impl ImageFamily {
    fn of(model: &ResolvedModel) -> Self {
        let id = model.upstream_id.as_str();
        if id.contains("flux-1") {
            ImageFamily::Flux1
        } else if id.contains("flux-2") {
            ImageFamily::Flux2
        } else {
            ImageFamily::StableDiffusion
        }
    }
}

/// One Workers AI run: a JSON input, or the fields of a multipart form (built on the JS side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRun {
    Json(String),
    Multipart(Vec<(&'static str, String)>),
}

#[derive(Debug)]
pub struct ImagePlan {
    pub model: ResolvedModel,
    /// One run per image; each with its own seed where the model takes one.
    pub runs: Vec<ImageRun>,
    as_data_url: bool,
}

#[derive(Serialize)]
struct JsonInput<'a> {
    prompt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    negative_prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u32>,
}

/// Plans the runs. `base_seed` comes from the shell (random per request); image `i` gets
/// `base_seed + i`, so `n` images are `n` different images.
pub fn plan_images(
    body: &str,
    overrides: &AliasOverrides,
    base_seed: u32,
) -> Result<ImagePlan, GatewayError> {
    let request: ImageRequest = super::json_body::parse_body(
        body,
        r#"{"model":"dall-e-3","prompt":"A lighthouse at dawn"}"#,
    )?;
    let requested = request.model.as_deref().unwrap_or(DEFAULT_MODEL);
    let model = models::resolve(requested, overrides)?;
    if model.listed && model.spec.family != Family::TextToImage {
        return Err(GatewayError::invalid(
            format!(
                "Model `{}` ({}) is for {}, not image generation. Use an image model such as `dall-e-3` (@cf/black-forest-labs/flux-1-schnell) or `@cf/black-forest-labs/flux-2-klein-4b`.",
                model.requested, model.upstream_id, model.spec.family.task_name()
            ),
            Some("model"),
        ));
    }
    let prompt = request.prompt.as_deref().unwrap_or("").trim();
    if prompt.is_empty() {
        return Err(GatewayError::invalid(
            "`prompt` is required: a text description of the image.",
            Some("prompt"),
        ));
    }
    let n = request.n.unwrap_or(1);
    if !(1..=MAX_IMAGES).contains(&n) {
        return Err(GatewayError::invalid(
            format!("`n` must be between 1 and {MAX_IMAGES}; got {n}."),
            Some("n"),
        ));
    }
    let as_data_url = match request.response_format.as_deref() {
        // OpenAI's GPT image models always answer base64; DALL·E defaults to URLs.
        None => !model.requested.starts_with("gpt-image"),
        Some("url") => true,
        Some("b64_json") => false,
        Some(other) => {
            return Err(GatewayError::invalid(
                format!("`response_format` must be `url` or `b64_json`; got `{other}`."),
                Some("response_format"),
            ))
        }
    };
    let family = ImageFamily::of(&model);
    let size = parse_size(request.size.as_deref(), family, &model)?;
    if family == ImageFamily::Flux1 && prompt.chars().count() > FLUX1_MAX_PROMPT_CHARS {
        return Err(GatewayError::invalid(
            format!(
                "`prompt` is {} characters; {} takes at most {FLUX1_MAX_PROMPT_CHARS}.",
                prompt.chars().count(),
                model.upstream_id
            ),
            Some("prompt"),
        ));
    }
    let negative_prompt = request
        .negative_prompt
        .as_deref()
        .filter(|p| !p.trim().is_empty() && family == ImageFamily::StableDiffusion);
    let runs = (0..n as u32)
        .map(|index| {
            let seed = base_seed.wrapping_add(index);
            match family {
                ImageFamily::Flux1 => encode(&JsonInput {
                    prompt,
                    negative_prompt: None,
                    width: None,
                    height: None,
                    seed: None,
                }),
                ImageFamily::Flux2 => {
                    let (width, height) = size.unwrap_or((1024, 1024));
                    Ok(ImageRun::Multipart(vec![
                        ("prompt", prompt.to_owned()),
                        ("width", width.to_string()),
                        ("height", height.to_string()),
                        ("seed", seed.to_string()),
                    ]))
                }
                ImageFamily::StableDiffusion => encode(&JsonInput {
                    prompt,
                    negative_prompt,
                    width: size.map(|(w, _)| w),
                    height: size.map(|(_, h)| h),
                    seed: Some(seed),
                }),
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(ImagePlan {
        model,
        runs,
        as_data_url,
    })
}

fn encode(input: &JsonInput<'_>) -> Result<ImageRun, GatewayError> {
    serde_json::to_string(input)
        .map(ImageRun::Json)
        .map_err(|err| GatewayError::Internal(format!("could not encode the image request: {err}")))
}

/// `"WxH"` → pixels, checked against what the model can make. `None` or `"auto"`: its default.
fn parse_size(
    size: Option<&str>,
    family: ImageFamily,
    model: &ResolvedModel,
) -> Result<Option<(u32, u32)>, GatewayError> {
    let size = match size.map(str::trim) {
        None | Some("") | Some("auto") => return Ok(None),
        Some(size) => size,
    };
    let parsed = size
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)));
    let Some((width, height)) = parsed else {
        return Err(GatewayError::invalid(
            format!("`size` must be `auto` or WIDTHxHEIGHT in pixels, such as `1024x1024`; got `{size}`."),
            Some("size"),
        ));
    };
    match family {
        ImageFamily::Flux1 if (width, height) != (1024, 1024) => Err(GatewayError::invalid(
            format!(
                "{} (`{}`) makes 1024x1024 images only; got `{size}`. For other sizes use `@cf/black-forest-labs/flux-2-klein-4b` or `@cf/stabilityai/stable-diffusion-xl-base-1.0` (sides {MIN_SIDE} to {MAX_SIDE}).",
                model.upstream_id, model.requested
            ),
            Some("size"),
        )),
        ImageFamily::Flux1 => Ok(None),
        _ if !(MIN_SIDE..=MAX_SIDE).contains(&width) || !(MIN_SIDE..=MAX_SIDE).contains(&height) => {
            Err(GatewayError::invalid(
                format!(
                    "`size` {size} is outside what {} makes: width and height from {MIN_SIDE} to {MAX_SIDE} pixels.",
                    model.upstream_id
                ),
                Some("size"),
            ))
        }
        _ => Ok(Some((width, height))),
    }
}

/// What one run answered: the `{image: base64}` JSON, or the image bytes themselves.
pub enum ImageOutput<'a> {
    Json(&'a str),
    Bytes(&'a [u8]),
}

/// One finished image: its type (read from its bytes) and its base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedImage {
    pub media_type: &'static str,
    pub base64: String,
}

fn not_an_image(model: &str, what: &str) -> GatewayError {
    GatewayError::Upstream {
        code: None,
        message: format!("`{model}` did not return an image ({what})."),
    }
}

#[derive(Deserialize)]
struct ImageJson {
    #[serde(default)]
    image: Option<String>,
}

/// Reads one run's answer. Base64 from upstream is passed on as it is; only its first bytes are
/// decoded, to learn the image type.
pub fn generated_image(
    output: ImageOutput<'_>,
    model: &str,
) -> Result<GeneratedImage, GatewayError> {
    let (media_type, base64) = match output {
        ImageOutput::Bytes(bytes) => (sniff_image_type(bytes), STANDARD.encode(bytes)),
        ImageOutput::Json(json) => {
            let parsed: ImageJson = serde_json::from_str(json)
                .map_err(|_| not_an_image(model, "the answer is not `{image}` JSON"))?;
            let base64 = parsed
                .image
                .filter(|b| !b.is_empty())
                .ok_or_else(|| not_an_image(model, "the answer has no `image`"))?;
            // 16 base64 characters are 12 bytes: enough for every signature we read.
            let head = base64.get(..16).unwrap_or(&base64);
            let head = STANDARD.decode(head).unwrap_or_default();
            (sniff_image_type(&head), base64)
        }
    };
    let media_type =
        media_type.ok_or_else(|| not_an_image(model, "its bytes are no known image format"))?;
    Ok(GeneratedImage { media_type, base64 })
}

/// A prompt the model's safety filter refused (Workers AI 3030) is the client's to fix: a 400
/// with OpenAI's `content_policy_violation`, never a stand-in image.
pub fn refine_upstream_error(err: GatewayError) -> GatewayError {
    match err {
        GatewayError::Upstream {
            code: Some(3030),
            message,
        } => GatewayError::InvalidRequest {
            message: format!(
                "Your prompt was rejected by the image model's safety filter (Workers AI 3030: {}). Change the prompt and try again.",
                message.trim_end_matches('.')
            ),
            param: Some("prompt".into()),
            code: Some("content_policy_violation"),
        },
        other => other,
    }
}

#[derive(Serialize)]
struct ImagesResponse<'a> {
    created: u64,
    data: Vec<ImageData<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_format: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ImageData<'a> {
    Base64 { b64_json: &'a str },
    Url { url: String },
}

/// The `ImagesResponse` body for the finished images, in request order.
pub fn images_response(
    images: &[GeneratedImage],
    plan: &ImagePlan,
    created: u64,
) -> Result<String, GatewayError> {
    let data = images
        .iter()
        .map(|image| match plan.as_data_url {
            true => ImageData::Url {
                url: format!("data:{};base64,{}", image.media_type, image.base64),
            },
            false => ImageData::Base64 {
                b64_json: &image.base64,
            },
        })
        .collect();
    // `output_format` only when every image has one of the formats the schema names.
    let format_of = |image: &GeneratedImage| match image.media_type {
        "image/png" => Some("png"),
        "image/jpeg" => Some("jpeg"),
        "image/webp" => Some("webp"),
        _ => None,
    };
    let first = images.first().and_then(format_of);
    let output_format = first.filter(|f| images.iter().all(|i| format_of(i) == Some(f)));
    serde_json::to_string(&ImagesResponse {
        created,
        data,
        output_format,
    })
    .map_err(|err| GatewayError::Internal(format!("could not encode the images: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 13, 10, 26, 10, 0, 0, 0, 13, b'I', b'H',
    ];
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1];

    fn plan_for(body: &str) -> Result<ImagePlan, GatewayError> {
        plan_images(body, &AliasOverrides::default(), 7)
    }

    fn json_input(run: &ImageRun) -> serde_json::Value {
        match run {
            ImageRun::Json(json) => serde_json::from_str(json).unwrap(),
            ImageRun::Multipart(_) => panic!("expected JSON"),
        }
    }

    #[test]
    fn flux1_gets_only_the_prompt() {
        let plan = plan_for(r#"{"model":"dall-e-3","prompt":" A cat ","n":2,"size":"1024x1024"}"#)
            .unwrap();
        assert_eq!(
            plan.model.upstream_id,
            "@cf/black-forest-labs/flux-1-schnell"
        );
        assert_eq!(plan.runs.len(), 2);
        assert_eq!(
            json_input(&plan.runs[0]),
            serde_json::json!({"prompt": "A cat"})
        );
        assert!(plan.as_data_url);
        let err =
            plan_for(r#"{"model":"dall-e-3","prompt":"A cat","size":"1792x1024"}"#).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("1024x1024 images only"));
        let long = format!(r#"{{"prompt":"{}"}}"#, "a".repeat(2049));
        assert!(plan_for(&long)
            .unwrap_err()
            .to_string()
            .contains("at most 2048"));
    }

    #[test]
    fn stable_diffusion_gets_size_and_distinct_seeds() {
        let plan = plan_for(
            r#"{"model":"@cf/stabilityai/stable-diffusion-xl-base-1.0","prompt":"A cat","n":3,"size":"512x768","negative_prompt":"dogs","response_format":"b64_json"}"#,
        )
        .unwrap();
        let inputs: Vec<_> = plan.runs.iter().map(json_input).collect();
        assert_eq!(
            inputs[0],
            serde_json::json!({"prompt":"A cat","negative_prompt":"dogs","width":512,"height":768,"seed":7})
        );
        assert_eq!(inputs[2]["seed"], 9);
        assert!(!plan.as_data_url);
        for size in ["100x100", "4096x1024", "big", "1024x"] {
            let body = format!(
                r#"{{"model":"@cf/lykon/dreamshaper-8-lcm","prompt":"x","size":"{size}"}}"#
            );
            assert_eq!(
                plan_for(&body).unwrap_err().to_body().error.param,
                Some("size")
            );
        }
    }

    #[test]
    fn flux2_gets_a_form() {
        let plan = plan_for(
            r#"{"model":"@cf/black-forest-labs/flux-2-klein-4b","prompt":"A cat","size":"1536x1024"}"#,
        )
        .unwrap();
        assert_eq!(
            plan.runs[0],
            ImageRun::Multipart(vec![
                ("prompt", "A cat".into()),
                ("width", "1536".into()),
                ("height", "1024".into()),
                ("seed", "7".into()),
            ])
        );
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        for (body, param) in [
            (r#"{"model":"dall-e-3"}"#, Some("prompt")),
            (r#"{"prompt":"x","n":0}"#, Some("n")),
            (r#"{"prompt":"x","n":11}"#, Some("n")),
            (
                r#"{"prompt":"x","response_format":"png"}"#,
                Some("response_format"),
            ),
            (r#"{"prompt":"x","model":"gpt-4"}"#, Some("model")),
        ] {
            let err = plan_for(body).unwrap_err();
            assert_eq!(err.status(), 400, "{body}");
            assert_eq!(err.to_body().error.param, param, "{body}");
        }
        assert_eq!(
            plan_for(r#"{"prompt":"x","model":"nope"}"#)
                .unwrap_err()
                .status(),
            404
        );
    }

    #[test]
    fn gpt_image_defaults_to_base64() {
        assert!(
            !plan_for(r#"{"model":"gpt-image-1","prompt":"x"}"#)
                .unwrap()
                .as_data_url
        );
        assert!(plan_for(r#"{"prompt":"x"}"#).unwrap().as_data_url);
    }

    #[test]
    fn types_come_from_the_bytes() {
        let jpeg_json = format!(r#"{{"image":"{}"}}"#, STANDARD.encode(JPEG));
        let image = generated_image(ImageOutput::Json(&jpeg_json), "m").unwrap();
        assert_eq!(image.media_type, "image/jpeg");
        assert_eq!(image.base64, STANDARD.encode(JPEG));
        let png = generated_image(ImageOutput::Bytes(PNG), "m").unwrap();
        assert_eq!(png.media_type, "image/png");
        for bad in [
            r#"{"image":""}"#,
            r#"{"x":1}"#,
            "[]",
            r#"{"image":"aGVsbG8gd29ybGQ="}"#,
        ] {
            assert_eq!(
                generated_image(ImageOutput::Json(bad), "m")
                    .unwrap_err()
                    .status(),
                502
            );
        }
        assert!(generated_image(ImageOutput::Bytes(b""), "m").is_err());
    }

    #[test]
    fn flagged_prompts_are_a_content_policy_400() {
        let err = refine_upstream_error(crate::error::upstream_error_from_message(
            "3030: Input prompt contains NSFW content.",
        ));
        assert_eq!(err.status(), 400);
        let body = err.to_body().error;
        assert_eq!(body.code.as_deref(), Some("content_policy_violation"));
        assert_eq!(body.param, Some("prompt"));
        let other = crate::error::upstream_error_from_message("3040: Capacity");
        assert_eq!(refine_upstream_error(other).status(), 429);
    }

    #[test]
    fn response_holds_urls_or_base64() {
        let images = vec![
            generated_image(ImageOutput::Bytes(PNG), "m").unwrap(),
            generated_image(ImageOutput::Bytes(PNG), "m").unwrap(),
        ];
        let as_url = plan_for(r#"{"prompt":"x","n":2}"#).unwrap();
        let body: serde_json::Value =
            serde_json::from_str(&images_response(&images, &as_url, 5).unwrap()).unwrap();
        assert_eq!(body["created"], 5);
        assert_eq!(body["output_format"], "png");
        let url = body["data"][1]["url"].as_str().unwrap();
        assert!(url.starts_with("data:image/png;base64,iVBORw0KGgo"));
        let as_b64 = plan_for(r#"{"prompt":"x","response_format":"b64_json"}"#).unwrap();
        let body: serde_json::Value =
            serde_json::from_str(&images_response(&images[..1], &as_b64, 5).unwrap()).unwrap();
        assert_eq!(body["data"][0]["b64_json"], STANDARD.encode(PNG));
        assert!(body["data"][0].get("url").is_none());
    }
}
