// End-to-end: POST /v1/responses (the OpenAI Responses API) and the stored-response endpoints
// (GET/DELETE /v1/responses/{id}, previous_response_id), through the official `openai` SDK
// (responses.create / stream / retrieve / delete / parse) and raw fetch, against the built worker
// in workerd with the Workers AI emulator. Every Response is validated against the OpenAPI
// `Response` schema and every stream event against `ResponseStreamEvent`.
//
// Families: gpt-oss (`o3`, `o4-mini`) answer Responses natively upstream; qwen3 (`gpt-4`),
// glm (`gpt-5`), llama-3-8b (`gpt-3.5-turbo`), llama-3.3 and mistral go through the chat
// translation. Steering directives (`[[emu:…]]`) are described in emulator/README.md.
//
// Two gateways run: `gw` without a KV binding (`kvNamespaces: []`: store is ignored,
// previous_response_id is a 400) and `gwKv` with GATEWAY_KV (stored responses). If the binding
// is missing, the state tests mark themselves todo ("needs GATEWAY_KV in startGateway").
//
// Tests that expose a gateway bug are marked `{ todo: "GATEWAY BUG: …" }`: they still run and
// report, but do not fail the suite.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  OpenAI, startGateway, client, schema, raw, rawJson, parseSSE, checkErrorBody, thrown,
  openapiAvailable, openapiSkipReason, API_KEYS, KEY2, WEATHER_TOOL, TIME_TOOL,
} from "./_support.mjs";

const OSS = "o3"; // -> @cf/openai/gpt-oss-120b (Responses natively upstream)
const OSS_MINI = "o4-mini"; // -> @cf/openai/gpt-oss-20b
const OSS20 = "@cf/openai/gpt-oss-20b";
const NATIVE = "gpt-4"; // -> @cf/qwen/qwen3-30b-a3b-fp8 (chat.completion upstream, reasoning_content)
const GLM = "gpt-5"; // -> @cf/zai-org/glm-4.7-flash (chat.completion upstream, `reasoning`)
const LEGACY = "gpt-3.5-turbo"; // -> @cf/meta/llama-3-8b-instruct (no tools, no JSON mode)
const LLAMA33 = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"; // tools + JSON mode
const MISTRAL = "mistral"; // -> @cf/mistralai/mistral-small-3.1-24b-instruct (tools, vision, no JSON mode)
const R1 = "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b"; // <think> reasoning in text

/** The model name the emulator writes into its default answer. */
const SHORT = {
  [OSS]: "gpt-oss-120b",
  [OSS_MINI]: "gpt-oss-20b",
  [OSS20]: "gpt-oss-20b",
  [NATIVE]: "qwen3-30b-a3b-fp8",
  [GLM]: "glm-4.7-flash",
  [LEGACY]: "llama-3-8b-instruct",
  [LLAMA33]: "llama-3.3-70b-instruct-fp8-fast",
  [MISTRAL]: "mistral-small-3.1-24b-instruct",
  [R1]: "deepseek-r1-distill-qwen-32b",
};
/** The emulator's default answer to `said` (directives removed, first 16 words). */
const answer = (model, said) => `Emulated answer from ${SHORT[model]}. You said: ${said}`;
const countWords = (s) => String(s).split(/\s+/).filter(Boolean).length;

const TEXT_MODELS = [OSS, OSS_MINI, NATIVE, GLM, LEGACY, LLAMA33, MISTRAL];
const REASONING_MODELS = [OSS, OSS20, NATIVE, GLM];
const TOOL_MODELS = [OSS, OSS20, NATIVE, GLM, LLAMA33, MISTRAL];

// Function tools in the flat Responses form: the chat tools' functions, typed.
const WEATHER = { type: "function", ...WEATHER_TOOL.function };
const TIME = { type: "function", ...TIME_TOOL.function };
/**
 * n8n's tool as sent by its OpenAI node (formatToOpenAIResponsesTool over a LangChain tool with
 * the `z.object({input: z.string().optional()})` schema): zod-to-json-schema output with
 * `$schema`, `additionalProperties: false`, a property without description, and `strict`.
 */
const N8N_CALCULATOR = {
  type: "function",
  name: "calculator",
  parameters: {
    type: "object",
    properties: { input: { type: "string" } },
    additionalProperties: false,
    $schema: "http://json-schema.org/draft-07/schema#",
  },
  strict: false,
  description:
    "Useful for getting the result of a math expression. The input to this tool should be a valid mathematical expression that could be executed by a simple calculator.",
};

// 1×1 PNG.
const PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const PNG_BYTES = Buffer.from(PNG_B64, "base64").length;

let gw; // no KV binding
let gwKv; // started with kvNamespaces: ["GATEWAY_KV"]
let ai;
let aiKv;
let kvBound = false;

before(async () => {
  [gw, gwKv] = await Promise.all([
    startGateway({ bindings: { API_KEYS }, kvNamespaces: [] }),
    startGateway({ bindings: { API_KEYS }, kvNamespaces: ["GATEWAY_KV"] }),
  ]);
  ai = client(gw);
  aiKv = client(gwKv);
  try {
    const bindings = await gwKv.mf.getBindings("gateway");
    kvBound = bindings.GATEWAY_KV != null;
  } catch {
    kvBound = false;
  }
});
after(async () => {
  await Promise.all([gw?.dispose(), gwKv?.dispose()]);
});

/** Mark the running test todo while startGateway does not bind GATEWAY_KV. */
function needsKv(t) {
  if (!kvBound) t.todo("needs GATEWAY_KV in startGateway");
}

test("OpenAI OpenAPI spec is available for schema validation", { skip: !openapiAvailable && openapiSkipReason }, () => {
  assert.ok(openapiAvailable);
});

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/**
 * Check a Response object (non-stream answer, stream final, stored copy) and fold it:
 * { text, reasoning, calls, messages, types }.
 */
function checkResponse(r, { model, status = "completed", label = "response" } = {}) {
  assert.equal(r.object, "response", `${label}: object`);
  assert.match(r.id, /^resp_[A-Za-z0-9_-]+$/, `${label}: id`);
  assert.ok(Number.isInteger(r.created_at) && r.created_at > 1_600_000_000, `${label}: created_at is unix seconds, got ${r.created_at}`);
  if (model !== undefined) assert.equal(r.model, model, `${label}: model echoes the requested name`);
  if (status !== undefined) {
    assert.equal(r.status, status, `${label}: status (incomplete_details ${JSON.stringify(r.incomplete_details)}, error ${JSON.stringify(r.error)}, output types ${JSON.stringify(r.output?.map((o) => o.type))})`);
  }
  if (r.status === "incomplete") assert.equal(r.incomplete_details?.reason, "max_output_tokens", `${label}: incomplete_details.reason`);
  else assert.equal(r.incomplete_details ?? null, null, `${label}: incomplete_details only when incomplete`);
  if (r.status === "completed") assert.equal(r.error ?? null, null, `${label}: no error on a completed response`);
  assert.ok(Array.isArray(r.output), `${label}: output is an array`);
  const ids = new Set();
  let text = "";
  let reasoning = "";
  const calls = [];
  const messages = [];
  r.output.forEach((item, i) => {
    const where = `${label}: output[${i}] (${item.type})`;
    assert.equal(typeof item.id, "string", `${where}: id`);
    assert.ok(item.id.length > 0, `${where}: id`);
    assert.ok(!ids.has(item.id), `${where}: item ids are distinct`);
    ids.add(item.id);
    if (item.type === "message") {
      assert.equal(item.role, "assistant", `${where}: role`);
      assert.ok(item.content.length > 0, `${where}: content`);
      for (const c of item.content) {
        assert.equal(c.type, "output_text", `${where}: content type`);
        assert.equal(typeof c.text, "string");
        assert.ok(Array.isArray(c.annotations), `${where}: annotations array`);
        text += c.text;
      }
      if (r.status === "completed") {
        assert.equal(item.status, "completed", `${where}: status`);
        assert.ok(item.content.some((c) => c.text.length > 0), `${where}: a completed message item has text (no empty message items)`);
      }
      messages.push(item);
    } else if (item.type === "reasoning") {
      assert.ok(Array.isArray(item.summary), `${where}: summary array`);
      const parts = item.content ?? [];
      assert.ok(parts.length > 0, `${where}: reasoning_text content`);
      for (const c of parts) {
        assert.equal(c.type, "reasoning_text", `${where}: content type`);
        assert.ok(c.text.length > 0, `${where}: reasoning text`);
        reasoning += c.text;
      }
    } else if (item.type === "function_call") {
      assert.equal(typeof item.call_id, "string", `${where}: call_id`);
      assert.ok(item.call_id.length > 0, `${where}: call_id`);
      assert.equal(typeof item.name, "string", `${where}: name`);
      assert.equal(typeof item.arguments, "string", `${where}: arguments is a JSON string`);
      assert.doesNotThrow(() => JSON.parse(item.arguments), `${where}: arguments parse: ${item.arguments}`);
      calls.push(item);
    } else {
      assert.fail(`${where}: unexpected output item type`);
    }
  });
  assert.equal(new Set(calls.map((c) => c.call_id)).size, calls.length, `${label}: distinct call_ids`);
  // The SDK adds `output_text` (all output_text parts joined).
  if (typeof r.output_text === "string") assert.equal(r.output_text, text, `${label}: output_text`);
  const u = r.usage;
  assert.ok(u && typeof u === "object", `${label}: usage`);
  assert.equal(u.total_tokens, u.input_tokens + u.output_tokens, `${label}: usage total`);
  assert.ok(u.input_tokens > 0, `${label}: input_tokens`);
  assert.equal(typeof u.input_tokens_details?.cached_tokens, "number", `${label}: input_tokens_details.cached_tokens`);
  assert.equal(typeof u.output_tokens_details?.reasoning_tokens, "number", `${label}: output_tokens_details.reasoning_tokens`);
  assert.ok(u.output_tokens_details.reasoning_tokens <= u.output_tokens, `${label}: reasoning_tokens ≤ output_tokens`);
  if (r.status === "completed") assert.ok(u.output_tokens >= countWords(text), `${label}: output_tokens ≥ the words of the answer`);
  // Schema last, so that a schema detail does not hide the checks above.
  schema("Response", r, label);
  return { text, reasoning, calls, messages, types: r.output.map((o) => o.type) };
}

