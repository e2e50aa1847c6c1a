//! The client's request, as the thin wrapper the handlers need over the JS `Request`.
//!
//! `worker::Request` builds a JS object from `request.cf` (the edge's metadata) for every
//! request as it is made; the gateway never reads it, and that getter alone cost about 5% of a
//! small request's CPU.

use wasm_bindgen_futures::JsFuture;
use worker::web_sys;

use super::ai::error_message;
use crate::policy::routes::path_of_url;

pub struct ClientRequest {
    raw: web_sys::Request,
    method: String,
    path: String,
}

impl ClientRequest {
    pub fn new(raw: web_sys::Request) -> Self {
        let method = raw.method();
        let path = path_of_url(&raw.url()).to_owned();
        ClientRequest { raw, method, path }
    }

    pub fn method(&self) -> &str {
        &self.method
    }

    /// The URL's path, without its query.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn url(&self) -> String {
        self.raw.url()
    }

    /// A header's value, if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.raw.headers().get(name).ok().flatten()
    }

    /// The body's bytes as sent; an Err carries the runtime's reason (already read, aborted, ...).
    pub async fn bytes(&self) -> Result<Vec<u8>, String> {
        let promise = self.raw.array_buffer().map_err(|err| error_message(&err))?;
        let buffer = JsFuture::from(promise)
            .await
            .map_err(|err| error_message(&err))?;
        Ok(js_sys::Uint8Array::new(&buffer).to_vec())
    }

    pub fn inner(&self) -> &web_sys::Request {
        &self.raw
    }
}
