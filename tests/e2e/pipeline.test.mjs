// End-to-end: what happens around a model request. The response cache (RESPONSE_CACHE, in
// GATEWAY_KV or the Cache API), Idempotency-Key, the OpenAI-compatible upstream (`openai/…`,
// OPENAI_MODELS) answered here by a fake node:http server on loopback, fallback chains
// (MODEL_FALLBACKS, UPSTREAM_TIMEOUT_MS), the AI Gateway option, and the per-request log line.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { randomUUID } from "node:crypto";
import { startGateway, client, raw, schema, user, parseSSE, checkChunks, checkErrorBody, KEY, KEY2, API_KEYS } from "./_support.mjs";

const UPSTREAM_KEY = "sk-upstream-secret-4c1d9e";
// Each running gateway pipes its workerd's stderr into process.stderr (until disposed); some
// describe blocks here run several at once, past Node's default warning threshold of 10 listeners.
process.stderr.setMaxListeners?.(64);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * A request with its own x-request-id, so its log line can be found. Returns the status, headers,
 * text, JSON (if any), and `log()` which resolves to the parsed log line.
 */
async function call(gw, path, { body, headers = {}, key = KEY, method = "POST" } = {}) {
  const rid = `t-${randomUUID()}`;
  const res = await raw(gw, path, { method, body, headers: { authorization: `Bearer ${key}`, "x-request-id": rid, ...headers } });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { res, status: res.status, headers: res.headers, text, json, rid, log: () => logLine(gw, rid) };
}

const chat = (gw, body, opts = {}) => call(gw, "/v1/chat/completions", { body, ...opts });

/** The JSON log line of request `rid` (waits for it: a stream's line comes when the stream ends). */
async function logLine(gw, rid, timeout = 3000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    for (const line of gw.logs) {
      if (!line.startsWith("{") || !line.includes(rid)) continue;
      try {
        const json = JSON.parse(line);
        if (json.request_id === rid) return json;
      } catch {}
    }
    if (Date.now() > deadline) assert.fail(`no log line for ${rid}; last lines:\n${gw.logs.slice(-5).join("\n")}`);
    await sleep(20);
  }
}

/** Every JSON log line of a gateway. */
const logLines = (gw) => gw.logs.filter((l) => l.startsWith("{")).map((l) => { try { return JSON.parse(l); } catch { return null; } }).filter(Boolean);

function assertNoKeysInLogs(gw, label) {
  for (const line of gw.logs) {
    for (const secret of [KEY, KEY2, UPSTREAM_KEY]) assert.ok(!line.includes(secret), `${label}: a log line contains a key: ${line}`);
  }
}

/**
 * A fake OpenAI-compatible upstream on loopback. It records every request ({method, path,
 * headers, body, raw}) and is steered by markers anywhere in the body text:
 * `[[fake:status=N]]` answers N with an OpenAI error body, `[[fake:html]]` a 503 HTML page,
 * `[[fake:hang]]` never answers,
 * `[[fake:hold]]` (streams) holds the last chunks until `release()` (or 5 s). `failNext = n`
 * makes the next n requests 503s.
 */
async function startFakeOpenAI() {
  const sockets = new Set();
  const fake = {
    requests: [],
    failNext: 0,
    serial: 0,
    hold: null, // { released: Promise, release(), by: "client" | "timeout" | null, lastSentAt }
    release() { fake.hold?.release("client"); },
    holdFor() {
      let release;
      const released = new Promise((r) => { release = r; });
      const hold = { by: null, released };
      hold.release = (by) => { if (!hold.by) { hold.by = by; release(); } };
      setTimeout(() => hold.release("timeout"), 5000).unref();
      fake.hold = hold;
      return hold;
    },
  };
  const server = http.createServer(async (req, res) => {
    let rawBody = "";
    for await (const chunk of req) rawBody += chunk;
    let body;
    try { body = JSON.parse(rawBody); } catch { body = undefined; }
    const path = req.url;
    fake.requests.push({ method: req.method, path, headers: req.headers, body, raw: rawBody });
    const n = ++fake.serial;
    const model = body?.model ?? "unknown";
    const json = (status, value, type = "application/json; charset=utf-8") => {
      res.writeHead(status, { "content-type": type, "x-fake-upstream": "yes" });
      res.end(typeof value === "string" ? value : JSON.stringify(value));
    };
    if (rawBody.includes("[[fake:hang]]")) return; // never answers (the socket is destroyed at close)
    if (rawBody.includes("[[fake:html]]")) {
      // A proxy in front of the upstream failing with its own page, not an OpenAI error.
      res.writeHead(503, { "content-type": "text/html" });
      res.end("<html><body>Service Unavailable</body></html>");
      return;
    }
    const forced = /\[\[fake:status=(\d+)\]\]/.exec(rawBody)?.[1];
    let status = forced ? Number(forced) : 200;
    if (status === 200 && fake.failNext > 0) {
      fake.failNext--;
      status = 503;
    }
    if (status !== 200) {
      const errors = {
        400: { message: "Invalid value for 'temperature': from the fake upstream.", type: "invalid_request_error", param: "temperature", code: "invalid_value" },
        401: { message: "Incorrect API key provided: sk-up****9e.", type: "invalid_request_error", param: null, code: "invalid_api_key" },
        429: { message: "Rate limit reached for the fake upstream.", type: "requests", param: null, code: "rate_limit_exceeded" },
      };
      const error = errors[status] ?? { message: `The fake upstream failed with ${status}.`, type: "server_error", param: null, code: null };
      return json(status, { error });
    }
    switch (path) {
      case "/v1/chat/completions": {
        if (body.stream) {
          res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
          const id = `chatcmpl-fake${n}`;
          const chunk = (delta, finish = null, extra = {}) =>
            `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 1700000000, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra })}\n\n`;
          const hold = rawBody.includes("[[fake:hold]]") ? fake.holdFor() : null;
          res.write(chunk({ role: "assistant", content: "" }));
          res.write(chunk({ content: "Hello" }));
          if (hold) await hold.released;
          else await sleep(30);
          res.write(chunk({ content: " from" }));
          await sleep(30);
          res.write(chunk({ content: " the fake" }));
          if (hold) hold.lastSentAt = Date.now();
          res.write(chunk({}, "stop", { usage: { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 } }));
          res.end("data: [DONE]\n\n");
          return;
        }
        return json(200, {
          id: `chatcmpl-fake${n}`,
          object: "chat.completion",
          created: 1700000000,
          model,
          choices: [{ index: 0, message: { role: "assistant", content: "Hello from the fake upstream", refusal: null }, logprobs: null, finish_reason: "stop" }],
          usage: { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 },
          system_fingerprint: "fp_fake",
        });
      }
      case "/v1/embeddings":
        return json(200, { object: "list", data: [{ object: "embedding", index: 0, embedding: [0.25, -0.5, 0.75] }], model, usage: { prompt_tokens: 3, total_tokens: 3 } });
      case "/v1/responses":
        return json(200, {
          id: `resp_fake${n}`, object: "response", created_at: 1700000000, status: "completed", model,
          output: [{ type: "message", id: `msg_fake${n}`, status: "completed", role: "assistant", content: [{ type: "output_text", text: "Hi from the fake", annotations: [] }] }],
          usage: { input_tokens: 4, output_tokens: 4, total_tokens: 8 },
        });
      case "/v1/moderations":
        return json(200, { id: `modr-fake${n}`, model, results: [{ flagged: false, categories: { violence: false }, category_scores: { violence: 0.01 } }] });
      case "/v1/images/generations":
        return json(200, { created: 1700000000, data: [{ b64_json: "iVBORw0KGgo=" }] });
      default:
        return json(404, { error: { message: `fake: no route ${path}`, type: "invalid_request_error", param: null, code: null } });
    }
  });
  server.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  fake.url = `http://127.0.0.1:${server.address().port}/v1`;
  fake.close = () => {
    fake.hold?.release("timeout");
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(r));
  };
  fake.since = (mark) => fake.requests.slice(mark);
  return fake;
}

