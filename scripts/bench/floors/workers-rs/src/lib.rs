//! The floor of a Rust gateway: read the body, hand it to one `env.AI.run` (the same glue call
//! the gateway makes, with the pass-through worker's inputs), return the answer's JSON. No
//! routing, auth, parsing or translation in Rust.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use worker::{event, web_sys, Context, Env, Response, Result};

#[wasm_bindgen(inline_js = r#"
export async function run(ai, bodyText) {
  const body = JSON.parse(bodyText);
  const inputs = { messages: body.messages, max_tokens: body.max_tokens ?? 256, stream: false };
  return JSON.stringify(await ai.run("@cf/meta/llama-3-8b-instruct", inputs));
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn run(ai: &JsValue, body_text: &str) -> std::result::Result<JsValue, JsValue>;
}

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, _ctx: Context) -> Result<Response> {
    let buffer = JsFuture::from(req.array_buffer()?).await?;
    let body = js_sys::Uint8Array::new(&buffer).to_vec();
    let ai = js_sys::Reflect::get(&env, &JsValue::from_str("AI"))?;
    let answer = run(&ai, &String::from_utf8_lossy(&body)).await?;
    let mut response = Response::from_bytes(answer.as_string().unwrap_or_default().into_bytes())?;
    response
        .headers_mut()
        .set("content-type", "application/json")?;
    Ok(response)
}