/** responses.create through the SDK, with the HTTP checks and checkResponse. */
async function create(sdk, params, { label = params.model, status = "completed" } = {}) {
  const { data, response } = await sdk.responses.create(params).withResponse();
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /application\/json/, `${label}: content-type`);
  return { r: data, ...checkResponse(data, { model: params.model, status, label }) };
}

/** POST /v1/responses with raw fetch; returns { status, json, headers, text }. */
const post = (g, body, opts = {}) => rawJson(g, "/v1/responses", { method: "POST", body, ...opts });

/** The SDK error for a request expected to fail with 400 on a param starting with `paramPrefix`. */
async function badRequest(sdk, params, paramPrefix, label = paramPrefix) {
  const err = await thrown(() => sdk.responses.create(params), label);
  assert.ok(err instanceof OpenAI.BadRequestError, `${label}: expected BadRequestError, got ${err?.constructor?.name}: ${err?.status} ${err?.message}`);
  assert.equal(err.status, 400);
  assert.equal(err.type, "invalid_request_error", `${label}: type`);
  if (paramPrefix !== undefined) {
    assert.equal(typeof err.param, "string", `${label}: param (message: ${err.message})`);
    assert.ok(err.param.startsWith(paramPrefix), `${label}: param should start with ${paramPrefix}, got ${err.param} (message: ${err.message})`);
  }
  schema("ErrorResponse", { error: err.error }, label);
  return err;
}

async function expectError(r, status, { code, param, label = "" } = {}) {
  assert.equal(r.status, status, `${label}: status (body ${r.text.slice(0, 400)})`);
  assert.match(r.headers.get("content-type") ?? "", /application\/json/, `${label}: JSON error`);
  const e = checkErrorBody(r.json, label);
  if (code !== undefined) assert.equal(e.code, code, `${label}: code`);
  if (param !== undefined) assert.equal(e.param, param, `${label}: param`);
  return e;
}

/**
 * Check the invariants of a Responses event stream and fold it. `events` are parsed event
 * objects in order. Returns { id, types, items, text, reasoning, calls, deltas, final, terminal }.
 */
function checkEvents(events, { model, label = "stream" } = {}) {
  assert.ok(events.length >= 3, `${label}: at least created, in_progress and a terminal event (got ${events.map((e) => e.type)})`);
  events.forEach((e, i) => {
    assert.equal(e.sequence_number, i, `${label}: sequence_number of event ${i} (${e.type}) must be ${i}`);
  });
  assert.equal(events[0].type, "response.created", `${label}: first event`);
  assert.equal(events[1].type, "response.in_progress", `${label}: second event`);
  const id = events[0].response.id;
  assert.match(id, /^resp_/, `${label}: response id`);
  for (const e of events.slice(0, 2)) {
    assert.equal(e.response.id, id, `${label}: ${e.type} response id`);
    assert.ok(["in_progress", "queued"].includes(e.response.status), `${label}: ${e.type} status, got ${e.response.status}`);
    assert.deepEqual(e.response.output, [], `${label}: ${e.type} has no output yet`);
    if (model !== undefined) assert.equal(e.response.model, model, `${label}: ${e.type} model echoes the requested name`);
  }
  const items = [];
  let open = null;
  let text = "";
  let reasoning = "";
  const deltas = [];
  let terminal = null;
  let sawError = false;
  const inOpen = (e) => {
    assert.ok(open, `${label}: ${e.type} (seq ${e.sequence_number}) outside an open output item`);
    assert.equal(e.output_index, open.index, `${label}: ${e.type} (seq ${e.sequence_number}) output_index`);
    if ("item_id" in e || e.type !== "response.output_item.done") assert.equal(e.item_id, open.id, `${label}: ${e.type} (seq ${e.sequence_number}) item_id`);
  };
  for (const e of events.slice(2)) {
    const at = `${label}: ${e.type} (seq ${e.sequence_number})`;
    if (terminal) assert.fail(`${at}: nothing may follow ${terminal}`);
    if (sawError && e.type !== "response.failed") assert.fail(`${at}: only response.failed may follow an error event`);
    switch (e.type) {
      case "response.output_item.added": {
        assert.equal(open, null, `${at}: the previous output item was not done`);
        assert.equal(e.output_index, items.length, `${at}: output_index is the next index`);
        assert.equal(typeof e.item.id, "string", `${at}: item.id`);
        assert.ok(["message", "reasoning", "function_call"].includes(e.item.type), `${at}: item type ${e.item.type}`);
        if (e.item.type === "message") {
          assert.equal(e.item.role, "assistant");
          assert.deepEqual(e.item.content, [], `${at}: a new message has no content yet`);
          assert.equal(e.item.status, "in_progress", `${at}: status`);
        }
        if (e.item.type === "function_call") {
          assert.ok(e.item.call_id, `${at}: call_id`);
          assert.ok(e.item.name, `${at}: name`);
          assert.equal(e.item.arguments ?? "", "", `${at}: arguments start empty`);
          assert.equal(e.item.status, "in_progress", `${at}: status`);
        }
        open = { id: e.item.id, type: e.item.type, index: e.output_index, added: e.item, parts: [], args: "", argsDone: false };
        break;
      }
      case "response.content_part.added": {
        inOpen(e);
        assert.ok(open.type === "message" || open.type === "reasoning", `${at}: content parts only in message/reasoning items`);
        assert.equal(e.content_index, open.parts.length, `${at}: content_index is the next index`);
        assert.equal(e.part.type, open.type === "message" ? "output_text" : "reasoning_text", `${at}: part type`);
        assert.equal(e.part.text, "", `${at}: part starts empty`);
        open.parts.push({ type: e.part.type, text: "", textDone: false, done: false });
        break;
      }
      case "response.output_text.delta":
      case "response.reasoning_text.delta": {
        inOpen(e);
        const want = e.type === "response.output_text.delta" ? "output_text" : "reasoning_text";
        const p = open.parts[e.content_index];
        assert.ok(p && !p.textDone, `${at}: delta for an open content part (content_index ${e.content_index})`);
        assert.equal(p.type, want, `${at}: delta type matches the part`);
        assert.equal(typeof e.delta, "string");
        p.text += e.delta;
        if (want === "output_text") {
          text += e.delta;
          deltas.push(e.delta);
        } else reasoning += e.delta;
        break;
      }
      case "response.output_text.done":
      case "response.reasoning_text.done": {
        inOpen(e);
        const p = open.parts[e.content_index];
        assert.ok(p && !p.textDone, `${at}: done for an open content part`);
        assert.equal(e.text, p.text, `${at}: text equals the concatenated deltas`);
        p.textDone = true;
        break;
      }
      case "response.content_part.done": {
        inOpen(e);
        const p = open.parts[e.content_index];
        assert.ok(p && p.textDone && !p.done, `${at}: content_part.done after the text's done event`);
        assert.equal(e.part.type, p.type);
        assert.equal(e.part.text, p.text, `${at}: part text`);
        p.done = true;
        break;
      }
      case "response.function_call_arguments.delta": {
        inOpen(e);
        assert.equal(open.type, "function_call", `${at}: in a function_call item`);
        assert.ok(!open.argsDone);
        open.args += e.delta;
        break;
      }
      case "response.function_call_arguments.done": {
        inOpen(e);
        assert.equal(open.type, "function_call", `${at}: in a function_call item`);
        assert.equal(e.arguments, open.args, `${at}: arguments equal the concatenated deltas`);
        assert.equal(e.name, open.added.name, `${at}: name`);
        JSON.parse(e.arguments);
        open.argsDone = true;
        break;
      }
      case "response.output_item.done": {
        assert.ok(open, `${at}: no open item`);
        assert.equal(e.output_index, open.index, `${at}: output_index`);
        assert.equal(e.item.id, open.id, `${at}: item id`);
        assert.equal(e.item.type, open.type, `${at}: item type`);
        if (open.type === "function_call") {
          assert.ok(open.argsDone, `${at}: function_call_arguments.done before output_item.done`);
          assert.equal(e.item.arguments, open.args, `${at}: arguments`);
          assert.equal(e.item.call_id, open.added.call_id, `${at}: call_id unchanged`);
          assert.equal(e.item.name, open.added.name, `${at}: name unchanged`);
        } else {
          assert.ok(open.parts.length > 0 && open.parts.every((p) => p.done), `${at}: every content part done`);
          assert.deepEqual(e.item.content.map((c) => c.text), open.parts.map((p) => p.text), `${at}: item content equals the streamed parts`);
        }
        items.push(e.item);
        open = null;
        break;
      }
      case "response.completed":
      case "response.incomplete":
      case "response.failed": {
        terminal = e.type;
        assert.equal(e.response.id, id, `${at}: response id`);
        if (model !== undefined) assert.equal(e.response.model, model, `${at}: model`);
        if (e.type !== "response.failed") assert.equal(open, null, `${at}: every output item done before ${e.type}`);
        break;
      }
      case "error": {
        assert.ok(!sawError, `${at}: one error event`);
        sawError = true;
        assert.ok(e.message.length > 0, `${at}: message`);
        break;
      }
      default:
        assert.fail(`${at}: unexpected event type`);
    }
  }
  assert.ok(terminal || sawError, `${label}: the stream must end with response.completed/incomplete/failed or error (last: ${events.at(-1).type})`);
  const final = terminal ? events.at(-1).response : null;
  if (terminal === "response.completed" || terminal === "response.incomplete") {
    checkResponse(final, { model, status: terminal === "response.completed" ? "completed" : "incomplete", label: `${label} ${terminal}` });
    assert.deepEqual(final.output, items, `${label}: ${terminal} output equals the output_item.done items`);
  }
  if (terminal === "response.failed") {
    assert.equal(final.status, "failed", `${label}: response.failed status`);
    assert.ok(final.error?.message, `${label}: response.failed carries error.message`);
  }
  // Schema last, so that a schema detail does not hide the checks above.
  events.forEach((e, i) => schema("ResponseStreamEvent", e, `${label} event ${i} (${e.type})`));
  return {
    id,
    types: events.map((e) => e.type),
    items,
    text,
    reasoning,
    deltas,
    calls: items.filter((i) => i.type === "function_call"),
    final,
    terminal,
    sawError,
  };
}

