// End-to-end: the gateway around the chat endpoint — health, models, auth, CORS, request ids,
// routing errors, body limits and request validation — against the built worker in workerd.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  OpenAI, startGateway, client, schema, user, raw, rawJson, rawStream, checkChunks, checkErrorBody,
  thrown, openapiAvailable, openapiSkipReason, API_KEYS, KEY, KEY2, WEATHER_TOOL,
} from "./_support.mjs";

let gw; // default configuration: API_KEYS set, wrangler.toml vars (ALLOWED_ORIGINS "*")
let noKeys; // no API_KEYS / API_KEY at all, and no GATEWAY_KV (which could hold keys)
let strict; // one API_KEY, ALLOWED_ORIGINS restricted, MAX_BODY_BYTES small
let ai;
const ORIGIN = "https://a.example";
const SMALL_LIMIT = 2000;

before(async () => {
  [gw, noKeys, strict] = await Promise.all([
    startGateway({ bindings: { API_KEYS } }),
    startGateway({ bindings: {}, kvNamespaces: [] }),
    startGateway({ bindings: { API_KEY: "sk-single-key", ALLOWED_ORIGINS: ORIGIN, MAX_BODY_BYTES: String(SMALL_LIMIT) } }),
  ]);
  ai = client(gw);
});
after(async () => {
  await Promise.all([gw?.dispose(), noKeys?.dispose(), strict?.dispose()]);
});

test("OpenAI OpenAPI spec is available for schema validation", { skip: !openapiAvailable && openapiSkipReason }, () => {
  assert.ok(openapiAvailable);
});

async function expectError(r, status, { code, type, param, label } = {}) {
  assert.equal(r.status, status, `${label ?? ""}: status (body ${r.text.slice(0, 300)})`);
  assert.match(r.headers.get("content-type") ?? "", /application\/json/, `${label}: JSON error`);
  const e = checkErrorBody(r.json, label);
  if (code !== undefined) assert.equal(e.code, code, `${label}: code`);
  if (type !== undefined) assert.equal(e.type, type, `${label}: type`);
  if (param !== undefined) assert.equal(e.param, param, `${label}: param`);
  return e;
}

describe("health", () => {
  test("GET /health needs no auth", async () => {
    const r = await rawJson(gw, "/health", { auth: false });
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), /application\/json/);
    assert.equal(r.json.status, "ok");
    assert.ok(r.headers.get("x-request-id"));
  });

  test("GET /health works even without API keys configured", async () => {
    const r = await rawJson(noKeys, "/health", { auth: false });
    assert.equal(r.status, 200);
    assert.equal(r.json.status, "ok");
  });
});

