// Shared helpers for the e2e tests (not a test file itself: `node --test tests/e2e/` only
// runs `*.test.mjs`). Each test file starts its own gateway(s) in before() and disposes them
// in after(); see scripts/lib/gateway.mjs.
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "../../scripts/lib/gateway.mjs";
import { assertOpenAI, openapiAvailable, openapiSkipReason } from "../support/openapi.mjs";

export { OpenAI, startGateway, openapiAvailable, openapiSkipReason };

export const KEY = "sk-test-abc123";
export const KEY2 = "sk-alice-xyz789";
export const API_KEYS = `${KEY},${KEY2}`;

/** Validate against the OpenAI spec when it is present (a dedicated test reports the skip). */
export function schema(name, value, label = "") {
  if (openapiAvailable) assertOpenAI(name, value, label);
}

/** OpenAI SDK client for a gateway. No retries: a 429/5xx must surface, not be retried. */
export function client(gw, opts = {}) {
  return new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 15_000, ...opts });
}

export const user = (content) => [{ role: "user", content }];

export const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather for a city",
    parameters: {
      type: "object",
      properties: { location: { type: "string", description: "City name" } },
      required: ["location"],
    },
  },
};
export const TIME_TOOL = {
  type: "function",
  function: {
    name: "get_time",
    description: "Get the local time in a time zone",
    parameters: {
      type: "object",
      properties: { tz: { type: "string", description: "IANA time zone" } },
      required: ["tz"],
    },
  },
};

/**
 * `fetch(url, init)` with the whole body read. Never throws: a network error or timeout comes back
 * as `{ error }`, so a hang or reset is a failed assertion, not a stuck suite.
 */
export async function settledFetch(url, init) {
  const t0 = Date.now();
  try {
    const res = await fetch(url, init);
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json, ms: Date.now() - t0 };
  } catch (e) {
    return { error: `${e.name}: ${e.cause?.code ?? e.message}`, ms: Date.now() - t0 };
  }
}

/** Raw fetch against the gateway with the test key (unless `headers.authorization` overrides it). */
export function raw(gw, path, { method = "GET", body, headers = {}, auth = true } = {}) {
  const h = { ...(auth ? { authorization: `Bearer ${KEY}` } : {}), ...headers };
  let payload = body;
  if (body !== undefined && typeof body !== "string" && !(body instanceof Uint8Array) && !(body instanceof ReadableStream)) {
    payload = JSON.stringify(body);
    h["content-type"] ??= "application/json";
  }
  const init = { method, headers: h, body: payload };
  if (payload instanceof ReadableStream) init.duplex = "half";
  return fetch(gw.url + path, init);
}

export async function rawJson(gw, path, opts) {
  const res = await raw(gw, path, opts);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { res, status: res.status, headers: res.headers, text, json };
}

/** POST /v1/chat/completions and return the parsed SSE stream. */
export async function rawStream(gw, body, opts = {}) {
  const res = await raw(gw, "/v1/chat/completions", { method: "POST", body: { ...body, stream: true }, ...opts });
  const text = await res.text();
  return { res, status: res.status, headers: res.headers, text, ...parseSSE(text) };
}

/**
 * Parse an SSE body into events. Returns { events: [{event?, data}], chunks (parsed JSON of
 * every data event except [DONE]), done (whether `data: [DONE]` was seen), afterDone (events after it) }.
 */
export function parseSSE(text) {
  const events = [];
  for (const block of text.replace(/\r\n/g, "\n").split(/\n\n+/)) {
    const lines = block.split("\n").filter((l) => l && !l.startsWith(":"));
    if (!lines.length) continue;
    const ev = { data: "" };
    const data = [];
    for (const l of lines) {
      const i = l.indexOf(":");
      const field = i < 0 ? l : l.slice(0, i);
      const value = i < 0 ? "" : l.slice(i + 1).replace(/^ /, "");
      if (field === "data") data.push(value);
      else if (field === "event") ev.event = value;
    }
    ev.data = data.join("\n");
    events.push(ev);
  }
  const doneAt = events.findIndex((e) => e.data === "[DONE]");
  const before = doneAt < 0 ? events : events.slice(0, doneAt);
  const chunks = before.map((e) => JSON.parse(e.data));
  return { events, chunks, done: doneAt >= 0, afterDone: doneAt < 0 ? [] : events.slice(doneAt + 1) };
}

/**
 * Check the invariants of a chat.completion.chunk sequence (successful stream) and fold it.
 * Returns { content, reasoning, toolCalls: [{id,type,name,arguments}], finish, usage, role }.
 */