/** POST a stream with raw fetch: HTTP checks, `event:` lines, parsed events (not yet checked). */
async function rawStreamResponses(g, body, opts = {}) {
  const res = await raw(g, "/v1/responses", { method: "POST", body: { ...body, stream: true }, ...opts });
  const text = await res.text();
  if (res.status !== 200) {
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { res, status: res.status, headers: res.headers, text, json };
  }
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/, "stream content-type");
  const { events: frames, done } = parseSSE(text);
  const events = [];
  for (const f of frames) {
    if (f.data === "[DONE]") continue;
    const data = JSON.parse(f.data);
    assert.equal(f.event, data.type, `SSE frame \`event:\` line must equal data.type (${data.type})`);
    events.push(data);
  }
  return { res, status: res.status, headers: res.headers, text, events, done };
}

/** A checked raw stream. */
async function rawStreamChecked(g, body, label = body.model) {
  const s = await rawStreamResponses(g, body);
  assert.equal(s.status, 200, `${label}: status (body ${s.text.slice(0, 300)})`);
  return { ...s, ...checkEvents(s.events, { model: body.model, label }) };
}

/** The SDK stream helper: every event checked, plus finalResponse(). */
async function sdkStream(sdk, params, label = params.model) {
  const stream = sdk.responses.stream(params);
  const events = [];
  const textDeltas = [];
  stream.on("event", (e) => events.push(e));
  stream.on("response.output_text.delta", (e) => textDeltas.push(e.delta));
  const final = await stream.finalResponse();
  const folded = checkEvents(events, { model: params.model, label: `${label} (SDK stream)` });
  assert.equal(textDeltas.join(""), folded.text, `${label}: SDK output_text.delta events`);
  return { events, final, ...folded };
}

/** Collapse runs of the same `.delta` event type. */
const squash = (types) => types.filter((t, i) => !(t.endsWith(".delta") && types[i - 1] === t));
const HEAD = ["response.created", "response.in_progress"];
const MSG_SEQ = [
  "response.output_item.added",
  "response.content_part.added",
  "response.output_text.delta",
  "response.output_text.done",
  "response.content_part.done",
  "response.output_item.done",
];
const RS_SEQ = [
  "response.output_item.added",
  "response.content_part.added",
  "response.reasoning_text.delta",
  "response.reasoning_text.done",
  "response.content_part.done",
  "response.output_item.done",
];
const FC_SEQ = [
  "response.output_item.added",
  "response.function_call_arguments.delta",
  "response.function_call_arguments.done",
  "response.output_item.done",
];

/** What must agree between a streamed and a non-streamed answer to the same request. */
function shape(r) {
  return {
    status: r.status,
    model: r.model,
    incomplete_details: r.incomplete_details ?? null,
    output: r.output.map((it) => {
      if (it.type === "message") return { type: it.type, role: it.role, status: it.status, content: it.content.map((c) => ({ type: c.type, text: c.text })) };
      if (it.type === "reasoning") return { type: it.type, content: (it.content ?? []).map((c) => c.text) };
      return { type: it.type, name: it.name, arguments: it.arguments, status: it.status };
    }),
    usage: r.usage,
  };
}

/** The user message of a tool loop, the `input` of both turns. */
const weatherAsk = (extra = "[[emu:tool]]") => [{ role: "user", content: `What is the weather in Paris? ${extra}` }];

// ---------------------------------------------------------------------------------------------
// 1. plain answers on every text family
// ---------------------------------------------------------------------------------------------

test("every Response and event matches the OpenAPI schema exactly (no `user: null`, no `usage: null`)", async () => {
  for (const model of [OSS, NATIVE, LEGACY]) {
    const r = await post(gw, { model, input: "exact schema" });
    assert.equal(r.status, 200);
    schema("Response", r.json, `${model} Response`);
    const s = await rawStreamResponses(gw, { model, input: "exact schema" });
    s.events.forEach((e, i) => schema("ResponseStreamEvent", e, `${model} event ${i} (${e.type})`));
  }
});

describe("responses.create with a string input", () => {
  for (const model of TEXT_MODELS) {
    test(`${model}: completed Response with output_text, usage, the requested model name`, async () => {
      const said = "Hello from the Responses API";
      const { r, text, messages } = await create(ai, { model, input: said });
      assert.equal(text, answer(model, said));
      assert.equal(r.output_text, answer(model, said), "SDK output_text");
      assert.equal(messages.length, 1, "one message item");
      assert.equal(r.usage.input_tokens, countWords(said), "input_tokens counts the input");
    });
  }

  test("every request gets its own resp_ id, message ids and created_at (o3, gpt-4)", async () => {
    for (const model of [OSS, NATIVE]) {
      const a = await create(ai, { model, input: "same input" });
      const b = await create(ai, { model, input: "same input" });
      assert.notEqual(a.r.id, b.r.id, `${model}: two requests, two ids`);
      assert.notEqual(a.messages[0].id, b.messages[0].id, `${model}: message item ids are unique too`);
      if (model === NATIVE) assert.ok(Math.abs(a.r.created_at - Date.now() / 1000) < 600, `${model}: created_at is now, got ${a.r.created_at}`);
    }
  });

  test("the /v1 prefix is optional", async () => {
    const r = await rawJson(gw, "/responses", { method: "POST", body: { model: NATIVE, input: "no prefix" } });
    assert.equal(r.status, 200, r.text);
    checkResponse(r.json, { model: NATIVE, label: "raw /responses" });
    assert.equal(r.json.object, "response");
  });
});

// ---------------------------------------------------------------------------------------------
// 2. reasoning items
// ---------------------------------------------------------------------------------------------

