//! Images in requests: `data:` URLs, bytes fetched from http(s) URLs, and their media types.

use std::collections::HashMap;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use crate::error::GatewayError;

/// Most http(s) images one request may name: each is a fetch before the model runs.
pub const MAX_REMOTE_IMAGES: usize = 8;
/// Largest image the gateway fetches; Workers AI rejects larger inputs anyway.
pub const MAX_REMOTE_IMAGE_BYTES: usize = 10 * 1024 * 1024;

/// An image fetched from an http(s) URL on the client's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteImage {
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Fetched images by the URL the client sent.
pub type RemoteImages = HashMap<String, RemoteImage>;

/// The image type its first bytes announce, if it is one vision models take.
pub fn sniff_image_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', ..] => Some("image/gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        [b'B', b'M', ..] => Some("image/bmp"),
        _ => None,
    }
}

/// Checks what an http(s) image URL answered. The type comes from the bytes, never from the
/// server's `Content-Type` alone, which is often wrong (`application/octet-stream`).
pub fn remote_image(url: &str, status: u16, bytes: Vec<u8>) -> Result<RemoteImage, GatewayError> {
    if !(200..300).contains(&status) {
        return Err(GatewayError::invalid(
            format!("Could not fetch the image at {url}: it answered HTTP {status}. Send a URL that is publicly reachable, or the image itself as a data: URL (data:image/png;base64,…)."),
            Some("messages"),
        ));
    }
    if bytes.len() > MAX_REMOTE_IMAGE_BYTES {
        return Err(too_large(url));
    }
    match sniff_image_type(&bytes) {
        Some(media_type) => Ok(RemoteImage { media_type, bytes }),
        None => Err(GatewayError::invalid(
            format!("The file at {url} is not a PNG, JPEG, GIF, WebP or BMP image."),
            Some("messages"),
        )),
    }
}

pub fn too_large(url: &str) -> GatewayError {
    GatewayError::invalid(
        format!(
            "The image at {url} is larger than {} MiB; send a smaller image.",
            MAX_REMOTE_IMAGE_BYTES / (1024 * 1024)
        ),
        Some("messages"),
    )
}

/// Clients do not always pad their base64; accept it either way.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A `data:` URL's media type and base64 payload.
pub fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let (header, payload) = url.strip_prefix("data:")?.split_once(',')?;
    let media_type = header.strip_suffix(";base64")?;
    Some((media_type, payload))
}

pub fn data_url(media_type: &str, bytes: &[u8]) -> String {
    format!("data:{media_type};base64,{}", STANDARD.encode(bytes))
}

/// The bytes of a base64 `data:` URL.
pub fn data_url_bytes(url: &str) -> Result<Vec<u8>, GatewayError> {
    let invalid = || {
        GatewayError::invalid(
            "An image data: URL must look like data:image/png;base64,<base64 bytes>.",
            Some("messages"),
        )
    };
    let (_, payload) = parse_data_url(url).ok_or_else(invalid)?;
    LENIENT.decode(payload.trim()).map_err(|_| invalid())
}

pub fn is_remote_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_common_image_types() {
        assert_eq!(sniff_image_type(b"\x89PNG\r\n\x1a\n"), Some("image/png"));
        assert_eq!(
            sniff_image_type(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some("image/jpeg")
        );
        assert_eq!(sniff_image_type(b"GIF89a"), Some("image/gif"));
        assert_eq!(
            sniff_image_type(b"RIFF\0\0\0\0WEBPVP8 "),
            Some("image/webp")
        );
        assert_eq!(sniff_image_type(b"<html>"), None);
        assert_eq!(sniff_image_type(b""), None);
    }

    #[test]
    fn data_urls_round_trip() {
        let url = data_url("image/png", b"\x89PNG");
        assert_eq!(parse_data_url(&url), Some(("image/png", "iVBORw==")));
        assert_eq!(data_url_bytes(&url).unwrap(), b"\x89PNG");
        assert_eq!(
            data_url_bytes("data:image/png;base64,iVBORw").unwrap(),
            b"\x89PNG"
        );
        assert!(data_url_bytes("data:image/png,raw").is_err());
        assert!(data_url_bytes("data:image/png;base64,!!!").is_err());
    }

    #[test]
    fn remote_images_are_checked() {
        let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
        assert_eq!(
            remote_image("https://x/a", 200, png.clone())
                .unwrap()
                .media_type,
            "image/png"
        );
        let err = remote_image("https://x/a", 404, png).unwrap_err();
        assert!(err.to_string().contains("HTTP 404"));
        assert!(remote_image("https://x/a", 200, b"<html>".to_vec()).is_err());
        assert!(is_remote_url("HTTPS://example.com/a.png"));
        assert!(!is_remote_url("data:image/png;base64,"));
    }
}