/** A loopback port nobody listens on. */
async function closedPort() {
  const server = http.createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

const T0 = { temperature: 0 };

// ---------------------------------------------------------------------------------------------
describe("response cache in GATEWAY_KV (RESPONSE_CACHE=on)", () => {
  let gw, fake;
  before(async () => {
    fake = await startFakeOpenAI();
    gw = await startGateway({ bindings: { API_KEYS, RESPONSE_CACHE: "on", OPENAI_API_KEY: UPSTREAM_KEY, OPENAI_API_BASE: fake.url } });
  });
  after(async () => { await gw?.dispose(); await fake?.close(); });

  test("a temperature-0 chat is a MISS, then a HIT with the identical body; the log says miss/hit", async () => {
    const body = { model: "gpt-4", ...T0, messages: user("cache me please") };
    const first = await chat(gw, body);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get("x-cache"), "MISS");
    schema("CreateChatCompletionResponse", first.json, "miss");
    const second = await chat(gw, body);
    assert.equal(second.status, 200);
    assert.equal(second.headers.get("x-cache"), "HIT");
    assert.equal(second.text, first.text, "a HIT returns the identical body");
    assert.equal(second.json.id, first.json.id);
    assert.match(second.headers.get("content-type"), /^application\/json/);
    const [l1, l2] = [await first.log(), await second.log()];
    assert.equal(l1.cache, "miss");
    assert.equal(l2.cache, "hit");
    assert.equal(l2.status, 200);
    assert.equal(typeof l2.total_tokens, "number", "a HIT's log line still carries the answer's tokens");
  });

  test("the same body in another key order is a HIT; other content or another key's user is a MISS", async () => {
    const body = { model: "gpt-4", temperature: 0, messages: [{ role: "user", content: "order does not matter" }], max_tokens: 50 };
    assert.equal((await chat(gw, body)).headers.get("x-cache"), "MISS");
    const reordered = { max_tokens: 50, messages: [{ content: "order does not matter", role: "user" }], temperature: 0, model: "gpt-4" };
    assert.equal((await chat(gw, reordered)).headers.get("x-cache"), "HIT");
    assert.equal((await chat(gw, { ...body, user: "someone-else" })).headers.get("x-cache"), "HIT", "the body's `user` is not part of the key");
    assert.equal((await chat(gw, { ...body, messages: user("order does matter") })).headers.get("x-cache"), "MISS");
    assert.equal((await chat(gw, { ...body, max_tokens: 51 })).headers.get("x-cache"), "MISS");
    const alice = await chat(gw, body, { key: KEY2 });
    assert.equal(alice.headers.get("x-cache"), "MISS", "alice never gets test's cached answer");
    assert.equal((await alice.log()).user, "alice");
    assert.equal((await chat(gw, body, { key: KEY2 })).headers.get("x-cache"), "HIT");
  });

  test("without temperature 0 the cache is bypassed (no X-Cache) unless X-Gateway-Cache: force", async () => {
    const body = { model: "gpt-4", messages: user("sampled answer") };
    const sampled = await chat(gw, body);
    assert.equal(sampled.status, 200);
    assert.equal(sampled.headers.get("x-cache"), null);
    assert.match((await sampled.log()).cache, /^bypass: /);
    const hot = await chat(gw, { ...body, temperature: 0.7 });
    assert.equal(hot.headers.get("x-cache"), null);
    const forced = await chat(gw, body, { headers: { "x-gateway-cache": "force" } });
    assert.equal(forced.headers.get("x-cache"), "MISS");
    const again = await chat(gw, body, { headers: { "x-gateway-cache": "force" } });
    assert.equal(again.headers.get("x-cache"), "HIT");
    assert.equal(again.text, forced.text);
  });

  test("X-Gateway-Cache: skip and Cache-Control: no-store/no-cache bypass: no X-Cache, log `bypass: …`", async () => {
    const body = { model: "gpt-4", ...T0, messages: user("skip the cache") };
    assert.equal((await chat(gw, body)).headers.get("x-cache"), "MISS");
    for (const headers of [{ "x-gateway-cache": "skip" }, { "cache-control": "no-store" }, { "cache-control": "no-cache" }]) {
      const r = await chat(gw, body, { headers });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("x-cache"), null, JSON.stringify(headers));
      assert.match((await r.log()).cache, /^bypass: /, JSON.stringify(headers));
    }
    assert.equal((await chat(gw, body)).headers.get("x-cache"), "HIT", "the stored answer is still there");
  });

  test("streams are never cached", async () => {
    const body = { model: "gpt-4", ...T0, stream: true, messages: user("stream, no cache") };
    for (let i = 0; i < 2; i++) {
      const r = await chat(gw, body);
      assert.equal(r.status, 200);
      assert.match(r.headers.get("content-type"), /^text\/event-stream/);
      assert.equal(r.headers.get("x-cache"), null);
      assert.equal((await r.log()).cache, "bypass: stream");
    }
  });

  test("completions, responses, embeddings and moderations: MISS then HIT", async () => {
    const cases = [
      ["/v1/completions", { model: "gpt-3.5-turbo", ...T0, prompt: "Once upon a time" }, "CreateCompletionResponse"],
      ["/v1/responses", { model: "gpt-4o-mini", ...T0, input: "cache this response" }, null],
      ["/v1/embeddings", { model: "text-embedding-3-small", input: "embed me once" }, "CreateEmbeddingResponse"],
      ["/v1/moderations", { model: "omni-moderation-latest", input: "a harmless sentence" }, "CreateModerationResponse"],
    ];
    for (const [path, body, schemaName] of cases) {
      const miss = await call(gw, path, { body });
      assert.equal(miss.status, 200, `${path}: ${miss.text}`);
      assert.equal(miss.headers.get("x-cache"), "MISS", path);
      if (schemaName) schema(schemaName, miss.json, path);
      const hit = await call(gw, path, { body });
      assert.equal(hit.headers.get("x-cache"), "HIT", path);
      assert.equal(hit.text, miss.text, `${path}: identical body`);
    }
    // Not a cacheable route: images.
    const image = await call(gw, "/v1/images/generations", { body: { model: "dall-e-3", prompt: "a red square", response_format: "b64_json" } });
    assert.equal(image.status, 200, image.text);
    assert.equal(image.headers.get("x-cache"), null);
  });

  test("errors are never stored: a 429 is not served from the cache, a 400 is not stored", async () => {
    const failing = { model: "gpt-4", ...T0, messages: user("[[emu:error=3040]] busy") };
    const first = await chat(gw, failing);
    assert.equal(first.status, 429);
    const second = await chat(gw, failing);
    assert.equal(second.status, 429);
    assert.notEqual(second.headers.get("x-cache"), "HIT", "an error must not be served from the cache");
    assert.notEqual((await second.log()).cache, "hit");
    const invalid = { model: "gpt-4", ...T0, max_tokens: 0, messages: user("bad max_tokens") };
    const bad1 = await chat(gw, invalid);
    assert.equal(bad1.status, 400, bad1.text);
    const bad2 = await chat(gw, invalid);
    assert.equal(bad2.status, 400);
    assert.notEqual(bad2.headers.get("x-cache"), "HIT");
  });

  test("a consulted cache says so on errors too: X-Cache: MISS and log `miss…` for a Workers AI error as for an upstream one", async () => {
    fake.failNext = 1;
    const upstream = await chat(gw, { model: "openai/gpt-4o-mini", ...T0, messages: user("upstream error, cache consulted") });
    assert.equal(upstream.status, 503);
    assert.equal(upstream.headers.get("x-cache"), "MISS");
    assert.equal((await upstream.log()).cache, "miss (not stored: error)");
    const local = await chat(gw, { model: "gpt-4", ...T0, messages: user("[[emu:error=3040]] local error, cache consulted") });
    assert.equal(local.status, 429);
    assert.equal(local.headers.get("x-cache"), "MISS", "the cache was looked up, as for the upstream error");
    assert.match(String((await local.log()).cache), /^miss/);
  });

  test("a request that failed and then succeeds is answered, not served the error (OpenAI upstream)", async () => {
    const body = { model: "openai/gpt-4o-mini", ...T0, messages: user("flaky upstream") };
    const mark = fake.requests.length;
    fake.failNext = 1;
    const failed = await chat(gw, body);
    assert.equal(failed.status, 503);
    const ok = await chat(gw, body);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers.get("x-cache"), "MISS");
    const hit = await chat(gw, body);
    assert.equal(hit.headers.get("x-cache"), "HIT");
    assert.equal(hit.text, ok.text, "same id: the upstream answer was kept");
    assert.equal(fake.since(mark).length, 2, "the HIT did not reach the upstream");
  });

  test("no log line carries a key", () => assertNoKeysInLogs(gw, "cache"));
});

