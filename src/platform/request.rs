//! The client's request, as the thin wrapper the handlers need over the JS `Request`.
//!
//! `worker::Request` builds a JS object from `request.cf` (the edge's metadata) for every
//! request as it is made; the gateway never reads it, and that getter alone cost about 5% of a
//! small request's CPU. The method, URL and the headers most requests need
//! (`RequestHeader::IN_HEAD`) are read in one call across the JS boundary rather than one per
//! header; the rest only when asked for.

use wasm_bindgen::prelude::*;
use worker::web_sys;

use super::ai::error_message;
use super::promise::settled;
use crate::policy::routes::{RequestHead, RequestHeader};

#[wasm_bindgen(module = "/src/platform/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = requestHead)]
    fn request_head(request: &web_sys::Request, names: &js_sys::Array) -> String;

    #[wasm_bindgen(js_name = requestHeader)]
    fn request_header(request: &web_sys::Request, name: &str) -> Option<String>;
}

thread_local! {
    /// The names of the headers in the head (`RequestHeader::IN_HEAD`) as a JS array, made once
    /// per isolate.
    static HEADER_NAMES: js_sys::Array = RequestHeader::IN_HEAD
        .iter()
        .map(|header| JsValue::from_str(header.name()))
        .collect();
}

pub struct ClientRequest {
    raw: web_sys::Request,
    head: RequestHead,
}

impl ClientRequest {
    pub fn new(raw: web_sys::Request) -> Self {
        let head = RequestHead::parse(HEADER_NAMES.with(|names| request_head(&raw, names)));
        ClientRequest { raw, head }
    }

    pub fn method(&self) -> &str {
        self.head.method()
    }

    /// The URL's path, without its query.
    pub fn path(&self) -> &str {
        self.head.path()
    }

    pub fn url(&self) -> &str {
        self.head.url()
    }

    /// A header's value, if present: from the head, or read now for a header it does not carry.
    pub fn header(&self, header: RequestHeader) -> Option<String> {
        match header.in_head() {
            true => self.head.header(header.name()).map(str::to_owned),
            false => request_header(&self.raw, header.name()),
        }
    }

    /// The body's bytes as sent; an Err carries the runtime's reason (already read, aborted, ...).
    pub async fn bytes(&self) -> Result<Vec<u8>, String> {
        let promise = self.raw.array_buffer().map_err(|err| error_message(&err))?;
        let buffer = settled(&promise).await.map_err(|err| error_message(&err))?;
        Ok(js_sys::Uint8Array::new(&buffer).to_vec())
    }

    pub fn inner(&self) -> &web_sys::Request {
        &self.raw
    }
}
