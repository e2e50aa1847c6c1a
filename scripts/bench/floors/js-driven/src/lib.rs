//! The Rust half of the JS-driven floor: two synchronous calls that hand strings across the
//! boundary and back (where a gateway would plan the request and translate the answer).

use wasm_bindgen::prelude::*;

/// The Workers AI input for a request body (here: the body itself).
#[wasm_bindgen]
pub fn plan(body: &str) -> String {
    body.to_owned()
}

/// The client's answer for a Workers AI answer (here: the answer itself).
#[wasm_bindgen]
pub fn answer(output: &str) -> String {
    output.to_owned()
}