describe("response cache without GATEWAY_KV (Cache API) and in opt-in mode", () => {
  let cacheApi, optIn, off;
  before(async () => {
    [cacheApi, optIn, off] = await Promise.all([
      startGateway({ bindings: { API_KEYS, RESPONSE_CACHE: "on" }, kvNamespaces: [] }),
      startGateway({ bindings: { API_KEYS, RESPONSE_CACHE: "opt-in", RESPONSE_CACHE_TTL: "10" } }),
      startGateway({ bindings: { API_KEYS } }),
    ]);
  });
  after(() => Promise.all([cacheApi, optIn, off].map((gw) => gw?.dispose())));

  test("Cache API storage: MISS then HIT with the identical body; other users MISS", async () => {
    const body = { model: "gpt-4", ...T0, messages: user("cached in the Cache API") };
    const miss = await chat(cacheApi, body);
    assert.equal(miss.status, 200, miss.text);
    assert.equal(miss.headers.get("x-cache"), "MISS");
    const hit = await chat(cacheApi, body);
    assert.equal(hit.headers.get("x-cache"), "HIT");
    assert.equal(hit.text, miss.text);
    assert.equal((await hit.log()).cache, "hit");
    assert.equal((await chat(cacheApi, body, { key: KEY2 })).headers.get("x-cache"), "MISS");
    const emb = { model: "text-embedding-3-small", input: ["a", "b"] };
    assert.equal((await call(cacheApi, "/v1/embeddings", { body: emb })).headers.get("x-cache"), "MISS");
    assert.equal((await call(cacheApi, "/v1/embeddings", { body: emb })).headers.get("x-cache"), "HIT");
  });

  test("opt-in: only X-Gateway-Cache: on|force uses the cache", async () => {
    const body = { model: "gpt-4", ...T0, messages: user("only when asked") };
    const plain = await chat(optIn, body);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get("x-cache"), null);
    assert.match((await plain.log()).cache, /^bypass: .*opt-in/);
    assert.equal((await chat(optIn, body, { headers: { "x-gateway-cache": "on" } })).headers.get("x-cache"), "MISS");
    assert.equal((await chat(optIn, body, { headers: { "x-gateway-cache": "on" } })).headers.get("x-cache"), "HIT");
    assert.equal((await chat(optIn, body)).headers.get("x-cache"), null, "still not used without the header");
    const sampled = { model: "gpt-4", messages: user("forced in opt-in") };
    assert.equal((await chat(optIn, sampled, { headers: { "x-gateway-cache": "on" } })).headers.get("x-cache"), null, "`on` still needs temperature 0");
    assert.equal((await chat(optIn, sampled, { headers: { "x-gateway-cache": "force" } })).headers.get("x-cache"), "MISS");
    assert.equal((await chat(optIn, sampled, { headers: { "x-gateway-cache": "force" } })).headers.get("x-cache"), "HIT");
  });

  test("RESPONSE_CACHE off (the default): no X-Cache, log cache null, even when asked", async () => {
    const body = { model: "gpt-4", ...T0, messages: user("no cache here") };
    for (const headers of [{}, { "x-gateway-cache": "force" }]) {
      const r = await chat(off, body, { headers });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("x-cache"), null);
      assert.equal((await r.log()).cache, null);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe("Idempotency-Key", () => {
  let gw, noKv, fake;
  before(async () => {
    fake = await startFakeOpenAI();
    [gw, noKv] = await Promise.all([
      startGateway({ bindings: { API_KEYS, OPENAI_API_KEY: UPSTREAM_KEY, OPENAI_API_BASE: fake.url } }),
      startGateway({ bindings: { API_KEYS }, kvNamespaces: [] }),
    ]);
  });
  after(async () => { await Promise.all([gw?.dispose(), noKv?.dispose()]); await fake?.close(); });

  const idem = (key) => ({ "idempotency-key": key });

  test("the first response is stored; a retry gets the identical body with Idempotent-Replayed: true", async () => {
    const k = randomUUID();
    const body = { model: "gpt-4", messages: user("charge the card once") };
    const first = await chat(gw, body, { headers: idem(k) });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get("idempotent-replayed"), null);
    const retry = await chat(gw, body, { headers: idem(k) });
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get("idempotent-replayed"), "true");
    assert.equal(retry.text, first.text);
    assert.match(retry.headers.get("content-type"), /^application\/json/);
    assert.equal((await first.log()).idempotency, "stored");
    const replayLog = await retry.log();
    assert.equal(replayLog.idempotency, "replayed");
    assert.equal(replayLog.model, "gpt-4");
  });

  test("a replay does not run the model again (OpenAI upstream: one upstream call, same id)", async () => {
    const k = randomUUID();
    const body = { model: "openai/gpt-4o-mini", messages: user("once only") };
    const mark = fake.requests.length;
    const first = await chat(gw, body, { headers: idem(k) });
    const retry = await chat(gw, body, { headers: idem(k) });
    assert.equal(first.status, 200, first.text);
    assert.equal(retry.text, first.text);
    assert.equal(retry.headers.get("idempotent-replayed"), "true");
    assert.equal(fake.since(mark).length, 1);
  });

  test("the same key with a different body is a 422 idempotency_key_reused", async () => {
    const k = randomUUID();
    assert.equal((await chat(gw, { model: "gpt-4", messages: user("body A") }, { headers: idem(k) })).status, 200);
    const other = await chat(gw, { model: "gpt-4", messages: user("body B") }, { headers: idem(k) });
    assert.equal(other.status, 422, other.text);
    checkErrorBody(other.json, "422");
    assert.equal(other.json.error.code, "idempotency_key_reused");
    assert.equal((await other.log()).idempotency, "reused");
    const route = await call(gw, "/v1/completions", { body: { model: "gpt-4", messages: user("body A") }, headers: idem(k) });
    assert.equal(route.status, 422, "another endpoint with the same key is a reuse too");
  });

  test("a duplicate while the first is still running is a 409 idempotency_key_in_use; afterwards it replays", async () => {
    const k = randomUUID();
    const body = { model: "gpt-4", messages: user("slow one [[emu:delay=1500]]") };
    const firstP = chat(gw, body, { headers: idem(k) });
    await sleep(300);
    const dup = await chat(gw, body, { headers: idem(k) });
    assert.equal(dup.status, 409, dup.text);
    checkErrorBody(dup.json, "409");
    assert.equal(dup.json.error.code, "idempotency_key_in_use");
    assert.equal((await dup.log()).idempotency, "in_progress");
    const first = await firstP;
    assert.equal(first.status, 200);
    const later = await chat(gw, body, { headers: idem(k) });
    assert.equal(later.headers.get("idempotent-replayed"), "true");
    assert.equal(later.text, first.text);
  });

  test("a failed first request releases the key: the retry runs again", async () => {
    const k = randomUUID();
    const body = { model: "gpt-4", messages: user("[[emu:error=3040]] busy") };
    const first = await chat(gw, body, { headers: idem(k) });
    assert.equal(first.status, 429);
    const retry = await chat(gw, body, { headers: idem(k) });
    assert.equal(retry.status, 429, "ran again (not a 409, not a replay)");
    assert.equal(retry.headers.get("idempotent-replayed"), null);
    assert.equal((await retry.log()).upstream_model, "@cf/qwen/qwen3-30b-a3b-fp8");
    // And when the retry succeeds, it is what is kept.
    const k2 = randomUUID();
    const flaky = { model: "openai/gpt-4o-mini", messages: user("flaky then fine") };
    fake.failNext = 1;
    assert.equal((await chat(gw, flaky, { headers: idem(k2) })).status, 503);
    const ok = await chat(gw, flaky, { headers: idem(k2) });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers.get("idempotent-replayed"), null);
    const replay = await chat(gw, flaky, { headers: idem(k2) });
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal(replay.text, ok.text);
  });

  test("a stream is stored when complete and replayed as the identical text/event-stream", async () => {
    const k = randomUUID();
    const body = { model: "gpt-4", stream: true, messages: user("stream and keep [[emu:no_reasoning]]") };
    const first = await chat(gw, body, { headers: idem(k) });
    assert.equal(first.status, 200, first.text);
    assert.match(first.headers.get("content-type"), /^text\/event-stream/);
    const parsed = parseSSE(first.text);
    assert.ok(parsed.done);
    checkChunks(parsed.chunks, { model: "gpt-4" });
    const replay = await chat(gw, body, { headers: idem(k) });
    assert.equal(replay.status, 200);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.match(replay.headers.get("content-type"), /^text\/event-stream/);
    assert.equal(replay.text, first.text);
    // The same through the OpenAI upstream's passthrough stream.
    const k2 = randomUUID();
    const up = { model: "openai/gpt-4o-mini", stream: true, messages: user("upstream stream kept") };
    const a = await chat(gw, up, { headers: idem(k2) });
    const b = await chat(gw, up, { headers: idem(k2) });
    assert.equal(a.status, 200);
    assert.equal(b.headers.get("idempotent-replayed"), "true");
    assert.equal(b.text, a.text);
  });

  test("a stream that fails midway is not kept: the retry runs again", async () => {
    const k = randomUUID();
    const body = { model: "gpt-4", stream: true, messages: user("[[emu:fail_after=3]][[emu:no_reasoning]] break midway") };
    const first = await chat(gw, body, { headers: idem(k) });
    assert.equal(first.status, 200);
    const parsed = parseSSE(first.text);
    assert.ok(!parsed.done && parsed.events.some((e) => e.data.includes('"error"')), "the first stream failed midway");
    const retry = await chat(gw, body, { headers: idem(k) });
    assert.equal(retry.headers.get("idempotent-replayed"), null, "a failed stream must not be replayed");
  });

  test("keys are scoped per user: alice's k1 is not test's k1", async () => {
    const k = `k1-${randomUUID()}`;
    const mine = await chat(gw, { model: "gpt-4", messages: user("test's request") }, { headers: idem(k) });
    assert.equal(mine.status, 200);
    const hers = await chat(gw, { model: "gpt-4", messages: user("alice's request") }, { headers: idem(k), key: KEY2 });
    assert.equal(hers.status, 200, "not a 422: another user's key space");
    assert.equal(hers.headers.get("idempotent-replayed"), null);
    const hersSame = await chat(gw, { model: "gpt-4", messages: user("test's request") }, { headers: idem(`k1b-${k}`), key: KEY2 });
    assert.equal(hersSame.status, 200);
    const mineAgain = await chat(gw, { model: "gpt-4", messages: user("test's request") }, { headers: idem(k) });
    assert.equal(mineAgain.headers.get("idempotent-replayed"), "true");
    assert.equal(mineAgain.text, mine.text);
  });

  test("a key longer than 255 characters is a 400", async () => {
    const r = await chat(gw, { model: "gpt-4", messages: user("long key") }, { headers: idem("k".repeat(256)) });
    assert.equal(r.status, 400, r.text);
    checkErrorBody(r.json, "long key");
    assert.match(r.json.error.message, /Idempotency-Key/);
    assert.equal((await chat(gw, { model: "gpt-4", messages: user("255 is fine") }, { headers: idem("k".repeat(255)) })).status, 200);
  });

  test("without GATEWAY_KV the header is ignored: both requests run, the log says unavailable", async () => {
    const k = randomUUID();
    const body = { model: "gpt-4", messages: user("no kv here") };
    const a = await chat(noKv, body, { headers: idem(k) });
    const b = await chat(noKv, { ...body, messages: user("a different body, same key") }, { headers: idem(k) });
    assert.equal(a.status, 200);
    assert.equal(b.status, 200, "not a 422: nothing was recorded");
    assert.equal(b.headers.get("idempotent-replayed"), null);
    assert.equal((await a.log()).idempotency, "unavailable");
    assert.equal((await b.log()).idempotency, "unavailable");
  });

  test("the official SDK: the same Idempotency-Key twice returns the same completion (the second replayed)", async () => {
    // openai-node 6.x accepts an `idempotencyKey` request option but sends it only when the client
    // class sets `idempotencyHeader`, which OpenAI's does not: the header is passed explicitly.
    const ai = client(gw);
    const k = randomUUID();
    const body = { model: "gpt-4", messages: user("sdk idempotent") };
    const rid1 = `t-${randomUUID()}`;
    const rid2 = `t-${randomUUID()}`;
    const first = await ai.chat.completions.create(body, { idempotencyKey: k, headers: { "Idempotency-Key": k, "x-request-id": rid1 } });
    const { data: second, response } = await ai.chat.completions
      .create(body, { idempotencyKey: k, headers: { "Idempotency-Key": k, "x-request-id": rid2 } })
      .withResponse();
    assert.equal(second.id, first.id);
    assert.deepEqual(second, first);
    assert.equal(response.headers.get("idempotent-replayed"), "true");
    schema("CreateChatCompletionResponse", second, "replayed");
    assert.equal((await logLine(gw, rid1)).idempotency, "stored");
    assert.equal((await logLine(gw, rid2)).idempotency, "replayed");
  });

  test("no log line carries a key", () => { assertNoKeysInLogs(gw, "idempotency"); assertNoKeysInLogs(noKv, "idempotency, no KV"); });
});

