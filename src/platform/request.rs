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

    /// The body as text; an Err carries the runtime's reason (body already read, aborted, ...).
    pub async fn text(&self) -> Result<String, String> {
        let promise = self.raw.text().map_err(|err| error_message(&err))?;
        let text = JsFuture::from(promise)
            .await
            .map_err(|err| error_message(&err))?;
        Ok(text.as_string().unwrap_or_default())
    }

    pub fn inner(&self) -> &web_sys::Request {
        &self.raw
    }
}
