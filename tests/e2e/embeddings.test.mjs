// End-to-end: POST /v1/embeddings through the official `openai` SDK (its default asks for
// base64, which it decodes to floats), raw fetch for the float form and errors, and the 501 for
// OpenAI endpoints the gateway does not serve.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { OpenAI, startGateway, client, schema, rawJson, checkErrorBody, thrown, API_KEYS } from "./_support.mjs";

let gw;
let ai;
before(async () => {
  gw = await startGateway({ bindings: { API_KEYS } });
  ai = client(gw);
});
after(() => gw?.dispose());

const embed = (body) => rawJson(gw, "/v1/embeddings", { method: "POST", body });

describe("embeddings", () => {
  test("SDK default (base64 on the wire) equals the float form", async () => {
    const viaSdk = await ai.embeddings.create({ model: "text-embedding-3-small", input: "hello world" });
    schema("CreateEmbeddingResponse", viaSdk, "sdk");
    assert.equal(viaSdk.model, "text-embedding-3-small");
    assert.equal(viaSdk.data.length, 1);
    assert.equal(viaSdk.data[0].embedding.length, 768);
    const floats = await embed({ model: "text-embedding-3-small", input: "hello world", encoding_format: "float" });
    assert.equal(floats.status, 200);
    schema("CreateEmbeddingResponse", floats.json, "float");
    const want = floats.json.data[0].embedding.map((v) => Math.fround(v));
    assert.deepEqual(viaSdk.data[0].embedding, want);
    assert.ok(floats.json.usage.prompt_tokens > 0);
    assert.equal(floats.json.usage.total_tokens, floats.json.usage.prompt_tokens);
  });

  test("150 inputs are split at the model's 100 and come back in order", async () => {
    const input = Array.from({ length: 150 }, (_, i) => `text number ${i}`);
    const r = await ai.embeddings.create({ model: "@cf/baai/bge-small-en-v1.5", input, encoding_format: "float" });
    assert.equal(r.data.length, 150);
    r.data.forEach((d, i) => assert.equal(d.index, i));
    const single = await ai.embeddings.create({ model: "@cf/baai/bge-small-en-v1.5", input: input[120], encoding_format: "float" });
    assert.deepEqual(r.data[120].embedding, single.data[0].embedding, "item 120 is the vector of text 120");
  });

  test("dimensions: the model's own size passes, others get a 400", async () => {
    const ok = await embed({ model: "text-embedding-3-large", input: "x", dimensions: 1024 });
    assert.equal(ok.status, 200);
    const bad = await embed({ model: "text-embedding-3-large", input: "x", dimensions: 256 });
    assert.equal(bad.status, 400);
    checkErrorBody(bad.json, "dimensions");
    assert.equal(bad.json.error.param, "dimensions");
  });

  test("token arrays, empty input and chat models get clear 400s", async () => {
    for (const [body, param] of [
      [{ model: "text-embedding-3-small", input: [1, 2, 3] }, "input"],
      [{ model: "text-embedding-3-small", input: [] }, "input"],
      [{ model: "gpt-4", input: "x" }, "model"],
    ]) {
      const r = await embed(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      checkErrorBody(r.json, JSON.stringify(body));
      assert.equal(r.json.error.param, param);
    }
    const err = await thrown(() => ai.embeddings.create({ model: "nope-model", input: "x" }));
    assert.ok(err instanceof OpenAI.NotFoundError);
  });
});

describe("endpoints not served", () => {
  test("files, assistants, fine-tuning -> 501 naming the endpoint", async () => {
    for (const path of ["/v1/files", "/v1/assistants", "/v1/fine_tuning/jobs", "/v1/vector_stores/vs_1"]) {
      const r = await rawJson(gw, path);
      assert.equal(r.status, 501, path);
      assert.equal(r.json.error.code, "endpoint_not_supported");
      assert.match(r.json.error.message, new RegExp(path.split("/")[2]));
    }
  });
});