// ---------------------------------------------------------------------------------------------
describe("OpenAI-compatible upstream", () => {
  let gw, allowed, unreachable, noUpstream, noUpstreamCached, fake;
  before(async () => {
    fake = await startFakeOpenAI();
    const port = await closedPort();
    [gw, allowed, unreachable, noUpstream, noUpstreamCached] = await Promise.all([
      startGateway({ bindings: { API_KEYS, OPENAI_API_KEY: UPSTREAM_KEY, OPENAI_API_BASE: fake.url, OPENAI_MODELS: "gpt-4o-2024*, o3-mini" } }),
      startGateway({ bindings: { API_KEYS, OPENAI_API_KEY: UPSTREAM_KEY, OPENAI_API_BASE: fake.url, ALLOWED_MODELS: "gpt-4,openai/gpt-4o-mini" } }),
      startGateway({ bindings: { API_KEYS, OPENAI_API_KEY: UPSTREAM_KEY, OPENAI_API_BASE: `http://127.0.0.1:${port}/v1` } }),
      startGateway({ bindings: { API_KEYS } }),
      startGateway({ bindings: { API_KEYS, RESPONSE_CACHE: "on" } }),
    ]);
  });
  after(async () => { await Promise.all([gw, allowed, unreachable, noUpstream, noUpstreamCached].map((g) => g?.dispose())); await fake?.close(); });

  function assertForwarded(req, { path, model }) {
    assert.equal(req.method, "POST");
    assert.equal(req.path, path);
    assert.equal(req.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    assert.equal(req.body.model, model, "the model is rewritten to the upstream's name");
    for (const [name, value] of Object.entries(req.headers)) {
      for (const k of [KEY, KEY2]) assert.ok(!String(value).includes(k), `the client's key reached the upstream in ${name}`);
    }
    assert.ok(!req.raw.includes(KEY), "the client's key is not in the body");
  }

  test("openai/<name> chat: forwarded with the gateway's key and the bare name; answered unchanged", async () => {
    const mark = fake.requests.length;
    const r = await chat(gw, { model: "openai/gpt-4o-mini", messages: user("hello upstream"), temperature: 0.3 });
    assert.equal(r.status, 200, r.text);
    const [req] = fake.since(mark);
    assertForwarded(req, { path: "/v1/chat/completions", model: "gpt-4o-mini" });
    assert.equal(req.body.temperature, 0.3);
    assert.deepEqual(req.body.messages, user("hello upstream"));
    assert.equal(r.headers.get("content-type"), "application/json; charset=utf-8", "content type unchanged");
    assert.equal(r.json.id, `chatcmpl-fake${fake.serial}`);
    assert.equal(r.json.model, "gpt-4o-mini", "the upstream's body is passed through as it is");
    assert.equal(r.json.system_fingerprint, "fp_fake");
    assert.equal(r.headers.get("x-gateway-upstream"), "openai");
    assert.equal(r.headers.get("x-gateway-model"), "openai/gpt-4o-mini");
    const log = await r.log();
    assert.equal(log.upstream, "openai");
    assert.equal(log.model, "openai/gpt-4o-mini");
    assert.equal(log.upstream_model, "gpt-4o-mini");
    assert.deepEqual([log.prompt_tokens, log.completion_tokens, log.total_tokens], [11, 5, 16]);
  });

  test("the official SDK gets the upstream's completion", async () => {
    const ai = client(gw);
    const done = await ai.chat.completions.create({ model: "openai/gpt-4o-mini", messages: user("via the sdk") });
    assert.equal(done.choices[0].message.content, "Hello from the fake upstream");
    schema("CreateChatCompletionResponse", done, "sdk upstream");
  });

  test("OPENAI_MODELS routes listed names (and prefix*) without the prefix; other names stay on Workers AI", async () => {
    const mark = fake.requests.length;
    const dated = await chat(gw, { model: "gpt-4o-2024-08-06", messages: user("dated") });
    assert.equal(dated.status, 200, dated.text);
    const exact = await chat(gw, { model: "o3-mini", messages: user("listed") });
    assert.equal(exact.status, 200, exact.text);
    const sent = fake.since(mark);
    assert.deepEqual(sent.map((q) => q.body.model), ["gpt-4o-2024-08-06", "o3-mini"]);
    assert.equal(dated.headers.get("x-gateway-model"), "gpt-4o-2024-08-06");
    assert.equal(dated.headers.get("x-gateway-upstream"), "openai");
    const local = await chat(gw, { model: "gpt-4", messages: user("stay local") });
    assert.equal(local.status, 200);
    assert.equal(local.headers.get("x-gateway-upstream"), "workers-ai");
    assert.equal(local.headers.get("x-gateway-model"), "gpt-4");
    assert.equal(fake.since(mark).length, 2);
  });

  test("embeddings, responses, moderations and images go to the matching upstream path", async () => {
    const cases = [
      ["/v1/embeddings", { model: "openai/text-embedding-3-small", input: "vector please" }],
      ["/v1/responses", { model: "openai/gpt-4o-mini", input: "respond" }],
      ["/v1/moderations", { model: "openai/omni-moderation-latest", input: "moderate me" }],
      ["/v1/images/generations", { model: "openai/gpt-image-1", prompt: "a red square" }],
    ];
    for (const [path, body] of cases) {
      const mark = fake.requests.length;
      const r = await call(gw, path, { body });
      assert.equal(r.status, 200, `${path}: ${r.text}`);
      const [req] = fake.since(mark);
      assertForwarded(req, { path, model: body.model.slice("openai/".length) });
      assert.equal(r.headers.get("x-gateway-upstream"), "openai", path);
      assert.equal(r.headers.get("x-gateway-model"), body.model, path);
      assert.equal(r.headers.get("content-type"), "application/json; charset=utf-8", path);
    }
    const emb = await call(gw, "/v1/embeddings", { body: { model: "openai/text-embedding-3-small", input: "x" } });
    assert.deepEqual(emb.json.data[0].embedding, [0.25, -0.5, 0.75]);
    assert.equal((await emb.log()).total_tokens, 3);
  });

  test("a stream is passed through chunk by chunk (the client has the first chunk before the last is sent)", async () => {
    const res = await raw(gw, "/v1/chat/completions", { method: "POST", body: { model: "openai/gpt-4o-mini", stream: true, messages: user("stream [[fake:hold]]") } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    assert.equal(res.headers.get("x-gateway-upstream"), "openai");
    assert.equal(res.headers.get("x-gateway-model"), "openai/gpt-4o-mini");
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const first = await reader.read();
    assert.ok(!first.done);
    text += decoder.decode(first.value, { stream: true });
    const hold = fake.hold;
    assert.ok(hold, "the fake is holding the rest of the stream");
    assert.equal(hold.by, null, "the first chunk arrived while the upstream still held the last one");
    fake.release();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    assert.equal(hold.by, "client");
    const { chunks, done } = parseSSE(text);
    assert.ok(done, "data: [DONE] passed through");
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), "Hello from the fake");
  });

  test("the official SDK streams from the upstream, chunk by chunk", async () => {
    const ai = client(gw);
    const stream = await ai.chat.completions.create({ model: "openai/gpt-4o-mini", stream: true, messages: user("sdk stream [[fake:hold]]") });
    let content = "";
    let n = 0;
    let holdAtFirst;
    for await (const chunk of stream) {
      if (n++ === 0) {
        holdAtFirst = fake.hold?.by;
        fake.release();
      }
      content += chunk.choices[0]?.delta?.content ?? "";
    }
    assert.equal(holdAtFirst, null, "the SDK saw the first chunk before the upstream sent the last");
    assert.equal(content, "Hello from the fake");
  });

  test("an upstream 400 is passed through with its body; 401 becomes 502 upstream_auth_failed", async () => {
    const bad = await chat(gw, { model: "openai/gpt-4o-mini", messages: user("[[fake:status=400]]") });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, "invalid_value");
    assert.equal(bad.json.error.message, "Invalid value for 'temperature': from the fake upstream.");
    assert.equal(bad.headers.get("content-type"), "application/json; charset=utf-8");
    const denied = await chat(gw, { model: "openai/gpt-4o-mini", messages: user("[[fake:status=401]]") });
    assert.equal(denied.status, 502, denied.text);
    checkErrorBody(denied.json, "upstream 401");
    assert.equal(denied.json.error.code, "upstream_auth_failed");
    assert.match(denied.json.error.message, /OPENAI_API_KEY/);
    assert.ok(!denied.text.includes(UPSTREAM_KEY));
    assert.equal((await denied.log()).error_code, "upstream_auth_failed");
  });

  test("an upstream error that is not OpenAI JSON becomes an OpenAI error with the same status", async () => {
    const r = await chat(gw, { model: "openai/gpt-4o-mini", messages: user("[[fake:html]]") });
    assert.equal(r.status, 503, r.text);
    checkErrorBody(r.json, "html error");
    assert.equal(r.json.error.code, "upstream_error");
    assert.match(r.json.error.message, /HTTP 503: <html><body>Service Unavailable/);
  });

  test("an unreachable upstream is a 502 upstream_unreachable", async () => {
    const r = await chat(unreachable, { model: "openai/gpt-4o-mini", messages: user("anyone there?") });
    assert.equal(r.status, 502, r.text);
    checkErrorBody(r.json, "unreachable");
    assert.equal(r.json.error.code, "upstream_unreachable");
  });

  const assertNotAvailable = (r) => {
    assert.equal(r.status, 400, r.text);
    checkErrorBody(r.json, "no upstream");
    assert.equal(r.json.error.code, "model_not_available");
    assert.equal(r.json.error.param, "model");
    assert.match(r.json.error.message, /OPENAI_API_KEY/);
  };

  test("openai/… without OPENAI_API_KEY is a 400 model_not_available (a gateway whose pipeline runs: RESPONSE_CACHE=on)", async () => {
    assertNotAvailable(await chat(noUpstreamCached, { model: "openai/gpt-4o-mini", messages: user("no upstream") }));
  });

  test("openai/… without OPENAI_API_KEY is a 400 model_not_available (a gateway with no pipeline features)", async () => {
    assertNotAvailable(await chat(noUpstream, { model: "openai/gpt-4o-mini", messages: user("no upstream") }));
  });

  test("ALLOWED_MODELS applies to openai/… names (403 model_not_allowed, nothing sent upstream)", async () => {
    const mark = fake.requests.length;
    assert.equal((await chat(allowed, { model: "openai/gpt-4o-mini", messages: user("allowed") })).status, 200);
    const refused = await chat(allowed, { model: "openai/o1", messages: user("not allowed") });
    assert.equal(refused.status, 403, refused.text);
    checkErrorBody(refused.json, "not allowed");
    assert.equal(refused.json.error.code, "model_not_allowed");
    assert.equal(fake.since(mark).length, 1);
  });

  test("ALLOWED_MODELS listing the Workers AI alias gpt-4 does not open the paid openai/gpt-4", async () => {
    const mark = fake.requests.length;
    const r = await chat(allowed, { model: "openai/gpt-4", messages: user("expensive") });
    assert.equal(r.status, 403, `got ${r.status}: ${r.text}`);
    assert.equal(fake.since(mark).length, 0);
  });

  test("no log line carries a key", () => {
    for (const g of [gw, allowed, unreachable, noUpstream, noUpstreamCached]) assertNoKeysInLogs(g, "upstream");
  });
});

