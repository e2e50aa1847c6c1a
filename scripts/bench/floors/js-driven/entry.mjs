// The JS-driven floor's entry: JavaScript awaits the body and the binding; Rust is called
// synchronously in between (see src/lib.rs).
import wasm from "./floor_bg.wasm";
import { initSync, plan, answer } from "./floor.mjs";

initSync({ module: wasm });

export default {
  async fetch(request, env) {
    const body = JSON.parse(plan(await request.text()));
    const inputs = { messages: body.messages, max_tokens: body.max_tokens ?? 256, stream: false };
    const output = await env.AI.run("@cf/meta/llama-3-8b-instruct", inputs);
    return new Response(answer(JSON.stringify(output)), {
      headers: { "content-type": "application/json" },
    });
  },
};