describe("models", () => {
  let listed;
  before(async () => {
    const r = await rawJson(gw, "/v1/models");
    assert.equal(r.status, 200);
    listed = r.json;
  });

  test("GET /v1/models is an OpenAI model list with the aliases and Workers AI ids", async () => {
    schema("ListModelsResponse", listed);
    assert.equal(listed.object, "list");
    assert.ok(listed.data.length > 10);
    const ids = listed.data.map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length, "ids are unique");
    for (const id of ["gpt-4", "gpt-3.5-turbo", "@cf/meta/llama-3-8b-instruct", "@cf/qwen/qwen3-30b-a3b-fp8", "@cf/meta/llama-3.3-70b-instruct-fp8-fast"]) {
      assert.ok(ids.includes(id), `lists ${id}`);
    }
    for (const m of listed.data) {
      schema("Model", m, m.id);
      assert.equal(m.object, "model");
      assert.equal(typeof m.created, "number");
      assert.ok(Number.isInteger(m.created) && m.created >= 0);
      assert.equal(typeof m.owned_by, "string");
      assert.ok(m.owned_by.length > 0);
    }
  });

  test("the SDK lists the same models (models.list, auto-pagination)", async () => {
    const ids = [];
    for await (const m of ai.models.list()) ids.push(m.id);
    assert.deepEqual(ids, listed.data.map((m) => m.id));
  });

  test("every listed id can be retrieved: SDK (encoded), raw slashes and %2F", async () => {
    await Promise.all(listed.data.map(async (m) => {
      const viaSdk = await ai.models.retrieve(m.id);
      assert.deepEqual({ ...viaSdk }, m, `SDK retrieve ${m.id}`);
      schema("Model", viaSdk, m.id);
      const rawPath = await rawJson(gw, `/v1/models/${m.id}`);
      assert.equal(rawPath.status, 200, `raw ${m.id}`);
      assert.deepEqual(rawPath.json, m);
      const encoded = await rawJson(gw, `/v1/models/${encodeURIComponent(m.id)}`);
      assert.equal(encoded.status, 200, `encoded ${m.id}`);
      assert.deepEqual(encoded.json, m);
    }));
  });

  test("every listed text-generation id works as `model` for chat; the others are rejected with a clear 400", async () => {
    // Chat-capable = not embeddings / image / speech / moderation / image-to-text models.
    const nonChat = /(embedding|bge-|dall-e|gpt-image|flux|stable-diffusion|dreamshaper|whisper|tts-|melotts|moderation|guard|llava|uform)/;
    let chats = 0;
    await Promise.all(listed.data.map(async (m) => {
      const r = await rawJson(gw, "/v1/chat/completions", { method: "POST", body: { model: m.id, messages: user("hi [[emu:tokens=3]] [[emu:no_reasoning]]") } });
      if (nonChat.test(m.id)) {
        await expectError(r, 400, { type: "invalid_request_error", param: "model", label: `chat with ${m.id}` });
        return;
      }
      chats++;
      assert.equal(r.status, 200, `chat with ${m.id}: ${r.text.slice(0, 300)}`);
      schema("CreateChatCompletionResponse", r.json, m.id);
      assert.equal(r.json.model, m.id, "model echoes the requested id");
      assert.equal(r.json.choices[0].message.content, "w1 w2 w3", `${m.id} content`);
    }));
    assert.ok(chats >= 20, `expected at least 20 chat models, got ${chats}`);
  });

  test("a text-generation id also streams", async () => {
    for (const model of ["mistral", "@cf/zai-org/glm-4.7-flash", "gpt-oss-20b", "@cf/google/gemma-3-12b-it"]) {
      const r = await rawStream(gw, { model, messages: user("hi [[emu:tokens=3]] [[emu:no_reasoning]]") });
      assert.equal(r.status, 200, model);
      assert.ok(r.done, `${model}: [DONE]`);
      assert.equal(checkChunks(r.chunks, { model, label: model }).content, "w1 w2 w3");
    }
  });

  test("unknown model id -> 404 model_not_found (raw and SDK NotFoundError)", async () => {
    for (const id of ["nope", "gpt-9", "@cf/meta/not-a-model", encodeURIComponent("@cf/meta/not-a-model")]) {
      const r = await rawJson(gw, `/v1/models/${id}`);
      await expectError(r, 404, { code: "model_not_found", label: `GET /v1/models/${id}` });
    }
    const err = await thrown(() => ai.models.retrieve("gpt-does-not-exist"));
    assert.ok(err instanceof OpenAI.NotFoundError, String(err));
    assert.equal(err.code, "model_not_found");
  });

  test("models without the /v1 prefix", async () => {
    const r = await rawJson(gw, "/models/gpt-4");
    assert.equal(r.status, 200);
    assert.equal(r.json.id, "gpt-4");
  });
});

