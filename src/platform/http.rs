//! Building responses: JSON, SSE, and every error in the OpenAI shape.

use worker::web_sys::ReadableStream;
use worker::{Headers, Response, ResponseBody};

use crate::error::GatewayError;

fn with_headers(body: ResponseBody, status: u16, content_type: &str) -> Response {
    let headers = Headers::new();
    // Setting a well-formed header name cannot fail.
    let _ = headers.set("content-type", content_type);
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .body(body)
}

pub fn json(status: u16, body: String) -> Response {
    with_headers(
        ResponseBody::Body(body.into_bytes()),
        status,
        "application/json",
    )
}

/// A body of any type (audio, subtitles, plain text).
pub fn with_content_type(status: u16, body: Vec<u8>, content_type: &str) -> Response {
    with_headers(ResponseBody::Body(body), status, content_type)
}

pub fn html(status: u16, body: String) -> Response {
    let response = with_headers(
        ResponseBody::Body(body.into_bytes()),
        status,
        "text/html; charset=utf-8",
    );
    let _ = response.headers().set("cache-control", "no-cache");
    response
}

pub fn event_stream(stream: ReadableStream) -> Response {
    let response = with_headers(
        ResponseBody::Stream(stream),
        200,
        "text/event-stream; charset=utf-8",
    );
    let _ = response.headers().set("cache-control", "no-cache");
    response
}

/// A response's `content-type`, or empty.
pub fn content_type(response: &Response) -> String {
    response
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default()
}

pub fn empty(status: u16) -> Response {
    Response::builder().with_status(status).empty()
}

pub fn error(err: &GatewayError) -> Response {
    let response = json(err.status(), err.to_json());
    if let Some(allowed) = err.allowed_methods() {
        let _ = response.headers().set("allow", allowed);
    }
    if let Some(seconds) = err.retry_after() {
        let _ = response.headers().set("retry-after", &seconds.to_string());
    }
    response
}
