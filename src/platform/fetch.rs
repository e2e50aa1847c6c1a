//! Outbound fetches the gateway makes for a client: http(s) images for vision models. Done by
//! `glue.js` rather than `worker::Fetch`, whose URL parser (with its Unicode tables) would
//! double the size of the wasm.

use futures_util::future::try_join_all;
use wasm_bindgen::prelude::*;

use crate::error::GatewayError;
use crate::transform::media::{self, RemoteImage, RemoteImages};

#[wasm_bindgen(module = "/src/platform/glue.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = fetchBytes)]
    async fn fetch_bytes(url: &str, max_bytes: f64) -> Result<JsValue, JsValue>;
}

/// Fetches every URL concurrently; any failure is the client's 400, naming the URL.
pub async fn fetch_images(urls: Vec<String>) -> Result<RemoteImages, GatewayError> {
    if urls.is_empty() {
        return Ok(RemoteImages::new());
    }
    let images = try_join_all(urls.iter().map(|url| fetch_image(url))).await?;
    Ok(urls.into_iter().zip(images).collect())
}

async fn fetch_image(url: &str) -> Result<RemoteImage, GatewayError> {
    let answer = fetch_bytes(url, media::MAX_REMOTE_IMAGE_BYTES as f64)
        .await
        .map_err(|err| {
            let reason = crate::platform::ai::error_message(&err);
            GatewayError::invalid(
                format!("Could not fetch the image at {url}: {reason}. Send a publicly reachable URL, or the image itself as a data: URL (data:image/png;base64,…)."),
                Some("messages"),
            )
        })?;
    let answer = js_sys::Array::from(&answer);
    let status = answer.get(0).as_f64().unwrap_or(0.0) as u16;
    if answer.get(2).is_truthy() {
        return Err(media::too_large(url));
    }
    let bytes = js_sys::Uint8Array::new(&answer.get(1)).to_vec();
    media::remote_image(url, status, bytes)
}