describe("authentication", () => {
  const body = { model: "gpt-3.5-turbo", messages: user("hi [[emu:tokens=2]]") };

  test("both configured keys work (Bearer via the SDK)", async () => {
    for (const apiKey of [KEY, KEY2]) {
      const r = await client(gw, { apiKey }).chat.completions.create(body);
      assert.equal(r.choices[0].message.content, "w1 w2");
    }
  });

  test("X-API-Key header works", async () => {
    const r = await rawJson(gw, "/v1/chat/completions", { method: "POST", auth: false, headers: { "x-api-key": KEY2 }, body });
    assert.equal(r.status, 200);
  });

  test("the Bearer scheme is case-insensitive", async () => {
    const r = await rawJson(gw, "/v1/models/gpt-4", { auth: false, headers: { authorization: `bearer ${KEY}` } });
    assert.equal(r.status, 200);
  });

  test("wrong key -> SDK AuthenticationError (401 invalid_api_key)", async () => {
    for (const call of [
      (c) => c.chat.completions.create(body),
      (c) => c.chat.completions.create({ ...body, stream: true }),
      (c) => c.models.list(),
      (c) => c.models.retrieve("gpt-4"),
    ]) {
      const err = await thrown(() => call(client(gw, { apiKey: "sk-wrong-key" })));
      assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
      assert.equal(err.status, 401);
      assert.equal(err.code, "invalid_api_key");
      assert.equal(err.type, "authentication_error");
      assert.ok(!err.message.includes(KEY) && !err.message.includes(KEY2), "never echo configured keys");
    }
  });

  test("missing or malformed credentials -> 401 invalid_api_key", async () => {
    const cases = [
      ["no header", {}],
      ["empty bearer", { authorization: "Bearer " }],
      ["basic auth", { authorization: `Basic ${Buffer.from(`u:${KEY}`).toString("base64")}` }],
      ["key without scheme", { authorization: KEY }],
      ["wrong x-api-key", { "x-api-key": "sk-nope" }],
      ["key prefix only", { authorization: `Bearer ${KEY.slice(0, -1)}` }],
      ["two keys joined", { authorization: `Bearer ${KEY},${KEY2}` }],
    ];
    for (const [label, headers] of cases) {
      for (const [method, path, b] of [["POST", "/v1/chat/completions", body], ["GET", "/v1/models", undefined]]) {
        const r = await rawJson(gw, path, { method, auth: false, headers, body: b });
        await expectError(r, 401, { code: "invalid_api_key", type: "authentication_error", label: `${label} ${path}` });
        assert.equal(r.headers.get("access-control-allow-origin"), "*", "401s carry CORS headers too");
      }
    }
  });

  test("a single API_KEY binding is accepted", async () => {
    const ok = await rawJson(strict, "/v1/models/gpt-4", { auth: false, headers: { authorization: "Bearer sk-single-key" } });
    assert.equal(ok.status, 200);
    const bad = await rawJson(strict, "/v1/models/gpt-4");
    assert.equal(bad.status, 401);
  });

  test("no keys configured -> 500 explaining the missing API_KEYS secret", async () => {
    for (const headers of [{}, { authorization: "Bearer anything" }]) {
      const r = await rawJson(noKeys, "/v1/models", { auth: false, headers });
      const e = await expectError(r, 500, { type: "server_error", label: "no keys" });
      assert.match(e.message, /API_KEYS/);
    }
    const err = await thrown(() => client(noKeys).chat.completions.create(body));
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 500);
    assert.match(err.message, /API_KEYS/);
  });
});

