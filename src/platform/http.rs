//! Building responses: JSON, SSE, and every error in the OpenAI shape.
//!
//! A response is assembled in Rust (status, header list, body) and becomes a JS `Response` in one
//! call across the boundary, when the fetch entry returns it. `worker::Response` made a JS
//! `Headers` object as it was created, a call per header set, and four more calls to convert it:
//! about a dozen crossings for every request.

use wasm_bindgen::prelude::*;
use worker::web_sys::{self, ReadableStream};

use crate::error::GatewayError;
use crate::policy::routes::sendable_header_value;

#[wasm_bindgen(module = "/src/platform/glue.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = respond)]
    fn respond_js(
        status: u16,
        head: &str,
        bytes: &[u8],
        stream: Option<ReadableStream>,
    ) -> Result<web_sys::Response, JsValue>;

    #[wasm_bindgen(catch, js_name = respondText)]
    fn respond_text_js(status: u16, head_and_text: &str) -> Result<web_sys::Response, JsValue>;
}

pub enum Body {
    /// JSON, HTML: crosses to JS as a string, which costs less than a copy of its bytes (an
    /// `ArrayBuffer` is allocated outside the JS heap).
    Text(String),
    Bytes(Vec<u8>),
    Stream(ReadableStream),
    Empty,
}

pub struct Response {
    status: u16,
    /// Lower-case names, each at most once.
    headers: Vec<(&'static str, String)>,
    body: Body,
}

impl Response {
    /// An event stream (ours, an upstream's, or a kept one replayed) also says `no-cache`.
    fn new(status: u16, content_type: &str, body: Body) -> Self {
        let mut headers = vec![("content-type", content_type.to_owned())];
        if content_type.starts_with("text/event-stream") {
            headers.push(("cache-control", "no-cache".to_owned()));
        }
        Response {
            status,
            headers,
            body,
        }
    }

    /// A body streamed through as it arrives (an upstream's answer).
    pub fn streamed(status: u16, content_type: &str, stream: ReadableStream) -> Self {
        Response::new(status, content_type, Body::Stream(stream))
    }

    pub fn status_code(&self) -> u16 {
        self.status
    }

    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The body, leaving the response without one (its status and headers stay).
    pub fn take_body(&mut self) -> Body {
        std::mem::replace(&mut self.body, Body::Empty)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value.as_str())
    }

    /// A response's `content-type`, or empty.
    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or_default()
    }

    /// Sets (replaces) a header; a value JS `Headers` would refuse is left out.
    pub fn set_header(&mut self, name: &'static str, value: &str) {
        if !sendable_header_value(value) {
            return;
        }
        match self.headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, old)) => value.clone_into(old),
            None => self.headers.push((name, value.to_owned())),
        }
    }

    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
    }

    /// The JS `Response`, made in one call. The body bytes are copied on the JS side.
    pub fn into_raw(self) -> web_sys::Response {
        // Unreachable with the values set_header lets through; answered rather than thrown.
        self.make()
            .or_else(|err| {
                let message = format!(
                    "the gateway could not build its response: {}",
                    super::ai::error_message(&err)
                );
                error(&GatewayError::Internal(message)).make()
            })
            .unwrap_or_else(|_| web_sys::Response::error())
    }

    fn make(self) -> Result<web_sys::Response, JsValue> {
        let mut head = String::with_capacity(128);
        for (name, value) in &self.headers {
            head.push_str(name);
            head.push('\n');
            head.push_str(value);
            head.push('\n');
        }
        match self.body {
            // One string: the head, a NUL (which no header value holds), then the text.
            Body::Text(text) => {
                head.push('\0');
                head.push_str(&text);
                respond_text_js(self.status, &head)
            }
            Body::Bytes(bytes) => respond_js(self.status, &head, &bytes, None),
            Body::Stream(stream) => respond_js(self.status, &head, &[], Some(stream)),
            Body::Empty => respond_js(self.status, &head, &[], None),
        }
    }
}

pub fn json(status: u16, body: String) -> Response {
    text(status, body, "application/json")
}

/// A text body of any type (a kept answer, an upstream's error).
pub fn text(status: u16, body: String, content_type: &str) -> Response {
    Response::new(status, content_type, Body::Text(body))
}

/// A body of any type, as bytes (audio).
pub fn with_content_type(status: u16, body: Vec<u8>, content_type: &str) -> Response {
    Response::new(status, content_type, Body::Bytes(body))
}

pub fn html(status: u16, body: String) -> Response {
    let mut response = Response::new(status, "text/html; charset=utf-8", Body::Text(body));
    response.set_header("cache-control", "no-cache");
    response
}

pub fn event_stream(stream: ReadableStream) -> Response {
    Response::new(
        200,
        "text/event-stream; charset=utf-8",
        Body::Stream(stream),
    )
}

pub fn empty(status: u16) -> Response {
    Response {
        status,
        headers: Vec::new(),
        body: Body::Empty,
    }
}

pub fn error(err: &GatewayError) -> Response {
    let mut response = json(err.status(), err.to_json());
    if let Some(allowed) = err.allowed_methods() {
        response.set_header("allow", allowed);
    }
    if let Some(seconds) = err.retry_after() {
        response.set_header("retry-after", &seconds.to_string());
    }
    response
}
