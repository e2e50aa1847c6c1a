// End-to-end: the deployment's request limits (ALLOWED_MODELS, MAX_MESSAGES, MAX_INPUT_CHARS,
// MAX_TOKENS) and the one JSON log line per request.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, client, rawJson, checkErrorBody, API_KEYS } from "./_support.mjs";

let gw;
let ai;
before(async () => {
  gw = await startGateway({
    bindings: {
      API_KEYS,
      ALLOWED_MODELS: "gpt-4, gpt-3.5-turbo, text-embedding-3-small, @cf/meta/*",
      MAX_MESSAGES: "3",
      MAX_INPUT_CHARS: "200",
      MAX_TOKENS: "50",
    },
  });
  ai = client(gw);
});
after(() => gw?.dispose());

const chat = (body) => rawJson(gw, "/v1/chat/completions", { method: "POST", body });
const user = (content) => ({ role: "user", content });

describe("request limits", () => {
  test("a model outside ALLOWED_MODELS is a 403 naming the var; by alias, id or prefix it passes", async () => {
    const refused = await chat({ model: "o3", messages: [user("hi")] });
    assert.equal(refused.status, 403);
    checkErrorBody(refused.json, "o3");
    assert.equal(refused.json.error.code, "model_not_allowed");
    assert.equal(refused.json.error.param, "model");
    assert.match(refused.json.error.message, /ALLOWED_MODELS/);
    for (const model of ["gpt-4", "@cf/meta/llama-3.1-8b-instruct"]) {
      const ok = await chat({ model, messages: [user("hi")] });
      assert.equal(ok.status, 200, model);
    }
    const responses = await rawJson(gw, "/v1/responses", { method: "POST", body: { model: "o3", input: "hi" } });
    assert.equal(responses.status, 403);
    const embeddings = await rawJson(gw, "/v1/embeddings", { method: "POST", body: { model: "text-embedding-3-large", input: "x" } });
    assert.equal(embeddings.status, 403);
    const images = await rawJson(gw, "/v1/images/generations", { method: "POST", body: { prompt: "x" } });
    assert.equal(images.status, 403, "dall-e-2 (the default) is not allowed here");
  });

  test("MAX_MESSAGES and MAX_INPUT_CHARS give 400s that say which limit", async () => {
    const many = await chat({ model: "gpt-4", messages: [user("a"), { role: "assistant", content: "b" }, user("c"), user("d")] });
    assert.equal(many.status, 400);
    assert.match(many.json.error.message, /MAX_MESSAGES/);
    assert.equal(many.json.error.param, "messages");
    const long = await chat({ model: "gpt-4", messages: [user("x".repeat(201))] });
    assert.equal(long.status, 400);
    assert.match(long.json.error.message, /MAX_INPUT_CHARS/);
    const items = await rawJson(gw, "/v1/responses", {
      method: "POST",
      body: { model: "gpt-4", input: [1, 2, 3, 4].map((i) => ({ role: "user", content: `m${i}` })) },
    });
    assert.equal(items.status, 400);
    assert.equal(items.json.error.param, "input");
  });

  test("MAX_TOKENS refuses larger asks under the client's own parameter name, and caps the default", async () => {
    for (const [path, body, param] of [
      ["/v1/chat/completions", { model: "gpt-4", messages: [user("hi")], max_tokens: 51 }, "max_tokens"],
      ["/v1/chat/completions", { model: "gpt-4", messages: [user("hi")], max_completion_tokens: 51 }, "max_completion_tokens"],
      ["/v1/responses", { model: "gpt-4", input: "hi", max_output_tokens: 51 }, "max_output_tokens"],
      ["/v1/completions", { model: "gpt-3.5-turbo", prompt: "hi", max_tokens: 51 }, "max_tokens"],
    ]) {
      const r = await rawJson(gw, path, { method: "POST", body });
      assert.equal(r.status, 400, `${path} ${param}`);
      assert.equal(r.json.error.param, param);
      assert.match(r.json.error.message, /MAX_TOKENS/);
    }
    // No limit asked: the answer stops at MAX_TOKENS rather than the model's default.
    const capped = await ai.chat.completions.create({
      model: "gpt-3.5-turbo",
      messages: [user("[[emu:tokens=80]] count")],
    });
    assert.equal(capped.choices[0].finish_reason, "length");
    assert.equal(capped.usage.completion_tokens, 50);
  });
});

describe("request log", () => {
  test("one JSON line per request with route, user, models, status and error code, never the key", async () => {
    const before = gw.logs.length;
    await chat({ model: "gpt-4", messages: [user("hi")] }, { headers: { "x-request-id": "log-test-1" } });
    await rawJson(gw, "/v1/chat/completions", {
      method: "POST",
      body: { model: "o3", messages: [user("hi")] },
      headers: { "x-request-id": "log-test-2" },
    });
    await rawJson(gw, "/v1/models", { headers: { authorization: "Bearer wrong-key", "x-request-id": "log-test-3" } });
    // The runtime's stdout reaches us asynchronously.
    for (let i = 0; i < 50 && gw.logs.slice(before).filter((l) => l.includes("log-test-")).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const lines = gw.logs.slice(before).map((l) => JSON.parse(l));
    const refused = lines.find((l) => l.request_id === "log-test-2");
    assert.ok(refused, "a line for the refused request");
    assert.equal(refused.route, "chat.completions");
    assert.equal(refused.status, 403);
    assert.equal(refused.error_code, "model_not_allowed");
    assert.equal(refused.model, "o3");
    assert.equal(refused.upstream_model, "@cf/openai/gpt-oss-120b");
    assert.equal(refused.method, "POST");
    assert.equal(typeof refused.latency_ms, "number");
    assert.ok(refused.user, "the key's user is named");
    const unauthorized = lines.find((l) => l.request_id === "log-test-3");
    assert.equal(unauthorized.status, 401);
    assert.equal(unauthorized.user, null);
    for (const line of gw.logs.slice(before)) {
      for (const key of API_KEYS.split(",")) assert.ok(!line.includes(key.trim()), "no key in the log");
      assert.ok(!line.includes("wrong-key"));
    }
  });
});