describe("CORS", () => {
  test("preflight: 204, allow-origin *, methods, echoed request headers, no auth needed", async () => {
    const r = await raw(gw, "/v1/chat/completions", {
      method: "OPTIONS",
      auth: false,
      headers: { origin: "https://x.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, x-stainless-os" },
    });
    assert.equal(r.status, 204);
    assert.equal(await r.text(), "");
    assert.equal(r.headers.get("access-control-allow-origin"), "*");
    const methods = r.headers.get("access-control-allow-methods") ?? "";
    for (const m of ["GET", "POST", "OPTIONS"]) assert.match(methods, new RegExp(`\\b${m}\\b`));
    assert.equal(r.headers.get("access-control-allow-headers")?.toLowerCase(), "authorization, content-type, x-stainless-os");
  });

  test("preflight without Access-Control-Request-Headers still allows the SDK headers", async () => {
    const r = await raw(gw, "/v1/models", { method: "OPTIONS", auth: false, headers: { origin: "https://x.example", "access-control-request-method": "GET" } });
    assert.equal(r.status, 204);
    const allowed = (r.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    for (const h of ["authorization", "content-type", "x-api-key"]) assert.ok(allowed.includes(h), `allows ${h}`);
  });

  test("responses (200, streams, errors) carry access-control-allow-origin and expose x-request-id", async () => {
    const headers = { origin: "https://x.example" };
    const rs = [
      await raw(gw, "/v1/models", { headers }),
      await raw(gw, "/v1/chat/completions", { method: "POST", headers, body: { model: "gpt-4", stream: true, messages: user("x [[emu:tokens=1]]") } }),
      await raw(gw, "/v1/nope", { headers }),
      await raw(gw, "/v1/models", { auth: false, headers }),
    ];
    for (const r of rs) {
      await r.arrayBuffer();
      assert.equal(r.headers.get("access-control-allow-origin"), "*", `status ${r.status}`);
      assert.match((r.headers.get("access-control-expose-headers") ?? "").toLowerCase(), /x-request-id/);
    }
  });

  test("ALLOWED_ORIGINS restricts the header to the listed origin", async () => {
    const auth = { authorization: "Bearer sk-single-key" };
    const good = await raw(strict, "/v1/models/gpt-4", { auth: false, headers: { ...auth, origin: ORIGIN } });
    assert.equal(good.status, 200);
    assert.equal(good.headers.get("access-control-allow-origin"), ORIGIN);
    assert.match(good.headers.get("vary") ?? "", /origin/i);
    const bad = await raw(strict, "/v1/models/gpt-4", { auth: false, headers: { ...auth, origin: "https://b.example" } });
    assert.equal(bad.headers.get("access-control-allow-origin"), null);
    const pre = await raw(strict, "/v1/chat/completions", { method: "OPTIONS", auth: false, headers: { origin: ORIGIN, "access-control-request-method": "POST" } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), ORIGIN);
    const preBad = await raw(strict, "/v1/chat/completions", { method: "OPTIONS", auth: false, headers: { origin: "https://b.example", "access-control-request-method": "POST" } });
    assert.equal(preBad.headers.get("access-control-allow-origin"), null);
    assert.equal(preBad.headers.get("access-control-allow-methods"), null);
  });

  test("ALLOWED_ORIGINS list: every response varies on Origin", {
  }, async () => {
    const auth = { authorization: "Bearer sk-single-key" };
    for (const headers of [{ ...auth, origin: "https://b.example" }, auth]) {
      const r = await raw(strict, "/v1/models/gpt-4", { auth: false, headers });
      assert.match(r.headers.get("vary") ?? "", /origin/i);
    }
  });
});

describe("request ids", () => {
  test("x-request-id is echoed when sent, generated (unique) otherwise, on success and errors", async () => {
    const echoed = await raw(gw, "/v1/models", { headers: { "x-request-id": "my-trace-42" } });
    assert.equal(echoed.headers.get("x-request-id"), "my-trace-42");
    const ids = new Set();
    for (const [path, opts] of [["/v1/models", {}], ["/v1/models", {}], ["/v1/nope", {}], ["/v1/models", { auth: false }], ["/health", { auth: false }]]) {
      const r = await raw(gw, path, opts);
      await r.arrayBuffer();
      const id = r.headers.get("x-request-id");
      assert.ok(id && id.length >= 8, `${path} ${r.status}: generated x-request-id`);
      ids.add(id);
    }
    assert.equal(ids.size, 5, "generated ids are unique");
  });

  test("streams carry x-request-id; the SDK exposes it", async () => {
    const r = await raw(gw, "/v1/chat/completions", { method: "POST", headers: { "x-request-id": "stream-7" }, body: { model: "gpt-4", stream: true, messages: user("x [[emu:tokens=1]]") } });
    await r.text();
    assert.equal(r.headers.get("x-request-id"), "stream-7");
    const { response } = await ai.chat.completions.create({ model: "gpt-3.5-turbo", messages: user("x") }).withResponse();
    assert.ok(response.headers.get("x-request-id"));
    const err = await thrown(() => ai.chat.completions.create({ model: "gpt-3.5-turbo", messages: [] }));
    assert.ok(err.requestID, "error carries the request id");
  });
});

describe("routing", () => {
  test("unknown routes -> 404 unknown_url", async () => {
    for (const [method, path] of [["GET", "/v1/nope"], ["POST", "/v1/completion"], ["GET", "/v2/models"], ["POST", "/v1/chat/completions/extra"], ["GET", "/favicon.ico"]]) {
      const r = await rawJson(gw, path, { method, body: method === "POST" ? { model: "gpt-4" } : undefined });
      await expectError(r, 404, { code: "unknown_url", label: `${method} ${path}` });
    }
    const r = await rawJson(gw, "/v1/nope", { auth: false });
    assert.equal(r.status, 404);
  });

  test("wrong method -> 405", async () => {
    for (const [method, path] of [["GET", "/v1/chat/completions"], ["PUT", "/v1/chat/completions"], ["POST", "/v1/models"], ["DELETE", "/v1/models/gpt-4"], ["POST", "/health"]]) {
      const r = await rawJson(gw, path, { method, body: method === "GET" ? undefined : "{}" });
      await expectError(r, 405, { type: "invalid_request_error", label: `${method} ${path}` });
      assert.match(r.json.error.message, new RegExp(method));
    }
  });

  test("405 responses name the allowed methods in an Allow header (RFC 9110 §15.5.6)", {
  }, async () => {
    const r = await raw(gw, "/v1/chat/completions");
    await r.text();
    assert.equal(r.status, 405);
    assert.match(r.headers.get("allow") ?? "", /POST/);
  });
});

describe("body size limit", () => {
  test("default limit (10 MiB): a body just over it -> 413; just under it is accepted", async () => {
    const LIMIT = 10 * 1024 * 1024;
    const frame = (n) => {
      const head = '{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"';
      const tail = ' [[emu:tokens=1]]"}]}';
      return head + "x".repeat(n - head.length - tail.length) + tail;
    };
    // Locally, workerd resets the connection when the worker answers before reading a large
    // upload, so the client sometimes sees ECONNRESET instead of the 413 (a runtime artefact,
    // see the report). Retry a few times; every answer that arrives must be the 413.
    const body = frame(LIMIT + 1);
    let over;
    const resets = [];
    for (let attempt = 0; attempt < 10 && !over; attempt++) {
      try {
        over = await rawJson(gw, "/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json", connection: "close" }, body });
      } catch (e) {
        resets.push(e.cause?.code ?? e.message);
      }
    }
    assert.ok(over, `no answer in 10 attempts, only connection errors: ${resets.join(", ")}`);
    await expectError(over, 413, { code: "request_too_large", label: "10 MiB + 1" });
    const under = await rawJson(gw, "/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: frame(LIMIT - 100) });
    assert.notEqual(under.status, 413, "a body under the limit is not rejected for its size");
  });

  test("MAX_BODY_BYTES is honoured, also for chunked bodies without Content-Length", async () => {
    const auth = { authorization: "Bearer sk-single-key" };
    const big = JSON.stringify({ model: "gpt-3.5-turbo", messages: user("x".repeat(SMALL_LIMIT)) });
    const r = await rawJson(strict, "/v1/chat/completions", { method: "POST", auth: false, headers: { ...auth, "content-type": "application/json" }, body: big });
    const e = await expectError(r, 413, { code: "request_too_large", label: "over MAX_BODY_BYTES" });
    assert.match(e.message, new RegExp(String(SMALL_LIMIT)));
    const chunked = new ReadableStream({
      start(c) {
        const bytes = new TextEncoder().encode(big);
        for (let i = 0; i < bytes.length; i += 500) c.enqueue(bytes.slice(i, i + 500));
        c.close();
      },
    });
    const rc = await rawJson(strict, "/v1/chat/completions", { method: "POST", auth: false, headers: { ...auth, "content-type": "application/json" }, body: chunked });
    await expectError(rc, 413, { code: "request_too_large", label: "chunked over MAX_BODY_BYTES" });
    const small = await rawJson(strict, "/v1/chat/completions", { method: "POST", auth: false, headers: auth, body: { model: "gpt-3.5-turbo", messages: user("small [[emu:tokens=1]]") } });
    assert.equal(small.status, 200);
  });

  test("SDK surfaces 413 as an APIError with status 413", async () => {
    const err = await thrown(() => client(strict, { apiKey: "sk-single-key" }).chat.completions.create({ model: "gpt-3.5-turbo", messages: user("y".repeat(SMALL_LIMIT)) }));
    assert.ok(err instanceof OpenAI.APIError);
    assert.equal(err.status, 413);
    assert.equal(err.code, "request_too_large");
  });
});

