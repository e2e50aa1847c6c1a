//! `POST /v1/audio/transcriptions`, `/v1/audio/translations` and `/v1/audio/speech`.

use wasm_bindgen::prelude::*;

use crate::platform::request::ClientRequest;

use super::chat::run_to_json;
use super::{declared_length_check, RequestContext};
use crate::error::GatewayError;
use crate::platform::ai::{error_message, Whole};
use crate::platform::http::{self, Response};
use crate::transform::audio::{
    audio_content_type, plan_speech, plan_transcription, speech_audio, transcript, AudioInput,
    AudioTask, TranscriptionForm,
};

#[wasm_bindgen(module = "/src/platform/glue.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = readUploadForm)]
    async fn read_upload_form(request: &worker::web_sys::Request) -> Result<JsValue, JsValue>;
}

/// The form's text fields and its `file` bytes.
async fn read_form(
    req: &ClientRequest,
    limit: usize,
) -> Result<(TranscriptionForm, Option<Vec<u8>>), GatewayError> {
    declared_length_check(req, limit)?;
    let unreadable = |why: String| {
        GatewayError::invalid(
            format!("Could not read the upload: {why}. Send multipart/form-data with a `file` part and a `model` field, as the OpenAI SDKs do."),
            None,
        )
    };
    let parts: js_sys::Array = read_upload_form(req.inner())
        .await
        .map_err(|err| unreadable(error_message(&err)))?
        .into();
    let fields = parts.get(0).as_string().unwrap_or_default();
    let form: TranscriptionForm = serde_json::from_str(&fields)
        .map_err(|err| unreadable(format!("a form field has an unexpected value ({err})")))?;
    let file = parts
        .get(1)
        .dyn_into::<js_sys::Uint8Array>()
        .ok()
        .map(|bytes| bytes.to_vec());
    if let Some(size) = file.as_ref().map(Vec::len).filter(|size| *size > limit) {
        return Err(GatewayError::PayloadTooLarge { size, limit });
    }
    Ok((form, file))
}

pub async fn transcribe(
    req: &ClientRequest,
    cx: &RequestContext<'_>,
    task: AudioTask,
) -> Result<Response, GatewayError> {
    let (form, file) = read_form(req, cx.config.max_body_bytes).await?;
    let plan = plan_transcription(&form, file.as_deref(), task, &cx.config.aliases)?;
    cx.check_model(&plan.model)?;
    let model = plan.model.upstream_id.as_str();
    let output = match &plan.input {
        AudioInput::Json(input) => run_to_json(cx, model, input).await?,
        AudioInput::ByteList => {
            let audio = file.as_deref().unwrap_or_default();
            cx.run_ai_byte_list(model, audio).await?.into_json(model)?
        }
    };
    let transcript = transcript(&output, &plan)?;
    Ok(http::text(200, transcript.body, transcript.content_type))
}

pub async fn speech(
    req: &ClientRequest,
    cx: &RequestContext<'_>,
) -> Result<Response, GatewayError> {
    let body = cx.read_body(req).await?;
    let plan = plan_speech(&body, &cx.config.aliases)?;
    cx.check_model(&plan.model)?;
    let model = plan.model.upstream_id.as_str();
    // melotts documents both a `{audio: base64}` answer and raw MP3 bytes.
    let audio = match cx.run_ai(model, &plan.input_json).await?.whole().await? {
        Whole::Json(json) => speech_audio(&json, model)?,
        Whole::Bytes(bytes) => bytes,
    };
    let content_type = audio_content_type(&audio);
    Ok(http::with_content_type(200, audio, content_type))
}