export function checkChunks(chunks, { model, includeUsage = false, label = "stream" } = {}) {
  assert.ok(chunks.length > 0, `${label}: no chunks`);
  const id = chunks[0].id;
  const created = chunks[0].created;
  assert.match(id, /^chatcmpl-/, `${label}: id`);
  let content = "";
  let reasoning = "";
  let role;
  let finish = null;
  let finishCount = 0;
  let usage = null;
  const calls = [];
  chunks.forEach((c, i) => {
    schema("CreateChatCompletionStreamResponse", c, `${label} chunk ${i}`);
    assert.equal(c.object, "chat.completion.chunk", `${label} chunk ${i}: object`);
    assert.equal(c.id, id, `${label} chunk ${i}: id must be the same in every chunk`);
    assert.equal(c.created, created, `${label} chunk ${i}: created must be the same in every chunk`);
    if (model !== undefined) assert.equal(c.model, model, `${label} chunk ${i}: model must echo the requested name`);
    const isLast = i === chunks.length - 1;
    if (includeUsage && isLast) {
      assert.deepEqual(c.choices, [], `${label}: the include_usage chunk has choices: []`);
      assert.ok(c.usage, `${label}: the include_usage chunk has usage`);
      usage = c.usage;
      return;
    }
    if (c.usage != null) {
      assert.ok(!includeUsage, `${label} chunk ${i}: usage only on the final include_usage chunk`);
      usage = c.usage;
    }
    assert.equal(c.choices.length, 1, `${label} chunk ${i}: exactly one choice`);
    const ch = c.choices[0];
    assert.equal(ch.index, 0);
    const d = ch.delta ?? {};
    if (i === 0) assert.equal(d.role, "assistant", `${label}: role "assistant" in the first delta`);
    else assert.equal(d.role, undefined, `${label} chunk ${i}: role only in the first delta`);
    role ??= d.role;
    assert.equal(finish, null, `${label} chunk ${i}: nothing may follow the finish_reason chunk (except usage)`);
    if (typeof d.content === "string") content += d.content;
    if (typeof d.reasoning_content === "string") reasoning += d.reasoning_content;
    for (const tc of d.tool_calls ?? []) {
      assert.equal(typeof tc.index, "number", `${label} chunk ${i}: tool_calls[].index`);
      if (!calls[tc.index]) {
        assert.ok(tc.id, `${label}: first fragment of tool call ${tc.index} carries its id`);
        assert.equal(tc.type, "function");
        assert.ok(tc.function?.name, `${label}: first fragment of tool call ${tc.index} carries the name`);
        calls[tc.index] = { id: tc.id, type: tc.type, name: tc.function.name, arguments: "" };
      } else {
        assert.equal(tc.id ?? calls[tc.index].id, calls[tc.index].id, `${label}: tool call id must not change`);
      }
      if (typeof tc.function?.arguments === "string") calls[tc.index].arguments += tc.function.arguments;
    }
    if (ch.finish_reason != null) {
      finishCount++;
      finish = ch.finish_reason;
    }
  });
  assert.equal(finishCount, 1, `${label}: finish_reason must be non-null exactly once`);
  if (includeUsage) {
    assert.ok(usage, `${label}: include_usage chunk missing`);
  }
  if (usage) assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens, `${label}: usage total`);
  return { content, reasoning, toolCalls: calls.filter(Boolean), finish, usage, role, id };
}

/** Chunks with the per-request fields (id, created, tool call ids) removed, for comparisons. */
export function normalizeChunks(chunks) {
  return chunks.map((c) => {
    const { id, created, ...rest } = c;
    return JSON.parse(JSON.stringify(rest, (k, v) => (k === "id" && typeof v === "string" && v.startsWith("call_") ? "call_*" : v)));
  });
}

/** Assert an OpenAI error body `{error:{message,type,param,code}}` and return the inner object. */
export function checkErrorBody(json, label = "error") {
  assert.ok(json && typeof json === "object" && json.error, `${label}: body must be {"error":{…}}, got ${JSON.stringify(json)}`);
  const e = json.error;
  for (const k of ["message", "type", "param", "code"]) assert.ok(Object.hasOwn(e, k), `${label}: error.${k} must be present (null if unknown)`);
  assert.equal(typeof e.message, "string");
  assert.ok(e.message.length > 10, `${label}: message must explain the problem`);
  assert.equal(typeof e.type, "string");
  schema("ErrorResponse", json, label);
  return e;
}

/** Run `fn` and return the error it throws (fails if it does not throw). */
export async function thrown(fn, label = "call") {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  assert.fail(`${label}: expected an error`);
}