describe("reasoning items", () => {
  for (const model of [...REASONING_MODELS, R1]) {
    test(`${model}: a reasoning item before the message; [[emu:no_reasoning]] removes it`, async () => {
      const { r, types, reasoning, text } = await create(ai, { model, input: "Think about this" });
      assert.deepEqual(types, ["reasoning", "message"], "reasoning, then message");
      assert.equal(reasoning, "The user wrote: Think about this. I should answer briefly.");
      assert.equal(text, answer(model, "Think about this"), "the reasoning is not part of output_text");
      assert.ok(r.usage.output_tokens >= countWords(reasoning) + countWords(text), "output_tokens include the reasoning");

      const plain = await create(ai, { model, input: "Think about this [[emu:no_reasoning]]" });
      assert.deepEqual(plain.types, ["message"]);
      assert.equal(plain.text, answer(model, "Think about this"));
    });
  }

  test("usage.output_tokens_details.reasoning_tokens reports what upstream counted (o3, gpt-4, gpt-5)", async () => {
    for (const model of [OSS, NATIVE, GLM]) {
      const { r, reasoning } = await create(ai, { model, input: "Think about this" });
      assert.equal(r.usage.output_tokens_details.reasoning_tokens, countWords(reasoning), `${model}: reasoning_tokens`);
    }
  });

  test(`${LEGACY}: no reasoning item`, async () => {
    const { types } = await create(ai, { model: LEGACY, input: "Think about this" });
    assert.deepEqual(types, ["message"]);
  });

  test("reasoning.effort: accepted and echoed; minimal turns qwen3's thinking off", async () => {
    for (const model of [OSS, GLM, NATIVE]) {
      const { r, types } = await create(ai, { model, input: "effort please", reasoning: { effort: "low" } });
      assert.equal(r.reasoning?.effort, "low", `${model}: reasoning.effort echoed`);
      assert.deepEqual(types, ["reasoning", "message"], `${model}: still reasons at low effort`);
    }
    const off = await create(ai, { model: NATIVE, input: "effort please", reasoning: { effort: "minimal" } });
    assert.deepEqual(off.types, ["message"], "qwen3 with effort minimal does not think");
  });
});

// ---------------------------------------------------------------------------------------------
// 3. max_output_tokens → incomplete
// ---------------------------------------------------------------------------------------------

describe("max_output_tokens", () => {
  for (const model of [OSS, NATIVE, GLM, LEGACY, LLAMA33]) {
    test(`${model}: cut at max_output_tokens → status incomplete, reason max_output_tokens`, async () => {
      const { r, text, messages } = await create(
        ai,
        { model, input: "go [[emu:tokens=50]] [[emu:no_reasoning]]", max_output_tokens: 16 },
        { status: "incomplete" },
      );
      assert.deepEqual(r.incomplete_details, { reason: "max_output_tokens" });
      assert.equal(text, Array.from({ length: 16 }, (_, i) => `w${i + 1}`).join(" "));
      assert.equal(r.usage.output_tokens, 16);
      assert.equal(messages[0].status, "incomplete", "the cut message item is incomplete");
      assert.equal(r.max_output_tokens, 16, "max_output_tokens echoed");
    });
  }

  test("a limit the answer fits in stays completed", async () => {
    const { r, text } = await create(ai, { model: NATIVE, input: "go [[emu:tokens=5]] [[emu:no_reasoning]]", max_output_tokens: 16 });
    assert.equal(r.status, "completed");
    assert.equal(text, "w1 w2 w3 w4 w5");
  });

  test("o3 with reasoning: reasoning tokens count against the limit → incomplete", async () => {
    const { r } = await create(ai, { model: OSS, input: "go [[emu:tokens=50]]", max_output_tokens: 16 }, { status: "incomplete" });
    assert.equal(r.usage.output_tokens, 16);
  });
});

// ---------------------------------------------------------------------------------------------
// input shapes
// ---------------------------------------------------------------------------------------------

