//! Outbound fetches the gateway makes for a client: http(s) images for vision models.

use futures_util::future::try_join_all;
use worker::{Fetch, Url};

use crate::error::GatewayError;
use crate::transform::media::{self, RemoteImage, RemoteImages};

/// Fetches every URL concurrently; any failure is the client's 400, naming the URL.
pub async fn fetch_images(urls: Vec<String>) -> Result<RemoteImages, GatewayError> {
    if urls.is_empty() {
        return Ok(RemoteImages::new());
    }
    let images = try_join_all(urls.iter().map(|url| fetch_image(url))).await?;
    Ok(urls.into_iter().zip(images).collect())
}

async fn fetch_image(url: &str) -> Result<RemoteImage, GatewayError> {
    let unreachable = |reason: String| {
        GatewayError::invalid(
            format!("Could not fetch the image at {url}: {reason}. Send a publicly reachable URL, or the image itself as a data: URL (data:image/png;base64,…)."),
            Some("messages"),
        )
    };
    let parsed = Url::parse(url).map_err(|err| unreachable(err.to_string()))?;
    let mut response = Fetch::Url(parsed)
        .send()
        .await
        .map_err(|err| unreachable(err.to_string()))?;
    let declared_length = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|len| len.parse::<usize>().ok());
    if declared_length.is_some_and(|len| len > media::MAX_REMOTE_IMAGE_BYTES) {
        return Err(media::too_large(url));
    }
    let status = response.status_code();
    let bytes = response
        .bytes()
        .await
        .map_err(|err| unreachable(err.to_string()))?;
    media::remote_image(url, status, bytes)
}