// ---------------------------------------------------------------------------------------------
describe("fallback chains (MODEL_FALLBACKS)", () => {
  let gw, timed, fake;
  const QWEN_BUSY = "[[emu:error=3040]][[emu:only_model=qwen3]]";
  before(async () => {
    fake = await startFakeOpenAI();
    const fallbacks = { "gpt-4": ["gpt-3.5-turbo", "openai/gpt-4o-mini"], "*": ["gpt-3.5-turbo"] };
    [gw, timed] = await Promise.all([
      startGateway({ bindings: { API_KEYS, OPENAI_API_KEY: UPSTREAM_KEY, OPENAI_API_BASE: fake.url, MODEL_FALLBACKS: JSON.stringify(fallbacks) } }),
      startGateway({
        bindings: { API_KEYS, OPENAI_API_KEY: UPSTREAM_KEY, OPENAI_API_BASE: fake.url, UPSTREAM_TIMEOUT_MS: "500", MODEL_FALLBACKS: JSON.stringify({ "gpt-4": ["gpt-3.5-turbo"] }) },
      }),
    ]);
  });
  after(async () => { await Promise.all([gw?.dispose(), timed?.dispose()]); await fake?.close(); });

  test("qwen3 busy (3040) → answered by gpt-3.5-turbo; headers and log say so", async () => {
    const r = await chat(gw, { model: "gpt-4", messages: user(`${QWEN_BUSY} hello`) });
    assert.equal(r.status, 200, r.text);
    schema("CreateChatCompletionResponse", r.json, "fallback");
    assert.equal(r.headers.get("x-gateway-model"), "gpt-3.5-turbo");
    assert.equal(r.headers.get("x-gateway-upstream"), "workers-ai");
    assert.equal(r.headers.get("x-gateway-fallback-from"), "gpt-4");
    assert.equal(r.json.model, "gpt-3.5-turbo", "the body names the model that answered, as x-gateway-model does");
    assert.match(r.json.choices[0].message.content, /llama-3-8b-instruct/);
    const log = await r.log();
    assert.equal(log.attempts, 2);
    assert.equal(log.model, "gpt-4");
    assert.equal(log.upstream_model, "@cf/meta/llama-3-8b-instruct");
    assert.equal(log.upstream, "workers-ai");
    assert.equal(log.status, 200);
  });

  test("no failure: one attempt, no x-gateway-fallback-from", async () => {
    const r = await chat(gw, { model: "gpt-4", messages: user("fine first time") });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-gateway-model"), "gpt-4");
    assert.equal(r.headers.get("x-gateway-fallback-from"), null);
    assert.equal((await r.log()).attempts, 1);
  });

  test("every Workers AI model busy → the OpenAI upstream answers (attempts 3)", async () => {
    const mark = fake.requests.length;
    const r = await chat(gw, { model: "gpt-4", messages: user("[[emu:error=3040]] all busy") });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get("x-gateway-model"), "openai/gpt-4o-mini");
    assert.equal(r.headers.get("x-gateway-upstream"), "openai");
    assert.equal(r.headers.get("x-gateway-fallback-from"), "gpt-4");
    assert.equal(r.json.choices[0].message.content, "Hello from the fake upstream");
    const [req] = fake.since(mark);
    assert.equal(req.body.model, "gpt-4o-mini");
    assert.equal(req.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    const log = await r.log();
    assert.equal(log.attempts, 3);
    assert.equal(log.model, "gpt-4");
    assert.equal(log.upstream, "openai");
  });

  test("when the last model fails too, its status is what the client gets (503, 429)", async () => {
    for (const status of [503, 429]) {
      const r = await chat(gw, { model: "gpt-4", messages: user(`[[emu:error=3040]] [[fake:status=${status}]]`) });
      assert.equal(r.status, status, r.text);
      assert.ok(r.json?.error, "an error body");
      assert.equal((await r.log()).attempts, 3);
    }
  });

  test("a 400 is not retried: one attempt, nothing sent upstream", async () => {
    const mark = fake.requests.length;
    const r = await chat(gw, { model: "gpt-4", temperature: 5, messages: user(`${QWEN_BUSY} invalid temperature`) });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.param, "temperature");
    assert.equal(r.headers.get("x-gateway-fallback-from"), null);
    assert.equal((await r.log()).attempts, 1);
    const schemaErr = await chat(gw, { model: "gpt-4", messages: user("[[emu:error=5006]] schema error upstream") });
    assert.equal(schemaErr.status, 400, schemaErr.text);
    assert.equal((await schemaErr.log()).attempts, 1);
    assert.equal(fake.since(mark).length, 0);
  });

  test("the `*` chain applies to models without their own", async () => {
    const r = await chat(gw, { model: "@cf/qwen/qwen3-30b-a3b-fp8", messages: user(`${QWEN_BUSY} star chain`) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get("x-gateway-model"), "gpt-3.5-turbo");
    assert.equal(r.headers.get("x-gateway-fallback-from"), "@cf/qwen/qwen3-30b-a3b-fp8");
  });

  test("a stream falls back when the first model fails before any output", async () => {
    const r = await chat(gw, { model: "gpt-4", stream: true, messages: user(`${QWEN_BUSY} stream fallback`) });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get("content-type"), /^text\/event-stream/);
    assert.equal(r.headers.get("x-gateway-model"), "gpt-3.5-turbo");
    assert.equal(r.headers.get("x-gateway-fallback-from"), "gpt-4");
    const { chunks, done } = parseSSE(r.text);
    assert.ok(done);
    const folded = checkChunks(chunks, { model: "gpt-3.5-turbo" });
    assert.match(folded.content, /llama-3-8b-instruct/);
    const log = await r.log();
    assert.equal(log.attempts, 2);
    assert.equal(log.stream, true);
    // All Workers AI down: the upstream's stream.
    const all = await chat(gw, { model: "gpt-4", stream: true, messages: user("[[emu:error=3040]] stream to openai") });
    assert.equal(all.status, 200, all.text);
    assert.equal(all.headers.get("x-gateway-model"), "openai/gpt-4o-mini");
    assert.ok(parseSSE(all.text).done);
  });

  test("UPSTREAM_TIMEOUT_MS: a slow first model falls back; without a chain it is a 504 upstream_timeout", async () => {
    const started = Date.now();
    const r = await chat(timed, { model: "gpt-4", messages: user("[[emu:delay=2000]][[emu:only_model=qwen3]] slow") });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get("x-gateway-model"), "gpt-3.5-turbo");
    assert.equal(r.headers.get("x-gateway-fallback-from"), "gpt-4");
    assert.ok(Date.now() - started < 1800, "did not wait for the slow model");
    const alone = await chat(timed, { model: "@cf/qwen/qwen3-30b-a3b-fp8", messages: user("[[emu:delay=2000]] slow alone") });
    assert.equal(alone.status, 504, alone.text);
    checkErrorBody(alone.json, "timeout");
    assert.equal(alone.json.error.code, "upstream_timeout");
    assert.equal((await alone.log()).error_code, "upstream_timeout");
  });

  test("an OpenAI upstream that never answers is a 504 after UPSTREAM_TIMEOUT_MS", async () => {
    const started = Date.now();
    const r = await chat(timed, { model: "openai/gpt-4o-mini", messages: user("[[fake:hang]] hello?") });
    assert.equal(r.status, 504, r.text);
    assert.equal(r.json.error.code, "upstream_timeout");
    assert.ok(Date.now() - started < 3000);
  });

  test("no log line carries a key", () => { assertNoKeysInLogs(gw, "fallbacks"); assertNoKeysInLogs(timed, "timeouts"); });
});

