//! Fresh random ids: the request id, `chatcmpl-…`, `resp_…`, image seeds.
//!
//! `uuid::Uuid::new_v4` asks `crypto.getRandomValues` for 16 bytes every time, a call across the
//! JS boundary per id (two per chat request). Bytes drawn 4 KiB at a time make that one call per
//! 256 ids; each byte is used once, so the ids are as unguessable as before.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

const BATCH_BYTES: usize = 4096;

thread_local! {
    static UNUSED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

#[wasm_bindgen(module = "/src/platform/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = randomBytes)]
    fn random_bytes(length: usize) -> Vec<u8>;
}

/// 16 random bytes, taken from the isolate's unused batch (drawn anew when it runs out).
fn random_16() -> [u8; 16] {
    UNUSED.with(|unused| {
        let mut unused = unused.borrow_mut();
        if unused.len() < 16 {
            *unused = random_bytes(BATCH_BYTES);
        }
        let mut bytes = [0u8; 16];
        let start = unused.len().saturating_sub(16);
        if let Some(tail) = unused.get(start..) {
            bytes[..tail.len()].copy_from_slice(tail);
        }
        unused.truncate(start);
        bytes
    })
}

/// A random (version 4) uuid.
pub fn uuid_v4() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(random_16()).into_uuid()
}

/// `<prefix><32 hex digits>`, as OpenAI's ids look (`chatcmpl-…`, `resp_…`, `modr-…`).
pub fn prefixed(prefix: &str) -> String {
    format!("{prefix}{}", uuid_v4().simple())
}

/// A random number (an image model's seed).
pub fn random_u32() -> u32 {
    let [a, b, c, d, ..] = random_16();
    u32::from_le_bytes([a, b, c, d])
}
