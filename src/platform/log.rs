//! The request's log line, written once, when its last holder lets go: the fetch entry as it
//! returns the response, or, for a translated stream, the translator when the stream ends (so
//! the line carries the stream's tokens and duration).

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::web_sys::ReadableStream;

use crate::error::GatewayError;
use crate::platform::http::{self, Response};
use crate::policy::log::{RequestLog, TokenUsage};

pub struct PendingLog {
    line: RefCell<RequestLog>,
    started_ms: f64,
}

impl PendingLog {
    pub fn new(line: RequestLog) -> Rc<Self> {
        Rc::new(PendingLog {
            line: RefCell::new(line),
            started_ms: js_sys::Date::now(),
        })
    }

    /// When the request arrived, in Unix seconds.
    pub fn arrived_seconds(&self) -> u64 {
        (self.started_ms / 1000.0) as u64
    }

    /// Milliseconds since the request arrived.
    pub fn elapsed_ms(&self) -> u64 {
        (js_sys::Date::now() - self.started_ms).max(0.0) as u64
    }

    /// Edits the line. Never called re-entrantly: each edit is a short, synchronous closure.
    pub fn edit<R>(&self, edit: impl FnOnce(&mut RequestLog) -> R) -> R {
        edit(&mut self.line.borrow_mut())
    }
}

/// The error response, noting its code in the log line.
pub fn failed(err: &GatewayError, log: &PendingLog) -> Response {
    log.edit(|line| line.error_code = err.code());
    http::error(err)
}

impl Drop for PendingLog {
    fn drop(&mut self) {
        // Only a stream's line has a duration (the clock is read across the JS boundary).
        let duration_ms = self.line.get_mut().stream.then(|| self.elapsed_ms());
        let line = self.line.get_mut();
        line.duration_ms = duration_ms;
        worker::console_log!("{}", line.to_json());
    }
}

/// Holds the log line while a stream passed through from upstream is sent; JS frees it at the
/// stream's end.
#[wasm_bindgen]
pub struct LogGuard {
    log: Rc<PendingLog>,
}

#[wasm_bindgen]
impl LogGuard {
    /// The stream ended: notes the tokens of its last `usage`, if `tail` holds one.
    pub fn finish(&self, tail: &str) {
        if let Some(usage) = TokenUsage::of_json_answer(tail) {
            self.log.edit(|line| line.record_usage(usage));
        }
    }
}

#[wasm_bindgen(module = "/src/platform/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = guardStream)]
    fn guard_stream(upstream: &ReadableStream, guard: LogGuard) -> ReadableStream;

    #[wasm_bindgen(js_name = settledOf)]
    fn settled_of_js(stream: &ReadableStream) -> JsValue;
}

/// For a stream the gateway made: a promise settled when it ends or the client cancels it.
pub fn settled_of(stream: &ReadableStream) -> Option<js_sys::Promise> {
    settled_of_js(stream).dyn_into::<js_sys::Promise>().ok()
}

/// `upstream`, unchanged, with the request's log line written when it ends.
pub fn logged_stream(upstream: &ReadableStream, log: &Rc<PendingLog>) -> ReadableStream {
    log.edit(|line| line.stream = true);
    guard_stream(
        upstream,
        LogGuard {
            log: Rc::clone(log),
        },
    )
}