describe("bad inputs", () => {
  const u = user("hi");
  const img = [{ role: "user", content: [{ type: "text", text: "describe" }, { type: "image_url", image_url: { url: "https://example.com/cat.png" } }] }];
  // [label, body (object or raw string), status, expected param (undefined = not checked)]
  const cases = [
    ["malformed JSON", "{not json", 400, undefined],
    ["empty body", "", 400, undefined],
    ["JSON array body", "[]", 400, undefined],
    ["JSON string body", '"hello"', 400, undefined],
    ["missing model", { messages: u }, 400, "model"],
    ["empty model", { model: "", messages: u }, 400, "model"],
    ["empty messages", { model: "gpt-4", messages: [] }, 400, "messages"],
    ["bad role", { model: "gpt-4", messages: [{ role: "wizard", content: "hi" }] }, 400, "messages"],
    ["temperature 3", { model: "gpt-4", messages: u, temperature: 3 }, 400, "temperature"],
    ["temperature -1", { model: "gpt-4", messages: u, temperature: -1 }, 400, "temperature"],
    ["top_p 2", { model: "gpt-4", messages: u, top_p: 2 }, 400, "top_p"],
    ["presence_penalty 3", { model: "gpt-4", messages: u, presence_penalty: 3 }, 400, "presence_penalty"],
    ["frequency_penalty -3", { model: "gpt-4", messages: u, frequency_penalty: -3 }, 400, "frequency_penalty"],
    ["n=9", { model: "gpt-4", messages: u, n: 9 }, 400, "n"],
    ["max_tokens 0", { model: "gpt-4", messages: u, max_tokens: 0 }, 400, "max_tokens"],
    ["image for a non-vision model", { model: "gpt-3.5-turbo", messages: img }, 400, "messages"],
    ["tools for gpt-3.5-turbo", { model: "gpt-3.5-turbo", messages: u, tools: [WEATHER_TOOL] }, 400, "tools"],
    ["embedding model for chat", { model: "text-embedding-3-small", messages: u }, 400, "model"],
    ["unknown model", { model: "gpt-17", messages: u }, 404, "model"],
    ["missing messages", { model: "gpt-4" }, 400, undefined],
    ["messages not an array", { model: "gpt-4", messages: "hi" }, 400, undefined],
    ["message without role", { model: "gpt-4", messages: [{ content: "hi" }] }, 400, undefined],
    ["content is a number", { model: "gpt-4", messages: [{ role: "user", content: 5 }] }, 400, undefined],
    ["model is a number", { model: 5, messages: u }, 400, undefined],
    ["temperature is a string", { model: "gpt-4", messages: u, temperature: "hot" }, 400, undefined],
    ["stream is a string", { model: "gpt-4", messages: u, stream: "yes" }, 400, undefined],
    ["max_tokens negative", { model: "gpt-4", messages: u, max_tokens: -5 }, 400, undefined],
    ["tool without function", { model: "gpt-4", messages: u, tools: [{ type: "function" }] }, 400, undefined],
  ];

  for (const [label, body, status, param] of cases) {
    test(`${label} -> ${status}${param ? ` (param ${param})` : ""}`, async () => {
      const r = await rawJson(gw, "/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body });
      const e = await expectError(r, status, { type: "invalid_request_error", label });
      if (param !== undefined) assert.equal(e.param, param, `${label}: param`);
    });
  }

  // Same inputs, stricter expectations the gateway does not meet yet.
  const paramCases = [
    ["missing messages", { model: "gpt-4" }, "messages"],
    ["messages not an array", { model: "gpt-4", messages: "hi" }, "messages"],
    ["model is a number", { model: 5, messages: u }, "model"],
    ["temperature is a string", { model: "gpt-4", messages: u, temperature: "hot" }, "temperature"],
    ["stream is a string", { model: "gpt-4", messages: u, stream: "yes" }, "stream"],
    ["max_tokens negative", { model: "gpt-4", messages: u, max_tokens: -5 }, "max_tokens"],
  ];
  for (const [label, body, param] of paramCases) {
    test(`${label}: param names the field and the message has no Rust type names`, async () => {
      const r = await rawJson(gw, "/v1/chat/completions", { method: "POST", body });
      const e = await expectError(r, 400, { type: "invalid_request_error", label });
      assert.equal(e.param, param);
      assert.doesNotMatch(e.message, /\b(f64|u64|i64|struct|enum|sequence)\b/);
    });
  }

  test("tool without function: rejected by the gateway (param tools), not by Workers AI", async () => {
    const r = await rawJson(gw, "/v1/chat/completions", { method: "POST", body: { model: "gpt-4", messages: u, tools: [{ type: "function" }] } });
    const e = await expectError(r, 400, { type: "invalid_request_error" });
    assert.equal(e.param, "tools");
    assert.doesNotMatch(e.message, /5006/);
  });

  test("tool message without tool_call_id -> 400", async () => {
    const r = await rawJson(gw, "/v1/chat/completions", { method: "POST", body: { model: "gpt-4", messages: [...u, { role: "tool", content: "x" }] } });
    await expectError(r, 400, { type: "invalid_request_error" });
  });

  test("validation errors through the SDK are BadRequestError", async () => {
    const err = await thrown(() => ai.chat.completions.create({ model: "gpt-4", messages: u, temperature: 3 }));
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.param, "temperature");
  });

  test("after all the bad inputs, normal requests still succeed on the same instance", async () => {
    const r = await ai.chat.completions.create({ model: "gpt-4", messages: user("still alive? [[emu:tokens=2]] [[emu:no_reasoning]]") });
    schema("CreateChatCompletionResponse", r);
    assert.equal(r.choices[0].message.content, "w1 w2");
    const s = await rawStream(gw, { model: "gpt-3.5-turbo", messages: user("stream alive [[emu:tokens=2]]") });
    assert.ok(s.done);
    assert.equal(checkChunks(s.chunks, { model: "gpt-3.5-turbo" }).content, "w1 w2");
    const h = await rawJson(gw, "/health", { auth: false });
    assert.equal(h.status, 200);
  });
});