// ---------------------------------------------------------------------------------------------
describe("AI Gateway option", () => {
  let gw, plain;
  before(async () => {
    [gw, plain] = await Promise.all([
      startGateway({ bindings: { API_KEYS, AI_GATEWAY_ID: "my-gw", AI_GATEWAY_CACHE_TTL: "120", AI_GATEWAY_SKIP_CACHE: "true" } }),
      startGateway({ bindings: { API_KEYS } }),
    ]);
  });
  after(() => Promise.all([gw?.dispose(), plain?.dispose()]));

  const ask = (g, key) => client(g, { apiKey: key }).chat.completions.create({ model: "@cf/meta/llama-3.1-8b-instruct", messages: user("[[emu:echo_options]]") });

  test("the binding gets {gateway:{id, cacheTtl, skipCache, metadata:{user}}}", async () => {
    const done = await ask(gw, KEY);
    assert.equal(done.choices[0].message.content, 'options: {"gateway":{"id":"my-gw","cacheTtl":120,"skipCache":true,"metadata":{"user":"test"}}}');
    const alice = await ask(gw, KEY2);
    assert.equal(alice.choices[0].message.content, 'options: {"gateway":{"id":"my-gw","cacheTtl":120,"skipCache":true,"metadata":{"user":"alice"}}}');
  });

  test("without AI_GATEWAY_ID no options are passed", async () => {
    // The emulator's run(model, inputs, options = {}) shows a missing third argument as {}.
    const done = await ask(plain, KEY);
    const m = /^options: (.*)$/.exec(done.choices[0].message.content);
    assert.ok(m, done.choices[0].message.content);
    const options = JSON.parse(m[1]);
    assert.ok(options === null || Object.keys(options).length === 0, `no options expected, got ${m[1]}`);
  });
});