describe("input shapes", () => {
  for (const model of [OSS, NATIVE, LEGACY]) {
    test(`${model}: message lists with and without type:"message", input_text parts, system/developer/assistant turns`, async () => {
      const input = [
        { role: "system", content: "Be brief." },
        { type: "message", role: "developer", content: [{ type: "input_text", text: "Answer in English." }] },
        { role: "user", content: "First question here" },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "First answer here" }] },
        { role: "user", content: [{ type: "input_text", text: "Second" }, { type: "input_text", text: "question now" }] },
      ];
      const { r, text } = await create(ai, { model, input });
      assert.equal(text, answer(model, "Second question now"));
      const all = "Be brief. Answer in English. First question here First answer here Second question now";
      assert.equal(r.usage.input_tokens, countWords(all), "every turn reaches the model");
    });

    test(`${model}: instructions reach the model and are echoed`, async () => {
      const instructions = "You are a terse assistant who answers in five words.";
      const without = await create(ai, { model, input: "Tell me something" });
      const withI = await create(ai, { model, input: "Tell me something", instructions });
      assert.equal(withI.r.usage.input_tokens - without.r.usage.input_tokens, countWords(instructions), "instructions counted once");
      assert.equal(withI.r.instructions, instructions, "instructions echoed");
      assert.equal(withI.text, answer(model, "Tell me something"));
    });
  }

  test("input_image (data: URL) reaches a vision model", async () => {
    const input = [
      {
        role: "user",
        content: [
          { type: "input_text", text: "What is in this picture?" },
          { type: "input_image", image_url: `data:image/png;base64,${PNG_B64}`, detail: "auto" },
        ],
      },
    ];
    const { text } = await create(ai, { model: MISTRAL, input });
    assert.ok(text.includes(`I see 1 image(s): image/png, ${PNG_BYTES} bytes.`), text);
  });

  test("input_image to a text-only model → 400", async () => {
    const input = [{ role: "user", content: [{ type: "input_text", text: "What is this?" }, { type: "input_image", image_url: `data:image/png;base64,${PNG_B64}` }] }];
    await badRequest(ai, { model: LEGACY, input }, "input", "image to llama-3-8b");
  });

  test("an input item of unknown type → 400 on input", async () => {
    await badRequest(ai, { model: NATIVE, input: [{ type: "bogus_item", foo: 1 }] }, "input", "unknown item type");
    await badRequest(ai, { model: NATIVE, input: [{ role: "user", content: [{ type: "input_bogus", text: "x" }] }] }, "input", "unknown content part");
  });

  test("missing input, input of the wrong type, unknown model, bad sampling params", async () => {
    await badRequest(ai, { model: NATIVE }, "input", "missing input");
    await badRequest(ai, { model: NATIVE, input: 42 }, "input", "numeric input");
    await badRequest(ai, { model: NATIVE, input: "x", temperature: 2.5 }, "temperature", "temperature 2.5");
    await badRequest(ai, { model: NATIVE, input: "x", top_p: 1.5 }, "top_p", "top_p 1.5");
    const err = await thrown(() => ai.responses.create({ model: "gpt-does-not-exist", input: "hi" }), "unknown model");
    assert.ok(err instanceof OpenAI.NotFoundError, `expected NotFoundError, got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.code, "model_not_found");
    const noModel = await post(gw, { input: "hi" });
    await expectError(noModel, 400, { param: "model", label: "missing model" });
    const badJson = await rawJson(gw, "/v1/responses", { method: "POST", body: "{not json", headers: { "content-type": "application/json" } });
    await expectError(badJson, 400, { label: "bad JSON" });
  });

  test("fields real clients send (Codex, LangChain, Agents SDK) are accepted", async () => {
    for (const model of [OSS, NATIVE, LEGACY]) {
      await create(ai, {
        model,
        input: "client extras",
        include: ["reasoning.encrypted_content"],
        prompt_cache_key: "thread-1",
        safety_identifier: "user-hash",
        service_tier: "auto",
        truncation: "disabled",
        user: "u1",
        top_logprobs: 0,
        store: false,
        stream: false,
        text: { format: { type: "text" }, verbosity: "low" },
        reasoning: { effort: "medium", summary: "auto" },
      }, { label: `${model} extras` });
    }
  });

  test("reasoning items from a gpt-oss answer can be echoed to any family", async () => {
    const first = await create(ai, { model: OSS, input: "First question" });
    const input = [{ role: "user", content: "First question" }, ...first.r.output, { role: "user", content: "Second question" }];
    for (const model of [OSS, NATIVE, GLM, LEGACY, MISTRAL]) {
      const { text, r } = await create(ai, { model, input }, { label: `${model} echo` });
      assert.equal(text, answer(model, "Second question"));
      assert.equal(r.usage.input_tokens, countWords("First question") + countWords(first.text) + countWords("Second question"), `${model}: reasoning items are not sent as text`);
    }
  });

  test("what the gateway cannot do is a 400 naming the field: background, conversation, prompt, item_reference, empty input", async () => {
    await badRequest(ai, { model: NATIVE, input: "x", background: true }, "background", "background");
    await badRequest(ai, { model: NATIVE, input: "x", conversation: "conv_1" }, "conversation", "conversation");
    await badRequest(ai, { model: NATIVE, input: "x", prompt: { id: "pmpt_1" } }, "prompt", "prompt");
    await badRequest(ai, { model: NATIVE, input: [{ type: "item_reference", id: "msg_1" }] }, "input", "item_reference");
    await badRequest(ai, { model: NATIVE, input: [] }, "input", "empty input");
    await badRequest(ai, { model: NATIVE, input: "x", max_output_tokens: 0 }, "max_output_tokens", "max_output_tokens 0");
    // A generous limit is lowered to the model's, not refused; an absurd one is a mistake (400).
    const { text } = await create(ai, { model: NATIVE, input: "x [[emu:tokens=2]] [[emu:no_reasoning]]", max_output_tokens: 1_000_000 });
    assert.equal(text, "w1 w2");
    await badRequest(ai, { model: NATIVE, input: "x", max_output_tokens: 1_000_000_000 }, "max_output_tokens", "max_output_tokens 10^9");
  });

  test("metadata values must be strings (OpenAI answers 400; echoing them breaks the Response schema)", async () => {
    await badRequest(ai, { model: NATIVE, input: "x", metadata: { a: 1 } }, "metadata", "numeric metadata value");
  });

  test("CORS preflight allows POST and DELETE on /v1/responses", async () => {
    for (const [path, method] of [["/v1/responses", "POST"], ["/v1/responses/resp_x", "DELETE"]]) {
      const r = await raw(gw, path, { method: "OPTIONS", auth: false, headers: { origin: "https://a.example", "access-control-request-method": method, "access-control-request-headers": "authorization,content-type" } });
      assert.ok(r.status === 204 || r.status === 200, `${path}: ${r.status}`);
      assert.ok((r.headers.get("access-control-allow-methods") ?? "").includes(method), `${path}: allow-methods ${r.headers.get("access-control-allow-methods")}`);
      assert.ok(r.headers.get("access-control-allow-origin"), `${path}: allow-origin`);
    }
  });

  test("no key → 401; GET /v1/responses → 405", async () => {
    const r = await rawJson(gw, "/v1/responses", { method: "POST", body: { model: NATIVE, input: "hi" }, auth: false });
    await expectError(r, 401, { code: "invalid_api_key", label: "no key" });
    const g = await rawJson(gw, "/v1/responses");
    await expectError(g, 405, { label: "GET /v1/responses" });
  });

  test("temperature, top_p, metadata, parallel_tool_calls, store are accepted and echoed", async () => {
    for (const model of [OSS, NATIVE, LEGACY]) {
      const metadata = { run: "e2e", n: "1" };
      const { r } = await create(ai, { model, input: "echo my params", temperature: 0.3, top_p: 0.9, metadata, parallel_tool_calls: false, store: false });
      assert.equal(r.temperature, 0.3, `${model}: temperature`);
      assert.equal(r.top_p, 0.9, `${model}: top_p`);
      assert.deepEqual(r.metadata, metadata, `${model}: metadata`);
      assert.equal(r.parallel_tool_calls, false, `${model}: parallel_tool_calls`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 4. function calling
// ---------------------------------------------------------------------------------------------

describe("function-call loop", () => {
  for (const model of TOOL_MODELS) {
    test(`${model}: flat tools → function_call item; echo it back with function_call_output → answer`, async () => {
      const tools = [WEATHER, TIME];
      const input = weatherAsk();
      const first = await create(ai, { model, tools, input }, { label: `${model} call` });
      assert.equal(first.calls.length, 1, `one function_call (output types ${first.types})`);
      const [call] = first.calls;
      assert.equal(call.name, "get_weather");
      assert.deepEqual(JSON.parse(call.arguments), { location: "Paris" });
      assert.ok(!first.types.includes("message"), "a call-only answer has no message item");
      assert.equal(first.r.output_text, "");
      assert.equal(first.r.status, "completed");
      assert.deepEqual(first.r.tools.map((t) => t.name), ["get_weather", "get_time"], "tools echoed");

      const output = '{"temp_c":21,"sky":"clear"}';
      const second = await create(
        ai,
        { model, tools, input: [...input, ...first.r.output, { type: "function_call_output", call_id: call.call_id, output }] },
        { label: `${model} answer` },
      );
      assert.equal(second.text, `Tool result received: ${output}`);
      assert.equal(second.calls.length, 0, "no further call");
    });
  }

  for (const model of [OSS, NATIVE, GLM, LLAMA33]) {
    test(`${model}: two parallel calls, two outputs`, async () => {
      const tools = [WEATHER, TIME];
      const input = weatherAsk("[[emu:tools=2]]");
      const first = await create(ai, { model, tools, input }, { label: `${model} calls` });
      assert.equal(first.calls.length, 2, `two calls (types ${first.types})`);
      assert.notEqual(first.calls[0].call_id, first.calls[1].call_id);
      for (const c of first.calls) assert.ok(["get_weather", "get_time"].includes(c.name), c.name);
      const outputs = first.calls.map((c, i) => ({ type: "function_call_output", call_id: c.call_id, output: `result-${i}` }));
      const second = await create(ai, { model, tools, input: [...input, ...first.r.output, ...outputs] }, { label: `${model} answer` });
      assert.equal(second.text, "Tool result received: result-1");
    });
  }

  for (const model of [OSS, NATIVE, GLM, LLAMA33]) {
    test(`${model}: tool_choice none / a named function (only that tool is offered)`, async () => {
      const tools = [WEATHER, TIME];
      const none = await create(ai, { model, tools, input: weatherAsk(), tool_choice: "none" }, { label: "none" });
      assert.equal(none.calls.length, 0, "tool_choice none: no call");
      assert.equal(none.text, answer(model, "What is the weather in Paris?"));
      assert.equal(none.r.tool_choice, "none", "tool_choice echoed");

      // [[emu:tool]] calls the first tool offered: with a named choice that must be get_time.
      const named = await create(ai, { model, tools, input: weatherAsk(), tool_choice: { type: "function", name: "get_time" } }, { label: "named" });
      assert.deepEqual(named.calls.map((c) => c.name), ["get_time"], "the named tool is called");
      assert.deepEqual(JSON.parse(named.calls[0].arguments), { tz: "Paris" });
      assert.deepEqual(named.r.tool_choice, { type: "function", name: "get_time" }, "tool_choice echoed");
    });
  }

  test(`${GLM} (takes tool_choice natively): required and a named choice force a call without a directive`, async () => {
    const tools = [WEATHER, TIME];
    const required = await create(ai, { model: GLM, tools, input: weatherAsk(""), tool_choice: "required" }, { label: "required" });
    assert.deepEqual(required.calls.map((c) => c.name), ["get_weather"], "tool_choice required: a call");
    const named = await create(ai, { model: GLM, tools, input: weatherAsk(""), tool_choice: { type: "function", name: "get_time" } }, { label: "named" });
    assert.deepEqual(named.calls.map((c) => c.name), ["get_time"]);
  });

  test(`${LLAMA33}: a tool call the model writes as text ([[emu:leak_tool]]) becomes a function_call item, stream too`, async () => {
    const input = weatherAsk("[[emu:leak_tool]]");
    const { calls, types } = await create(ai, { model: LLAMA33, tools: [WEATHER], input });
    assert.deepEqual(types, ["function_call"], "no message item with the leaked JSON");
    assert.deepEqual(JSON.parse(calls[0].arguments), { location: "Paris" });
    const s = await rawStreamChecked(gw, { model: LLAMA33, tools: [WEATHER], input }, "leak stream");
    assert.deepEqual(s.items.map((i) => i.type), ["function_call"]);
    assert.equal(s.calls[0].name, "get_weather");
  });

  for (const model of [NATIVE, OSS]) {
    test(`${model}: text and a tool call in one answer → a message item and a function_call item`, async () => {
      const { types, text, calls } = await create(ai, { model, tools: [WEATHER], input: weatherAsk("[[emu:text_and_tool]] [[emu:no_reasoning]]") });
      assert.deepEqual([...types].sort(), ["function_call", "message"]);
      assert.ok(text.length > 0);
      assert.equal(calls[0].name, "get_weather");
      const s = await rawStreamChecked(gw, { model, tools: [WEATHER], input: weatherAsk("[[emu:text_and_tool]] [[emu:no_reasoning]]") }, `${model} text+tool stream`);
      assert.deepEqual(s.items.map((i) => i.type).sort(), ["function_call", "message"]);
      assert.equal(s.text, text);
    });
  }

  test("function_call_output with a non-string output (content parts) is read as text", async () => {
    const input = [
      ...weatherAsk(""),
      { type: "function_call", call_id: "call_abc123", name: "get_weather", arguments: '{"location":"Paris"}' },
      { type: "function_call_output", call_id: "call_abc123", output: [{ type: "input_text", text: "sunny" }] },
    ];
    for (const model of [OSS, NATIVE]) {
      const { text } = await create(ai, { model, tools: [WEATHER], input });
      assert.equal(text, "Tool result received: sunny", model);
    }
  });

  test("client-made call ids (OpenAI style, any length) work on every tool family", async () => {
    const input = [
      ...weatherAsk(""),
      { type: "function_call", id: "fc_client_1", call_id: "call_ab_12_cd_1", name: "get_weather", arguments: '{"location":"Paris"}', status: "completed" },
      { type: "function_call_output", call_id: "call_ab_12_cd_1", output: "rainy" },
    ];
    for (const model of TOOL_MODELS) {
      const { text } = await create(ai, { model, tools: [WEATHER], input }, { label: model });
      assert.equal(text, "Tool result received: rainy", model);
    }
  });

  test("function tools to a model without tool calling → 400 on tools", async () => {
    await badRequest(ai, { model: LEGACY, input: weatherAsk(), tools: [WEATHER] }, "tools", "tools to llama-3-8b");
  });

  test("a nameless function tool → 400 on tools", async () => {
    await badRequest(ai, { model: NATIVE, input: "x", tools: [{ type: "function", parameters: { type: "object", properties: {} } }] }, "tools", "nameless tool");
  });
});

// ---------------------------------------------------------------------------------------------
// 7. built-in tools are refused
// ---------------------------------------------------------------------------------------------

describe("built-in tools", () => {
  const BUILT_IN = [
    { type: "web_search" },
    { type: "web_search_preview" },
    { type: "mcp", server_label: "x", server_url: "https://x", require_approval: "never" },
    { type: "file_search", vector_store_ids: ["vs_1"] },
    { type: "code_interpreter", container: { type: "auto" } },
    { type: "image_generation" },
  ];
  for (const tool of BUILT_IN) {
    test(`{type:"${tool.type}"} → 400 naming the tool, param tools`, async () => {
      for (const model of [OSS, NATIVE]) {
        const err = await badRequest(ai, { model, input: "search the web", tools: [WEATHER, tool] }, "tools", `${model} ${tool.type}`);
        assert.ok(err.message.includes(tool.type), `${model}: the message names ${tool.type}: ${err.message}`);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 5. n8n's "Message a model" (OpenAI node → POST /v1/responses)
// ---------------------------------------------------------------------------------------------

describe("n8n OpenAI node: Message a model", () => {
  /** The body n8n's createRequest() builds (after removeEmptyProperties), sent with plain HTTP. */
  const n8nBody = (model, text, extra = {}) => ({
    model,
    input: [{ role: "user", content: [{ type: "input_text", text }] }],
    parallel_tool_calls: true,
    store: true,
    max_output_tokens: 2048,
    background: false,
    ...extra,
    text: { verbosity: "medium", format: { type: "text" } },
  });

  for (const [model, which] of [[OSS, "kv"], [GLM, "kv"], [NATIVE, "kv"], [LLAMA33, "kv"], [OSS, "no kv"], [NATIVE, "no kv"]]) {
    test(`${model} (${which}): plain message, then the tool loop n8n runs`, async (t) => {
      const g = which === "kv" ? gwKv : gw;
      if (which === "kv") needsKv(t);
      const plain = await post(g, n8nBody(model, "Hello from n8n"));
      assert.equal(plain.status, 200, plain.text);
      const p = checkResponse(plain.json, { model, label: "n8n plain" });
      assert.equal(p.text, answer(model, "Hello from n8n"));
      const simplified = plain.json.output.filter((i) => i.type === "message");
      assert.equal(simplified[0].content[0].text, answer(model, "Hello from n8n"), "what n8n shows (Simplify Output)");

      // The tool loop (response.operation.ts): echo function_call and reasoning items, add outputs.
      const body = n8nBody(model, "What is 6 times 7? Use the calculator. [[emu:tool]]", { tools: [N8N_CALCULATOR] });
      const first = await post(g, body);
      assert.equal(first.status, 200, first.text);
      checkResponse(first.json, { model, label: "n8n step 1" });
      const toolCalls = first.json.output.filter((i) => i.type === "function_call" || i.type === "reasoning");
      assert.ok(toolCalls.some((i) => i.type === "function_call"), `a function_call item (output ${JSON.stringify(first.json.output).slice(0, 300)})`);
      body.input.push(...toolCalls);
      for (const item of toolCalls) {
        if (item.type !== "function_call") continue;
        assert.equal(item.name, "calculator");
        assert.deepEqual(JSON.parse(item.arguments), { input: "Paris" });
        body.input.push({ type: "function_call_output", call_id: item.call_id, output: "42" });
      }
      const second = await post(g, body);
      assert.equal(second.status, 200, second.text);
      const s = checkResponse(second.json, { model, label: "n8n step 2" });
      assert.equal(s.calls.length, 0, "the loop ends");
      assert.equal(s.text, "Tool result received: 42");
      assert.equal(typeof second.json.usage.input_tokens, "number");
      assert.equal(typeof second.json.usage.output_tokens, "number");
    });
  }

  test("n8n's JSON Object output format (adds a system input_text message) on gpt-4", async (t) => {
    needsKv(t);
    const body = n8nBody(NATIVE, "List three colours");
    body.text = { verbosity: "medium", format: { type: "json_object" } };
    body.input.unshift({ role: "system", content: [{ type: "input_text", text: "You are a helpful assistant designed to output JSON." }] });
    const r = await post(gwKv, body);
    assert.equal(r.status, 200, r.text);
    const { text } = checkResponse(r.json, { model: NATIVE, label: "n8n json_object" });
    assert.equal(typeof JSON.parse(text), "object");
  });
});

// ---------------------------------------------------------------------------------------------
// 6. text.format JSON modes
// ---------------------------------------------------------------------------------------------

describe("text.format", () => {
  const SCHEMA = {
    type: "object",
    properties: { city: { type: "string" }, temp: { type: "number" } },
    required: ["city", "temp"],
    additionalProperties: false,
  };
  const jsonSchemaFormat = { type: "json_schema", name: "weather", schema: SCHEMA, strict: true };

  for (const model of [NATIVE, GLM, LLAMA33]) {
    test(`${model}: json_schema and json_object → output_text is JSON`, async () => {
      const a = await create(ai, { model, input: "Weather in Paris as JSON", text: { format: jsonSchemaFormat } });
      const obj = JSON.parse(a.text);
      assert.deepEqual(Object.keys(obj).sort(), ["city", "temp"]);
      assert.equal(typeof obj.city, "string");
      assert.equal(typeof obj.temp, "number");
      assert.equal(a.r.text?.format?.type, "json_schema", "text.format echoed");

      const b = await create(ai, { model, input: "Answer as JSON", text: { format: { type: "json_object" } } });
      const o = JSON.parse(b.text);
      assert.ok(o && typeof o === "object" && !Array.isArray(o), b.text);
    });
  }

  test("SDK responses.parse gives output_parsed (gpt-4)", async () => {
    const r = await ai.responses.parse({ model: NATIVE, input: "Weather in Paris as JSON", text: { format: jsonSchemaFormat } });
    checkResponse(r, { model: NATIVE, label: "parse" });
    assert.deepEqual(r.output_parsed, JSON.parse(r.output_text));
  });

  test("streamed json_schema: the deltas join to the JSON answer (gpt-4)", async () => {
    const s = await rawStreamChecked(gw, { model: NATIVE, input: "Weather as JSON", text: { format: jsonSchemaFormat } }, "json stream");
    assert.equal(s.terminal, "response.completed");
    assert.deepEqual(Object.keys(JSON.parse(s.text)).sort(), ["city", "temp"]);
  });

  test("text.format text is plain text everywhere", async () => {
    for (const model of [OSS, LEGACY]) {
      const { text } = await create(ai, { model, input: "plain please", text: { format: { type: "text" } } });
      assert.equal(text, answer(model, "plain please"));
    }
  });

  test("JSON mode on a model without it → 400 on text.format", async () => {
    for (const model of [LEGACY, MISTRAL]) {
      await badRequest(ai, { model, input: "x", text: { format: { type: "json_object" } } }, "text", `${model} json_object`);
      await badRequest(ai, { model, input: "x", text: { format: jsonSchemaFormat } }, "text", `${model} json_schema`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 9. streaming
// ---------------------------------------------------------------------------------------------

describe("streaming", () => {
  for (const model of [OSS, NATIVE, GLM, LEGACY, LLAMA33]) {
    test(`${model}: raw stream, exact event order for a text answer, deltas join to the final text`, async () => {
      const s = await rawStreamChecked(gw, { model, input: "stream please [[emu:tokens=5]] [[emu:no_reasoning]]" }, `${model} raw`);
      assert.deepEqual(squash(s.types), [...HEAD, ...MSG_SEQ, "response.completed"]);
      assert.equal(s.text, "w1 w2 w3 w4 w5");
      assert.ok(s.deltas.length > 1, `streamed in several deltas, got ${JSON.stringify(s.deltas)}`);
      assert.equal(s.final.output_text ?? s.text, s.text);
      assert.equal(s.final.output[0].content[0].text, "w1 w2 w3 w4 w5");
      assert.equal(s.final.usage.output_tokens, 5);
    });
  }

  for (const model of [OSS, NATIVE, GLM]) {
    test(`${model}: raw stream with reasoning: reasoning item events, then the message`, async () => {
      const s = await rawStreamChecked(gw, { model, input: "reason then answer" }, `${model} reasoning`);
      assert.deepEqual(squash(s.types), [...HEAD, ...RS_SEQ, ...MSG_SEQ, "response.completed"]);
      assert.equal(s.reasoning, "The user wrote: reason then answer. I should answer briefly.");
      assert.equal(s.text, answer(model, "reason then answer"));
      assert.deepEqual(s.items.map((i) => i.type), ["reasoning", "message"]);
    });
  }

  for (const model of [OSS, NATIVE, LEGACY]) {
    test(`${model}: SDK responses.stream → finalResponse() matches the non-stream Response`, async () => {
      const params = { model, input: "compare stream and non-stream" };
      const s = await sdkStream(ai, params);
      assert.equal(s.terminal, "response.completed");
      const { text } = checkResponse(s.final, { model, label: "finalResponse" });
      assert.equal(text, answer(model, "compare stream and non-stream"));
      const plain = await create(ai, params);
      assert.deepEqual(shape(s.final), shape(plain.r));
    });
  }

  for (const model of [OSS, NATIVE, GLM, LLAMA33, MISTRAL]) {
    test(`${model}: streamed function call (function_call_arguments events), then the streamed answer`, async () => {
      const tools = [WEATHER, TIME];
      const input = weatherAsk("[[emu:tool]] [[emu:no_reasoning]]");
      const s = await rawStreamChecked(gw, { model, tools, input }, `${model} call stream`);
      assert.deepEqual(squash(s.types), [...HEAD, ...FC_SEQ, "response.completed"]);
      assert.equal(s.calls.length, 1);
      assert.equal(s.calls[0].name, "get_weather");
      assert.deepEqual(JSON.parse(s.calls[0].arguments), { location: "Paris" });

      const viaSdk = await sdkStream(ai, { model, tools, input });
      const call = viaSdk.final.output.find((i) => i.type === "function_call");
      assert.ok(call, "finalResponse has the function_call");
      const answerStream = await sdkStream(ai, { model, tools, input: [...input, ...viaSdk.final.output, { type: "function_call_output", call_id: call.call_id, output: "cloudy" }] });
      assert.equal(answerStream.text, "Tool result received: cloudy");
    });
  }

  for (const model of [OSS, NATIVE]) {
    test(`${model}: a streamed answer cut by max_output_tokens ends with response.incomplete`, async () => {
      const s = await rawStreamChecked(gw, { model, input: "go [[emu:tokens=50]] [[emu:no_reasoning]]", max_output_tokens: 16 }, `${model} incomplete`);
      assert.equal(s.terminal, "response.incomplete");
      assert.deepEqual(s.final.incomplete_details, { reason: "max_output_tokens" });
      assert.equal(s.text.split(" ").length, 16);
    });
  }

  // Enough upstream chunks that visible text has been streamed before the failure.
  const FAIL_AFTER = { [OSS]: 6, [NATIVE]: 4, [LEGACY]: 4 };
  for (const model of [OSS, NATIVE, LEGACY]) {
    test(`${model}: an upstream failure mid-stream ends with response.failed/error, never response.completed`, async () => {
      const s = await rawStreamResponses(gw, { model, input: `go [[emu:tokens=20]] [[emu:no_reasoning]] [[emu:fail_after=${FAIL_AFTER[model]}]]` });
      assert.equal(s.status, 200, `headers were sent before the failure (body ${s.text.slice(0, 300)})`);
      const f = checkEvents(s.events, { model, label: `${model} fail_after` });
      assert.ok(f.deltas.length > 0, "some text was streamed before the failure");
      assert.ok(!f.types.includes("response.completed"), "no response.completed");
      assert.ok(f.terminal === "response.failed" || f.sawError, `ends with response.failed or error (types ${squash(f.types)})`);
    });
  }

  for (const model of [OSS, NATIVE, LEGACY]) {
    test(`${model}: [[emu:error=3040]] → HTTP 429 before any event, stream and non-stream`, async () => {
      const s = await rawStreamResponses(gw, { model, input: "hi [[emu:error=3040]]" });
      assert.equal(s.status, 429, s.text.slice(0, 300));
      assert.match(s.headers.get("content-type") ?? "", /application\/json/);
      const e = checkErrorBody(s.json, "stream 3040");
      assert.equal(e.code, "rate_limit_exceeded");
      assert.match(s.headers.get("retry-after") ?? "", /^\d+$/, "Retry-After");

      const err = await thrown(() => ai.responses.create({ model, input: "hi [[emu:error=3040]]" }), "non-stream 3040");
      assert.ok(err instanceof OpenAI.RateLimitError, `expected RateLimitError, got ${err?.constructor?.name}`);
      const sdkErr = await thrown(() => ai.responses.stream({ model, input: "hi [[emu:error=3040]]" }).finalResponse(), "SDK stream 3040");
      assert.equal(sdkErr.status, 429);
    });
  }

  for (const [model, failAfter] of [[NATIVE, 1], [OSS, 2]]) {
    test(`${model}: an upstream failure before any visible output → HTTP 504 (not a 200 stream)`, async () => {
      const s = await rawStreamResponses(gw, { model, input: `go [[emu:tokens=20]] [[emu:no_reasoning]] [[emu:fail_after=${failAfter}]]` });
      await expectError({ ...s, text: s.text }, 504, { code: "upstream_timeout", label: `${model} fail_after=${failAfter}` });
    });
  }

  test("upstream bytes split anywhere, heartbeats and comments: the same events", async () => {
    const strip = (events) => JSON.parse(JSON.stringify(events, (k, v) => (k === "id" || k === "item_id" || k === "created_at" || k === "completed_at" || k === "call_id" ? "*" : v)));
    for (const model of [OSS, NATIVE, LLAMA33]) {
      const base = await rawStreamChecked(gw, { model, tools: [WEATHER], input: weatherAsk("[[emu:text_and_tool]] [[emu:tokens=6]]") }, `${model} base`);
      for (const extra of ["[[emu:chunk=7]]", "[[emu:chunk=1]] [[emu:heartbeat]]"]) {
        const s = await rawStreamChecked(gw, { model, tools: [WEATHER], input: weatherAsk(`[[emu:text_and_tool]] [[emu:tokens=6]] ${extra}`) }, `${model} ${extra}`);
        assert.deepEqual(strip(s.events), strip(base.events), `${model} ${extra}`);
      }
    }
  });

  test("the raw stream has no `data: [DONE]` sentinel (OpenAI's Responses streams end with the terminal event)", async () => {
    for (const model of [OSS, NATIVE, LEGACY]) {
      const s = await rawStreamResponses(gw, { model, input: "done? [[emu:tokens=2]]" });
      assert.equal(s.status, 200);
      assert.equal(s.done, false, `${model}: no [DONE]`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 10. stored responses: previous_response_id, GET, DELETE
// ---------------------------------------------------------------------------------------------

describe("stored responses (GATEWAY_KV)", () => {
  test("store (default true): GET /v1/responses/{id} returns the same Response; SDK retrieve", async (t) => {
    needsKv(t);
    for (const model of [OSS, NATIVE]) {
      const created = await post(gwKv, { model, input: "keep this one" });
      assert.equal(created.status, 200, created.text);
      checkResponse(created.json, { model, label: "created" });
      const got = await rawJson(gwKv, `/v1/responses/${created.json.id}`);
      assert.equal(got.status, 200, got.text);
      checkResponse(got.json, { model, label: "GET" });
      assert.deepEqual(got.json, created.json, `${model}: the stored copy equals the answer`);
      const viaSdk = await aiKv.responses.retrieve(created.json.id);
      assert.equal(viaSdk.output_text, answer(model, "keep this one"));
    }
  });

  for (const model of [OSS, NATIVE, GLM, LEGACY]) {
    test(`${model}: previous_response_id carries the whole conversation (input and output) to the next turn`, async (t) => {
      needsKv(t);
      const r1 = await create(aiKv, { model, input: "My name is Ada", instructions: "Be kind." }, { label: "turn 1" });
      const r2 = await create(aiKv, { model, input: "What is my name?", previous_response_id: r1.r.id }, { label: "turn 2" });
      assert.equal(r2.text, answer(model, "What is my name?"));
      assert.equal(r2.r.previous_response_id, r1.r.id, "previous_response_id echoed");
      const alone = await create(aiKv, { model, input: "What is my name?" }, { label: "alone" });
      // Instructions are not carried over (OpenAI's rule); turn 1's input and answer are.
      assert.equal(r2.r.usage.input_tokens - alone.r.usage.input_tokens, countWords("My name is Ada") + countWords(r1.text), "turn 1 reaches the model once, without its instructions");

      const r3 = await create(aiKv, { model, input: "And again?", previous_response_id: r2.r.id }, { label: "turn 3" });
      const alone3 = await create(aiKv, { model, input: "And again?" }, { label: "alone 3" });
      assert.equal(
        r3.r.usage.input_tokens - alone3.r.usage.input_tokens,
        countWords("My name is Ada") + countWords(r1.text) + countWords("What is my name?") + countWords(r2.text),
        "the chain goes back to turn 1",
      );
    });
  }

  for (const model of [OSS, NATIVE, LLAMA33]) {
    test(`${model}: function-call loop over previous_response_id (only function_call_output sent)`, async (t) => {
      needsKv(t);
      const tools = [WEATHER];
      const first = await create(aiKv, { model, tools, input: weatherAsk() }, { label: "call" });
      assert.equal(first.calls.length, 1);
      const second = await create(
        aiKv,
        { model, tools, previous_response_id: first.r.id, input: [{ type: "function_call_output", call_id: first.calls[0].call_id, output: "foggy" }] },
        { label: "answer" },
      );
      assert.equal(second.text, "Tool result received: foggy");
    });
  }

  test("a streamed response is stored too: GET equals the response.completed response", async (t) => {
    needsKv(t);
    const s = await rawStreamChecked(gwKv, { model: NATIVE, input: "stream and store" }, "stored stream");
    const got = await rawJson(gwKv, `/v1/responses/${s.final.id}`);
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.json, s.final);
    const next = await create(aiKv, { model: NATIVE, input: "next", previous_response_id: s.final.id });
    assert.equal(next.text, answer(NATIVE, "next"));
    // A streamed turn continues a stored one too.
    for (const model of [OSS, NATIVE]) {
      const first = await create(aiKv, { model, input: "My name is Ada" });
      const alone = await create(aiKv, { model, input: "Streamed follow-up", store: false });
      const st = await rawStreamChecked(gwKv, { model, input: "Streamed follow-up", previous_response_id: first.r.id }, `${model} streamed turn 2`);
      assert.equal(st.text, answer(model, "Streamed follow-up"));
      assert.equal(st.final.previous_response_id, first.r.id);
      assert.equal(st.final.usage.input_tokens - alone.r.usage.input_tokens, countWords("My name is Ada") + countWords(first.text), `${model}: turn 1 reaches the model`);
    }
  });

  test("DELETE /v1/responses/{id} → {id, object:'response', deleted:true}; then GET and DELETE → 404", async (t) => {
    needsKv(t);
    const { r } = await create(aiKv, { model: NATIVE, input: "delete me" });
    const del = await rawJson(gwKv, `/v1/responses/${r.id}`, { method: "DELETE" });
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.json, { id: r.id, object: "response", deleted: true });
    await expectError(await rawJson(gwKv, `/v1/responses/${r.id}`), 404, { label: "GET after DELETE" });
    await expectError(await rawJson(gwKv, `/v1/responses/${r.id}`, { method: "DELETE" }), 404, { label: "DELETE twice" });

    // The SDK's delete resolves.
    const other = await create(aiKv, { model: OSS, input: "delete me too" });
    await aiKv.responses.delete(other.r.id);
    const gone = await thrown(() => aiKv.responses.retrieve(other.r.id), "retrieve after SDK delete");
    assert.ok(gone instanceof OpenAI.NotFoundError, `expected NotFoundError, got ${gone?.constructor?.name}`);
  });

  test("store:false is not kept; unknown ids → 404 / previous_response_id error", async (t) => {
    needsKv(t);
    const { r } = await create(aiKv, { model: NATIVE, input: "forget me", store: false });
    await expectError(await rawJson(gwKv, `/v1/responses/${r.id}`), 404, { label: "GET store:false" });
    await expectError(await rawJson(gwKv, "/v1/responses/resp_doesnotexist0000"), 404, { label: "GET unknown" });
    await expectError(await rawJson(gwKv, "/v1/responses/resp_doesnotexist0000", { method: "DELETE" }), 404, { label: "DELETE unknown" });
  });

  test("an unknown, unstored or deleted previous_response_id → 400 previous_response_not_found (as OpenAI; clients retry statelessly on it)", async (t) => {
    needsKv(t);
    const unstored = await create(aiKv, { model: NATIVE, input: "forget me", store: false });
    const deleted = await create(aiKv, { model: NATIVE, input: "delete me" });
    await aiKv.responses.delete(deleted.r.id);
    for (const id of ["resp_doesnotexist0000", unstored.r.id, deleted.r.id]) {
      const r = await post(gwKv, { model: NATIVE, input: "x", previous_response_id: id });
      await expectError(r, 400, { param: "previous_response_id", code: "previous_response_not_found", label: id });
    }
  });

  test("a stored response belongs to the key that created it", async (t) => {
    needsKv(t);
    const { r } = await create(aiKv, { model: NATIVE, input: "mine only" });
    const other = { authorization: `Bearer ${KEY2}` };
    await expectError(await rawJson(gwKv, `/v1/responses/${r.id}`, { headers: other }), 404, { label: "GET with another key" });
    await expectError(await rawJson(gwKv, `/v1/responses/${r.id}`, { method: "DELETE", headers: other }), 404, { label: "DELETE with another key" });
    const cont = await post(gwKv, { model: NATIVE, input: "x", previous_response_id: r.id }, { headers: other });
    assert.equal(cont.status >= 400 && cont.status < 500, true, `previous_response_id with another key: ${cont.status}`);
    const still = await rawJson(gwKv, `/v1/responses/${r.id}`);
    assert.equal(still.status, 200, "the owner still has it");
  });

  test("GET /v1/responses/{id}/input_items lists the input items (ResponseItemList)", async (t) => {
    needsKv(t);
    const input = [
      { role: "user", content: "first words" },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "an answer" }] },
      { role: "user", content: [{ type: "input_text", text: "second words" }] },
      { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"location":"Paris"}' },
      { type: "function_call_output", call_id: "call_1", output: "sunny" },
    ];
    const { r } = await create(aiKv, { model: NATIVE, tools: [WEATHER], input });
    const list = await rawJson(gwKv, `/v1/responses/${r.id}/input_items`);
    assert.equal(list.status, 200, list.text);
    assert.equal(list.json.object, "list");
    // OpenAI lists input items newest first by default (order=desc).
    assert.deepEqual(list.json.data.map((i) => i.type), ["function_call_output", "function_call", "message", "message", "message"]);
    const texts = list.json.data.slice(2).map((i) => i.content?.map((c) => c.text).join(" "));
    assert.deepEqual(texts, ["second words", "an answer", "first words"]);
    assert.equal(list.json.first_id, list.json.data[0].id);
    assert.equal(list.json.last_id, list.json.data.at(-1).id);
    const viaSdk = await aiKv.responses.inputItems.list(r.id);
    assert.equal(viaSdk.data.length, 5);
    schema("ResponseItemList", list.json, "input_items");
  });

  test("without GATEWAY_KV: previous_response_id → clear 400, store:true is ignored, GET → 4xx", async () => {
    const err = await badRequest(ai, { model: NATIVE, input: "x", previous_response_id: "resp_abc123" }, "previous_response_id", "no KV");
    assert.match(err.message, /GATEWAY_KV|KV|stor/i, `the message explains why: ${err.message}`);
    const { r } = await create(ai, { model: NATIVE, input: "store me", store: true });
    assert.equal(r.status, "completed");
    const got = await rawJson(gw, `/v1/responses/${r.id}`);
    assert.ok(got.status === 404 || got.status === 400, `GET without KV: ${got.status}`);
    checkErrorBody(got.json, "GET without KV");
  });
});