// ---------------------------------------------------------------------------------------------
describe("observability and configuration errors", () => {
  let gw, fake;
  const bad = {};
  before(async () => {
    fake = await startFakeOpenAI();
    const configs = {
      RESPONSE_CACHE: { RESPONSE_CACHE: "sometimes" },
      MODEL_FALLBACKS: { MODEL_FALLBACKS: "[1]" },
      OPENAI_API_BASE: { OPENAI_API_KEY: UPSTREAM_KEY, OPENAI_API_BASE: "ftp://x" },
      UPSTREAM_TIMEOUT_MS: { UPSTREAM_TIMEOUT_MS: "soon" },
      AI_GATEWAY_SKIP_CACHE: { AI_GATEWAY_ID: "gw", AI_GATEWAY_SKIP_CACHE: "maybe" },
    };
    const started = await Promise.all([
      startGateway({ bindings: { API_KEYS, OPENAI_API_KEY: UPSTREAM_KEY, OPENAI_API_BASE: fake.url } }),
      ...Object.values(configs).map((b) => startGateway({ bindings: { API_KEYS, ...b } })),
    ]);
    gw = started[0];
    Object.keys(configs).forEach((name, i) => { bad[name] = started[i + 1]; });
  });
  after(async () => { await Promise.all([gw, ...Object.values(bad)].map((g) => g?.dispose())); await fake?.close(); });

  test("x-request-id is echoed when sent, else a generated UUID; the log line uses it", async () => {
    const sent = await raw(gw, "/v1/models", { headers: { "x-request-id": "my-trace-123" } });
    assert.equal(sent.headers.get("x-request-id"), "my-trace-123");
    await sent.text();
    assert.equal((await logLine(gw, "my-trace-123")).path, "/v1/models");
    const generated = await raw(gw, "/v1/models");
    await generated.text();
    const id = generated.headers.get("x-request-id");
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal((await logLine(gw, id)).status, 200);
    const tooLong = await raw(gw, "/v1/models", { headers: { "x-request-id": "x".repeat(201) } });
    await tooLong.text();
    assert.match(tooLong.headers.get("x-request-id"), /^[0-9a-f-]{36}$/, "an over-long id is replaced");
    const err = await chat(gw, { model: "no-such-model", messages: user("x") }, { headers: { "x-request-id": "trace-err-1" } });
    assert.equal(err.headers.get("x-request-id"), "trace-err-1", "errors carry it too");
  });

  test("a non-stream chat's log line: model, upstream, tokens, no duration_ms", async () => {
    const r = await chat(gw, { model: "gpt-4", messages: user("count my tokens") });
    assert.equal(r.status, 200);
    const log = await r.log();
    assert.equal(log.route, "chat.completions");
    assert.equal(log.user, "test");
    assert.equal(log.stream, false);
    assert.equal(log.model, "gpt-4");
    assert.equal(log.upstream_model, "@cf/qwen/qwen3-30b-a3b-fp8");
    assert.equal(log.upstream, "workers-ai");
    assert.equal(log.attempts, 1);
    assert.equal(log.prompt_tokens, r.json.usage.prompt_tokens);
    assert.equal(log.completion_tokens, r.json.usage.completion_tokens);
    assert.equal(log.total_tokens, r.json.usage.total_tokens);
    assert.equal(log.cache, null, "cache off");
    assert.equal(log.idempotency, null, "no header");
  });

  test("a streamed chat's line is written when the stream ends: stream true, duration_ms, tokens", async () => {
    const rid = `t-${randomUUID()}`;
    const res = await raw(gw, "/v1/chat/completions", {
      method: "POST",
      headers: { "x-request-id": rid },
      body: { model: "gpt-3.5-turbo", stream: true, messages: user("[[emu:tokens=6]][[emu:delay=60]] stream me") },
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    await reader.read();
    await sleep(100);
    assert.ok(!gw.logs.some((l) => l.includes(rid)), "no line while the stream is still running");
    while (!(await reader.read()).done);
    const log = await logLine(gw, rid);
    assert.equal(log.stream, true);
    assert.equal(log.status, 200);
    assert.equal(typeof log.duration_ms, "number");
    assert.ok(log.duration_ms >= 300, `duration_ms ${log.duration_ms} covers the whole stream`);
    assert.ok(log.duration_ms >= log.latency_ms);
    for (const k of ["prompt_tokens", "completion_tokens", "total_tokens"]) assert.equal(typeof log[k], "number", k);
    assert.equal(log.completion_tokens, 6);
    assert.equal(log.total_tokens, log.prompt_tokens + log.completion_tokens);
  });

  test("an OpenAI upstream stream's line: stream true, duration_ms, the upstream's tokens", async () => {
    const rid = `t-${randomUUID()}`;
    const res = await raw(gw, "/v1/chat/completions", {
      method: "POST",
      headers: { "x-request-id": rid },
      body: { model: "openai/gpt-4o-mini", stream: true, messages: user("log my stream") },
    });
    assert.equal(res.status, 200);
    await res.text();
    const log = await logLine(gw, rid);
    assert.equal(log.upstream, "openai");
    assert.equal(log.stream, true);
    assert.equal(typeof log.duration_ms, "number");
    assert.equal(log.total_tokens, 11);
  });

  test("bad pipeline configuration is a 500 gateway_misconfigured naming the var", async () => {
    for (const [name, g] of Object.entries(bad)) {
      const r = await chat(g, { model: "gpt-4", messages: user("hi") });
      assert.equal(r.status, 500, `${name}: ${r.text}`);
      checkErrorBody(r.json, name);
      assert.equal(r.json.error.code, "gateway_misconfigured", name);
      assert.ok(r.json.error.message.includes(name), `${name}: ${r.json.error.message}`);
      assert.ok(!r.text.includes(UPSTREAM_KEY), `${name}: the key is not echoed`);
      assert.equal((await r.log()).error_code, "gateway_misconfigured");
    }
  });

  test("no log line of any of these gateways carries a key", () => {
    for (const g of [gw, ...Object.values(bad)]) assertNoKeysInLogs(g, "observability");
  });
});
