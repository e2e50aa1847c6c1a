// End-to-end (issue 8, "Bad input"): malformed, mistyped, absurd and hostile requests against
// every endpoint, with raw fetch (and a raw socket for a lying Content-Length), against the built
// worker in workerd with the Workers AI emulator.
//
// Every bad request must get a 4xx (never a 5xx, never a hang) whose body is exactly the OpenAI
// error shape {"error":{"message","type","param","code"}}, served as application/json, with a
// message that says what was wrong. Each test runs all of its requests and reports every problem
// at the end (not only the first), so one run lists everything.
//
// One gateway for the whole file, with MAX_BODY_BYTES=100000 so the size limit can be hit with a
// 200 KB body. The last test checks that the same instance still serves normal requests.
//
// Tests that expose a gateway bug are marked `{ todo: "GATEWAY BUG: …" }`: they still run and
// report, but do not fail the suite.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startGateway, client, schema, user, rawStream, checkChunks, settledFetch, API_KEYS, KEY, WEATHER_TOOL } from "./_support.mjs";

const LIMIT = 100_000;
let gw;
before(async () => {
  gw = await startGateway({ bindings: { API_KEYS, MAX_BODY_BYTES: String(LIMIT) } });
});
after(() => gw?.dispose());

// ---------------------------------------------------------------------------------------------
// Helpers

/** A valid body per JSON endpoint (each one succeeds; see the last test). */
const VALID = {
  "/v1/chat/completions": { model: "gpt-3.5-turbo", messages: user("hi [[emu:tokens=2]]") },
  "/v1/completions": { model: "gpt-3.5-turbo", prompt: "hi [[emu:tokens=2]]" },
  "/v1/responses": { model: "gpt-4", input: "hi [[emu:tokens=2]] [[emu:no_reasoning]]" },
  "/v1/embeddings": { model: "text-embedding-3-small", input: "hi" },
  "/v1/images/generations": { model: "dall-e-3", prompt: "a red square" },
  "/v1/audio/speech": { model: "tts-1", input: "hi", voice: "alloy" },
  "/v1/moderations": { input: "hi" },
};
const JSON_PATHS = Object.keys(VALID);
const TRANSCRIBE = "/v1/audio/transcriptions";
const ALL_POST_PATHS = [...JSON_PATHS, TRANSCRIBE];

/** Internals that must not leak into messages (Rust/serde type names). */
const INTERNALS = /\b(f32|f64|u8|u16|u32|u64|usize|i32|i64|isize|struct|enum|serde|Option<|Vec<|sequence|panicked|RuntimeError|unreachable)\b/;

/**
 * fetch with a deadline (a hang is a failure, not a stuck suite). `body`: object (sent as JSON),
 * string, Uint8Array, FormData or ReadableStream. Never throws: a network error or timeout is
 * returned as `{ error }`.
 */
async function send(path, { method = "POST", body, headers = {}, auth = true, timeoutMs = 15_000 } = {}) {
  const h = { ...(auth ? { authorization: `Bearer ${KEY}` } : {}), ...headers };
  let payload = body;
  if (body !== undefined && body !== null && typeof body === "object" && !(body instanceof Uint8Array) && !(body instanceof FormData) && !(body instanceof ReadableStream)) {
    payload = JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === "content-type")) h["content-type"] = "application/json";
  }
  const init = { method, headers: h, body: payload, signal: AbortSignal.timeout(timeoutMs) };
  if (payload instanceof ReadableStream) init.duplex = "half";
  return settledFetch(gw.url + path, init);
}

/**
 * Collects problems instead of throwing at the first one. `check` validates an error answer;
 * `done` fails the test with every problem listed.
 */
function problems() {
  const list = [];
  let checked = 0;
  const short = (s) => (s ?? "").slice(0, 240).replace(/\s+/g, " ");
  return {
    list,
    add(label, msg) { list.push(`${label}: ${msg}`); },
    /**
     * statuses: allowed statuses (default any 4xx); code / param: expected values (param may be a
     * RegExp); mention: RegExp the message (or param) must match, to show it says what was wrong;
     * allowOk: a 2xx is acceptable too (lenient handling), but never a 5xx or a hang.
     */
    check(label, r, { statuses, code, param, mention, allowOk = false } = {}) {
      checked++;
      if (r.error) return this.add(label, `no answer (${r.error}) after ${r.ms} ms`);
      if (allowOk && r.status >= 200 && r.status < 300) return;
      if (r.status >= 500) return this.add(label, `got ${r.status} (a 5xx) with ${short(r.text)}`);
      if (r.status < 400) return this.add(label, `expected a 4xx, got ${r.status} with ${short(r.text)}`);
      if (statuses && !statuses.includes(r.status)) this.add(label, `status ${r.status}, expected ${statuses.join("/")} (body ${short(r.text)})`);
      const ct = r.headers.get("content-type") ?? "";
      if (!/^application\/json\b/.test(ct)) this.add(label, `content-type ${JSON.stringify(ct)}, expected application/json`);
      const j = r.json;
      if (!j || typeof j !== "object" || Array.isArray(j)) return this.add(label, `body is not a JSON object: ${short(r.text)}`);
      if (JSON.stringify(Object.keys(j)) !== '["error"]') this.add(label, `top-level keys ${JSON.stringify(Object.keys(j))}, expected ["error"]`);
      const e = j.error;
      if (!e || typeof e !== "object") return this.add(label, `error is ${JSON.stringify(e)}`);
      const keys = Object.keys(e).sort();
      if (JSON.stringify(keys) !== JSON.stringify(["code", "message", "param", "type"])) this.add(label, `error keys ${JSON.stringify(keys)}, expected exactly code, message, param, type`);
      if (typeof e.message !== "string" || e.message.trim().length < 10) this.add(label, `message too short: ${JSON.stringify(e.message)}`);
      if (typeof e.type !== "string" || !e.type) this.add(label, `type ${JSON.stringify(e.type)}`);
      if (e.param !== null && typeof e.param !== "string") this.add(label, `param ${JSON.stringify(e.param)} (string or null)`);
      if (e.code !== null && typeof e.code !== "string") this.add(label, `code ${JSON.stringify(e.code)} (string or null)`);
      if (typeof e.message === "string" && INTERNALS.test(e.message)) this.add(label, `message leaks internals: ${JSON.stringify(e.message)}`);
      if (code !== undefined && e.code !== code) this.add(label, `code ${JSON.stringify(e.code)}, expected ${JSON.stringify(code)} (message ${JSON.stringify(e.message)})`);
      if (param instanceof RegExp ? !param.test(e.param ?? "") : param !== undefined && e.param !== param) {
        this.add(label, `param ${JSON.stringify(e.param)}, expected ${param} (message ${JSON.stringify(e.message)})`);
      }
      if (mention && !mention.test(`${e.message} ${e.param ?? ""}`)) this.add(label, `message does not say what was wrong (${mention}): ${JSON.stringify(e.message)} param ${JSON.stringify(e.param)}`);
    },
    done() {
      assert.ok(checked > 0, "nothing was checked");
      if (list.length) assert.fail(`${list.length} problem(s) in ${checked} checks:\n  - ${list.join("\n  - ")}`);
    },
  };
}

/**
 * Known gateway bugs, by key: cases tagged with one run in a separate `{ todo }` test (see
 * `group`), so the main tests stay strict and a fix shows up as a passing todo.
 */
const BUG = {
  // None known at the moment: tag a case with a key defined here to mark a new one.
};

/**
 * Defines `test(title)` for the cases without a known bug and, if any are tagged, a second
 * `{ todo: "GATEWAY BUG: …" }` test for those. `build()` returns `[label, fn, opts, bugKey?]`.
 */
function group(title, build, { limit = 8, after: afterFn } = {}) {
  const all = build();
  const clean = all.filter((c) => !c[3]);
  const buggy = all.filter((c) => c[3]);
  if (clean.length) {
    test(title, async () => {
      const p = problems();
      await runCases(p, clean, limit);
      if (afterFn) await afterFn(p);
      p.done();
    });
  }
  if (buggy.length) {
    const keys = [...new Set(buggy.map((c) => c[3]))];
    test(clean.length ? `${title}: known gateway bugs (${buggy.length} cases)` : title, { todo: `GATEWAY BUG: ${keys.map((k) => BUG[k]).join("; ")}` }, async () => {
      const p = problems();
      await runCases(p, buggy, limit);
      p.done();
    });
  }
}

/** Runs `[label, promise-producing fn, opts]` cases concurrently (bounded) and checks each. */
async function runCases(p, cases, limit = 8) {
  const queue = [...cases];
  await Promise.all(Array.from({ length: limit }, async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const [label, fn, opts] = c;
      p.check(label, await fn(), opts);
    }
  }));
}

/** A multipart body by hand: [{ name, value, filename?, type? }] with the given boundary. */
function multipart(parts, boundary = "XyZbOuNdArY42", { close = true } = {}) {
  let s = "";
  for (const part of parts) {
    s += `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ""}\r\n`;
    if (part.type) s += `Content-Type: ${part.type}\r\n`;
    s += `\r\n${part.value}\r\n`;
  }
  if (close) s += `--${boundary}--\r\n`;
  return s;
}
const audioForm = (fields = {}, file = "hello there") => {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  if (file != null) fd.set("file", new Blob([file]), "a.mp3");
  return fd;
};

// ---------------------------------------------------------------------------------------------

describe("malformed JSON", () => {
  const variants = (valid) => [
    ["truncated", valid.slice(0, valid.length - 7)],
    ["trailing garbage", `${valid} garbage`],
    ["two JSON values", `${valid}{}`],
    ["a lone {", "{"],
    ["empty body", ""],
    ["whitespace only", "  \n "],
    ["null", "null"],
    ["[]", "[]"],
    ["a bare string", '"hello"'],
    ["a bare number", "42"],
    ["true", "true"],
    ["single quotes", "{'model':'gpt-4'}"],
    ["NaN literal", '{"model":"gpt-4","temperature":NaN}'],
    ["trailing comma", '{"model":"gpt-4",}'],
    ["a BOM then garbage", "\ufeff{x}"],
  ];
  group("every JSON endpoint answers 400 with a JSON error saying the body is wrong", () =>
    JSON_PATHS.flatMap((path) => variants(JSON.stringify(VALID[path])).map(([label, body, bug]) => [
      `${path} ${label}`,
      () => send(path, { body, headers: { "content-type": "application/json" } }),
      { statuses: [400], mention: /json|body|object|parse|expected|empty/i },
      bug,
    ])));

  group("a body without a Content-Type (bad JSON inside) is refused with a 4xx, never a 5xx", () =>
    JSON_PATHS.flatMap((path) => [
      [`${path} no content-type, bad JSON`, () => send(path, { body: "{", headers: {} }), { statuses: [400, 415] }],
      [`${path} no content-type, empty`, () => send(path, { body: "", headers: {} }), { statuses: [400, 415] }],
    ]));
});

describe("wrong types", () => {
  const chat = VALID["/v1/chat/completions"];
  const C = "/v1/chat/completions";
  const R = "/v1/responses";
  const with_ = (path, extra) => ({ ...VALID[path], ...extra });
  // [label, path, body, field the message/param must mention, known bug]
  const cases = [
    ["model: 7", C, { ...chat, model: 7 }, "model"],
    ["model: null", C, { ...chat, model: null }, "model"],
    ["model: []", C, { ...chat, model: [] }, "model"],
    ["model: {}", C, { ...chat, model: {} }, "model"],
    ['messages: "x"', C, { ...chat, messages: "x" }, "messages"],
    ["messages: {}", C, { ...chat, messages: {} }, "messages"],
    ["messages: [1]", C, { ...chat, messages: [1] }, "messages"],
    ["messages: [null]", C, { ...chat, messages: [null] }, "messages"],
    ["messages: [[]]", C, { ...chat, messages: [[]] }, "messages"],
    ["content: {}", C, { ...chat, messages: [{ role: "user", content: {} }] }, "messages|content"],
    ["content: 5", C, { ...chat, messages: [{ role: "user", content: 5 }] }, "messages|content"],
    ["content: [1]", C, { ...chat, messages: [{ role: "user", content: [1] }] }, "messages|content"],
    ["content part without type", C, { ...chat, messages: [{ role: "user", content: [{ text: "hi" }] }] }, "messages|content|type"],
    ["content part unknown type", C, { ...chat, messages: [{ role: "user", content: [{ type: "hologram", text: "hi" }] }] }, "messages|content|type|hologram"],
    ["role: 5", C, { ...chat, messages: [{ role: 5, content: "hi" }] }, "messages|role"],
    ['stream: "yes"', C, { ...chat, stream: "yes" }, "stream"],
    ['n: "2"', C, { ...chat, n: "2" }, "\\bn\\b"],
    ['temperature: "hot"', C, { ...chat, temperature: "hot" }, "temperature"],
    ["max_tokens: -1", C, { ...chat, max_tokens: -1 }, "max_tokens"],
    ["max_tokens: 1e12", C, { ...chat, max_tokens: 1e12 }, "max_tokens"],
    ["max_tokens: 1.5", C, { ...chat, max_tokens: 1.5 }, "max_tokens"],
    ['max_tokens: "10"', C, { ...chat, max_tokens: "10" }, "max_tokens"],
    ["max_completion_tokens: -1", C, { ...chat, max_completion_tokens: -1 }, "max_completion_tokens"],
    ["tools: {}", C, { ...chat, model: "gpt-4", tools: {} }, "tools"],
    ['tools: ["x"]', C, { ...chat, model: "gpt-4", tools: ["x"] }, "tools"],
    ["tool_choice: 5", C, { ...chat, model: "gpt-4", tools: [WEATHER_TOOL], tool_choice: 5 }, "tool_choice"],
    ['tool_choice: "sometimes"', C, { ...chat, model: "gpt-4", tools: [WEATHER_TOOL], tool_choice: "sometimes" }, "tool_choice"],
    ['tool_choice: {type: "function"} (no name)', C, { ...chat, model: "gpt-4", tools: [WEATHER_TOOL], tool_choice: { type: "function" } }, "tool_choice"],
    ["tool_choice: {function: {}} (no name)", C, { ...chat, model: "gpt-4", tools: [WEATHER_TOOL], tool_choice: { type: "function", function: {} } }, "tool_choice"],
    ['tool_choice: "sometimes" without tools', C, { ...chat, tool_choice: "sometimes" }, "tool_choice"],
    ["stop: 5", C, { ...chat, stop: 5 }, "stop"],
    ['response_format: "json"', C, { ...chat, response_format: "json" }, "response_format"],
    ['stream_options: "x"', C, { ...chat, stream: true, stream_options: "x" }, "stream_options"],
    ['seed: "x"', C, { ...chat, seed: "x" }, "seed"],
    ['top_p: "x"', C, { ...chat, top_p: "x" }, "top_p"],

    ["model: 7", "/v1/completions", with_("/v1/completions", { model: 7 }), "model"],
    ["prompt: {}", "/v1/completions", with_("/v1/completions", { prompt: {} }), "prompt"],
    ['stream: "yes"', "/v1/completions", with_("/v1/completions", { stream: "yes" }), "stream"],
    ['n: "2"', "/v1/completions", with_("/v1/completions", { n: "2" }), "\\bn\\b"],
    ['temperature: "hot"', "/v1/completions", with_("/v1/completions", { temperature: "hot" }), "temperature"],
    ["max_tokens: -1", "/v1/completions", with_("/v1/completions", { max_tokens: -1 }), "max_tokens"],
    ["max_tokens: 1.5", "/v1/completions", with_("/v1/completions", { max_tokens: 1.5 }), "max_tokens"],

    ["model: 7", R, with_(R, { model: 7 }), "model"],
    ["input: {}", R, with_(R, { input: {} }), "input"],
    ["input: 5", R, with_(R, { input: 5 }), "input"],
    ["input: [1]", R, with_(R, { input: [1] }), "input"],
    ['stream: "yes"', R, with_(R, { stream: "yes" }), "stream"],
    ['temperature: "hot"', R, with_(R, { temperature: "hot" }), "temperature"],
    ["max_output_tokens: -1", R, with_(R, { max_output_tokens: -1 }), "max_output_tokens"],
    ["max_output_tokens: 1.5", R, with_(R, { max_output_tokens: 1.5 }), "max_output_tokens"],
    ["tools: {}", R, with_(R, { tools: {} }), "tools"],
    ["tool_choice: 5", R, with_(R, { tools: [{ type: "function", ...WEATHER_TOOL.function }], tool_choice: 5 }), "tool_choice"],
    ['tool_choice: "sometimes"', R, with_(R, { tools: [{ type: "function", ...WEATHER_TOOL.function }], tool_choice: "sometimes" }), "tool_choice"],
    ['tool_choice: {type: "function"} (no name)', R, with_(R, { tools: [{ type: "function", ...WEATHER_TOOL.function }], tool_choice: { type: "function" } }), "tool_choice"],
    ["instructions: 5", R, with_(R, { instructions: 5 }), "instructions"],

    ["model: 7", "/v1/embeddings", with_("/v1/embeddings", { model: 7 }), "model"],
    ["input: {}", "/v1/embeddings", with_("/v1/embeddings", { input: {} }), "input"],
    ["input: null", "/v1/embeddings", with_("/v1/embeddings", { input: null }), "input"],
    ["input: [{}]", "/v1/embeddings", with_("/v1/embeddings", { input: [{}] }), "input"],
    ["input: true", "/v1/embeddings", with_("/v1/embeddings", { input: true }), "input"],
    ["encoding_format: 5", "/v1/embeddings", with_("/v1/embeddings", { encoding_format: 5 }), "encoding_format"],
    ['encoding_format: "hex"', "/v1/embeddings", with_("/v1/embeddings", { encoding_format: "hex" }), "encoding_format"],
    ['dimensions: "x"', "/v1/embeddings", with_("/v1/embeddings", { dimensions: "x" }), "dimensions"],

    ["model: 7", "/v1/images/generations", with_("/v1/images/generations", { model: 7 }), "model"],
    ["prompt: 5", "/v1/images/generations", with_("/v1/images/generations", { prompt: 5 }), "prompt"],
    ['size: "big"', "/v1/images/generations", with_("/v1/images/generations", { size: "big" }), "size"],
    ["size: 1024", "/v1/images/generations", with_("/v1/images/generations", { size: 1024 }), "size"],
    ['n: "2"', "/v1/images/generations", with_("/v1/images/generations", { n: "2" }), "\\bn\\b"],
    ["n: 1.5", "/v1/images/generations", with_("/v1/images/generations", { n: 1.5 }), "\\bn\\b"],

    ["model: 7", "/v1/audio/speech", with_("/v1/audio/speech", { model: 7 }), "model"],
    ["input: 5", "/v1/audio/speech", with_("/v1/audio/speech", { input: 5 }), "input"],
    ["voice: 5", "/v1/audio/speech", with_("/v1/audio/speech", { voice: 5 }), "voice"],
    ['speed: "fast"', "/v1/audio/speech", with_("/v1/audio/speech", { speed: "fast" }), "speed"],
    ["voice: []", "/v1/audio/speech", with_("/v1/audio/speech", { voice: [] }), "voice"],

    ["model: 7", "/v1/moderations", with_("/v1/moderations", { model: 7 }), "model"],
    ["input: {}", "/v1/moderations", with_("/v1/moderations", { input: {} }), "input"],
    ["input: 5", "/v1/moderations", with_("/v1/moderations", { input: 5 }), "input"],
    ["input: null", "/v1/moderations", with_("/v1/moderations", { input: null }), "input"],
  ];

  group("each field with the wrong type → 400 naming the field", () =>
    cases.map(([label, path, body, field, bug]) => [`${path} ${label}`, () => send(path, { body }), { statuses: [400], mention: new RegExp(field) }, bug]));

  group("…and the same with stream: true → an HTTP 400, not a 200 stream", () =>
    cases
      .filter(([label, path]) => [C, "/v1/completions", R].includes(path) && !/^stream/.test(label))
      .map(([label, path, body, field, bug]) => [`${path} stream ${label}`, () => send(path, { body: { ...body, stream: true } }), { statuses: [400], mention: new RegExp(field) }, bug]));
});

describe("message structure", () => {
  const call = { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } };
  const cases = [
    ["empty messages", { model: "gpt-4", messages: [] }, "messages"],
    ["unknown role wizard", { model: "gpt-4", messages: [{ role: "wizard", content: "hi" }] }, "messages|role|wizard"],
    ["message without role", { model: "gpt-4", messages: [{ content: "hi" }] }, "messages|role"],
    ["user message without content", { model: "gpt-4", messages: [{ role: "user" }] }, "messages|content"],
    ["system message without content", { model: "gpt-4", messages: [{ role: "system" }, ...user("hi")] }, "messages|content"],
    ["assistant without content or tool_calls", { model: "gpt-4", messages: [...user("a"), { role: "assistant" }, ...user("b")] }, "messages|content"],
    ["user message with content: null", { model: "gpt-4", messages: [{ role: "user", content: null }] }, "messages|content"],
    ["assistant with content: null and tool_calls: []", { model: "gpt-4", messages: [...user("a"), { role: "assistant", content: null, tool_calls: [] }, ...user("b")] }, "messages|content"],
    ["tool message without tool_call_id", { model: "gpt-4", tools: [WEATHER_TOOL], messages: [...user("weather?"), { role: "assistant", content: null, tool_calls: [call] }, { role: "tool", content: "sunny" }] }, "messages|tool_call_id"],
    ["assistant tool_call without id", { model: "gpt-4", tools: [WEATHER_TOOL], messages: [...user("weather?"), { role: "assistant", content: null, tool_calls: [{ type: "function", function: call.function }] }, { role: "tool", tool_call_id: "call_1", content: "sunny" }] }, "messages|tool_calls|id"],
    ["assistant tool_call without function", { model: "gpt-4", tools: [WEATHER_TOOL], messages: [...user("weather?"), { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function" }] }, { role: "tool", tool_call_id: "call_1", content: "sunny" }] }, "messages|tool_calls|function"],
    ["assistant tool_calls: {}", { model: "gpt-4", tools: [WEATHER_TOOL], messages: [...user("weather?"), { role: "assistant", content: null, tool_calls: {} }] }, "messages|tool_calls"],
  ];
  // Sent to a legacy tool model (llama 3.3: Workers AI wants arguments as an object, so the gateway
  // has to parse them) and to native ones (qwen3, mistral).
  const notJson = (model) => ({
    model,
    tools: [WEATHER_TOOL],
    messages: [...user("weather?"), { role: "assistant", content: null, tool_calls: [{ ...call, function: { name: "get_weather", arguments: "{not json" } }] }, { role: "tool", tool_call_id: "call_1", content: "sunny" }],
  });

  group("empty / unknown role / missing content / tool-message errors → 400 naming messages (chat, chat stream, responses)", () => [
    ...cases.map(([label, body, field, bug]) => [`chat ${label}`, () => send("/v1/chat/completions", { body }), { statuses: [400], mention: new RegExp(field) }, bug]),
    ...cases.map(([label, body, field, bug]) => [`chat stream ${label}`, () => send("/v1/chat/completions", { body: { ...body, stream: true } }), { statuses: [400], mention: new RegExp(field) }, bug]),
    ["responses input: []", () => send("/v1/responses", { body: { model: "gpt-4", input: [] } }), { statuses: [400], mention: /input/ }],
    ["responses role wizard", () => send("/v1/responses", { body: { model: "gpt-4", input: [{ role: "wizard", content: "hi" }] } }), { statuses: [400], mention: /input|role|wizard/ }],
    ["responses message without content", () => send("/v1/responses", { body: { model: "gpt-4", input: [{ role: "user" }] } }), { statuses: [400], param: "input[0].content", code: "missing_required_parameter" }],
    ["responses assistant message without content, after instructions", () => send("/v1/responses", { body: { model: "gpt-4", instructions: "Be brief", input: [{ role: "user", content: "hi" }, { type: "message", role: "assistant" }] } }), { statuses: [400], param: "input[1].content", code: "missing_required_parameter" }],
    ["responses function_call without call_id", () => send("/v1/responses", { body: { model: "gpt-4", input: [{ role: "user", content: "hi" }, { type: "function_call", name: "get_weather", arguments: "{}" }] } }), { statuses: [400], param: "input[1].call_id" }],
    ["responses function_call_output without call_id", () => send("/v1/responses", { body: { model: "gpt-4", input: [{ role: "user", content: "hi" }, { type: "function_call_output", output: "sunny" }] } }), { statuses: [400], mention: /input|call_id/ }],
    ["responses unknown item type", () => send("/v1/responses", { body: { model: "gpt-4", input: [{ type: "hologram" }] } }), { statuses: [400], mention: /input|type|hologram/ }],
  ]);

  // Historical arguments are the model's own (possibly truncated) output: OpenAI does not reject
  // them, and clients rely on replaying such a turn with an error tool result so the model can
  // correct itself (a strict 400 would poison the conversation). So either is acceptable here:
  // served (the gateway's choice: 200) or a clear 400 naming the arguments; never a 5xx.
  group("an assistant tool_call whose arguments are not JSON: served, or a clear 400 naming the arguments; never a 5xx", () =>
    ["@cf/meta/llama-3.3-70b-instruct-fp8-fast", "gpt-4", "mistral"].flatMap((model) => [false, true].map((stream) => [
      `chat ${model}${stream ? " stream" : ""} arguments "{not json"`, () => send("/v1/chat/completions", { body: { ...notJson(model), stream } }), { statuses: [400], mention: /arguments|JSON/, allowOk: true },
    ])));
});

describe("absurd parameters", () => {
  const chat = VALID["/v1/chat/completions"];
  const at = (path, extra) => ({ ...VALID[path], ...extra });
  group("n 1000, max_tokens 10^9, temperature 100, top_p -1, 50 stop strings, … → 400 naming the parameter", () => [
    ...[
      ["n: 1000", { n: 1000 }, "\\bn\\b"],
      ["max_tokens: 10^9", { max_tokens: 1e9 }, "max_tokens"],
      ["max_completion_tokens: 10^9", { max_completion_tokens: 1e9 }, "max_completion_tokens"],
      ["temperature: 100", { temperature: 100 }, "temperature"],
      ["top_p: -1", { top_p: -1 }, "top_p"],
      ["stop: 50 strings", { stop: Array.from({ length: 50 }, (_, i) => `s${i}`) }, "stop"],
      ["logprobs, top_logprobs: 1000", { logprobs: true, top_logprobs: 1000 }, "top_logprobs"],
      ["presence_penalty: 1e9", { presence_penalty: 1e9 }, "presence_penalty"],
      ["seed: 1e300", { seed: 1e300 }, "seed"],
    ].map(([label, extra, field, bug]) => [`chat ${label}`, () => send("/v1/chat/completions", { body: { ...chat, ...extra } }), { statuses: [400], mention: new RegExp(field) }, bug]),
    ["completions n: 1000", () => send("/v1/completions", { body: at("/v1/completions", { n: 1000 }) }), { statuses: [400], mention: /\bn\b/ }],
    ["completions max_tokens: 10^9", () => send("/v1/completions", { body: at("/v1/completions", { max_tokens: 1e9 }) }), { statuses: [400], mention: /max_tokens/ }],
    ["completions temperature: 100", () => send("/v1/completions", { body: at("/v1/completions", { temperature: 100 }) }), { statuses: [400], mention: /temperature/ }],
    ["responses max_output_tokens: 10^9", () => send("/v1/responses", { body: at("/v1/responses", { max_output_tokens: 1e9 }) }), { statuses: [400], mention: /max_output_tokens/ }],
    ["responses top_logprobs: 1000", () => send("/v1/responses", { body: at("/v1/responses", { top_logprobs: 1000 }) }), { statuses: [400], param: "top_logprobs" }],
    ["completions logprobs: 100", () => send("/v1/completions", { body: at("/v1/completions", { logprobs: 100 }) }), { statuses: [400], param: "logprobs" }],
    ["responses temperature: 100", () => send("/v1/responses", { body: at("/v1/responses", { temperature: 100 }) }), { statuses: [400], mention: /temperature/ }],
    ["responses top_p: -1", () => send("/v1/responses", { body: at("/v1/responses", { top_p: -1 }) }), { statuses: [400], mention: /top_p/ }],
    ["images n: 1000", () => send("/v1/images/generations", { body: at("/v1/images/generations", { n: 1000 }) }), { statuses: [400], mention: /\bn\b/ }],
    ["speech speed: 100", () => send("/v1/audio/speech", { body: at("/v1/audio/speech", { speed: 100 }) }), { statuses: [400], mention: /speed/ }],
    ["embeddings 10 000 inputs", () => send("/v1/embeddings", { body: at("/v1/embeddings", { input: Array.from({ length: 10_000 }, () => "x") }) }), { statuses: [400], mention: /input/ }],
    ["embeddings dimensions: -5", () => send("/v1/embeddings", { body: at("/v1/embeddings", { dimensions: -5 }) }), { statuses: [400], mention: /dimensions/ }],
  ]);

  // Locally workerd sometimes resets a connection that is answered before the upload was read
  // (see gateway.test.mjs); retry a connection error a few times, then judge what came back.
  const retrying = (fn) => async () => {
    let r;
    for (let i = 0; i < 12; i++) {
      r = await fn();
      if (!r.error || !/ECONNRESET|EPIPE|other side closed|SocketError|UND_ERR/i.test(r.error)) break;
      await new Promise((res) => setTimeout(res, 20 * i));
    }
    return r;
  };

  group(`bodies over MAX_BODY_BYTES=${LIMIT} (200 KB, a 5 MB string) → 413 request_too_large on every endpoint`, () => {
    const big = (n) => "x ".repeat(n / 2);
    const cases = [];
    for (const path of JSON_PATHS) {
      const field = { "/v1/chat/completions": "messages", "/v1/completions": "prompt", "/v1/images/generations": "prompt" }[path] ?? "input";
      for (const [label, n] of [["200 KB", 200_000], ["5 MB string", 5_000_000]]) {
        const body = { ...VALID[path], [field]: field === "messages" ? user(big(n)) : big(n) };
        cases.push([`${path} ${label}`, retrying(() => send(path, { body, headers: { "content-type": "application/json", connection: "close" } })), { statuses: [413], code: "request_too_large", mention: new RegExp(String(LIMIT)) }]);
      }
    }
    cases.push([`${TRANSCRIBE} 200 KB file`, retrying(() => send(TRANSCRIBE, { body: audioForm({ model: "whisper-1" }, Buffer.alloc(200_000, 0x61)), headers: { connection: "close" } })), { statuses: [413], code: "request_too_large" }]);
    cases.push(["chat 200 KB chunked (no Content-Length)", retrying(() => {
      const bytes = new TextEncoder().encode(JSON.stringify({ ...VALID["/v1/chat/completions"], messages: user(big(200_000)) }));
      const body = new ReadableStream({ start(c) { for (let i = 0; i < bytes.length; i += 16_384) c.enqueue(bytes.slice(i, i + 16_384)); c.close(); } });
      return send("/v1/chat/completions", { body, headers: { "content-type": "application/json" } });
    }), { statuses: [413], code: "request_too_large" }]);
    return cases;
  }, { limit: 2 });

  test("Content-Length lying (bigger than the body, or smaller): a 4xx or a closed connection, never a 5xx or a hang", async (t) => {
    const p = problems();
    const { port, hostname } = new URL(gw.url);
    const body = JSON.stringify(VALID["/v1/chat/completions"]);
    /** Raw HTTP/1.1 over a socket; resolves with what came back before the close (or a hang). */
    const rawHttp = (contentLength, payload, { endWrite, waitMs }) => new Promise((resolve) => {
      const sock = net.connect(Number(port), hostname);
      let data = "";
      const t0 = Date.now();
      const timer = setTimeout(() => { sock.destroy(); resolve({ hang: true, ms: Date.now() - t0, data }); }, waitMs);
      sock.on("connect", () => {
        sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\nConnection: close\r\n\r\n${payload}`);
        if (endWrite) sock.end();
      });
      sock.on("data", (d) => { data += d; });
      const finish = () => { clearTimeout(timer); resolve({ ms: Date.now() - t0, data }); };
      sock.on("close", finish);
      sock.on("error", finish);
    });
    const judge = (label, r) => {
      const first = r.data.split("\r\n")[0];
      t.diagnostic(`${label}: ${r.hang ? "no answer yet" : "closed"} after ${r.ms} ms; ${first || "(no HTTP answer)"}`);
      if (r.hang) return p.add(label, `no answer and no close within ${r.ms} ms (got ${JSON.stringify(r.data.slice(0, 100))})`);
      if (!r.data) return; // closed without an answer: acceptable for a truncated upload
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(r.data);
      if (!m) return p.add(label, `not an HTTP answer: ${JSON.stringify(r.data.slice(0, 100))}`);
      const headEnd = r.data.indexOf("\r\n\r\n");
      const headers = new Headers(r.data.slice(0, headEnd).split("\r\n").slice(1).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]));
      let text = r.data.slice(headEnd + 4);
      if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
        let out = "";
        for (let rest = text; rest;) {
          const nl = rest.indexOf("\r\n");
          const size = parseInt(rest.slice(0, nl), 16);
          if (!size) break;
          out += rest.slice(nl + 2, nl + 2 + size);
          rest = rest.slice(nl + 2 + size + 2);
        }
        text = out;
      }
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      p.check(label, { status: Number(m[1]), headers, text, json, ms: r.ms });
    };
    const [bigger, biggerOpen, smaller] = await Promise.all([
      rawHttp(body.length + 5000, body, { endWrite: true, waitMs: 5000 }),
      rawHttp(body.length + 5000, body, { endWrite: false, waitMs: 2000 }),
      rawHttp(body.length - 10, body, { endWrite: true, waitMs: 5000 }),
    ]);
    judge("Content-Length 5000 bytes bigger than the body, then EOF", bigger);
    // The client keeps the socket open and never sends the rest: the server may rightly wait for
    // it, so a wait is not a failure; an answer, if any, is judged.
    if (biggerOpen.hang) t.diagnostic(`Content-Length bigger, socket left open: the server waits (as it may), ${biggerOpen.ms} ms`);
    else judge("Content-Length bigger, socket left open", biggerOpen);
    judge("Content-Length 10 bytes smaller than the body (truncated JSON)", smaller);
    p.done();
  });
});

describe("hostile JSON", () => {
  const DEPTH = 10_000;
  const arrays = "[".repeat(DEPTH) + "]".repeat(DEPTH);
  const objects = '{"a":'.repeat(DEPTH) + "1" + "}".repeat(DEPTH);
  const J = { "content-type": "application/json" };
  group("10 000 levels of nesting → 400 (or ignored in an unknown field), the instance survives", () => [
    ...JSON_PATHS.flatMap((path) => {
      const valid = JSON.stringify(VALID[path]);
      return [
        [`${path} top-level [[[…]]]`, () => send(path, { body: arrays, headers: J }), { statuses: [400] }],
        [`${path} nested objects at top level`, () => send(path, { body: objects, headers: J }), { statuses: [400] }],
        // An unknown field is skipped by the gateway; accepting the request is fine, crashing is not.
        [`${path} deep array in an unknown field`, () => send(path, { body: `${valid.slice(0, -1)},"extra":${arrays}}`, headers: J }), { statuses: [400], allowOk: true }],
      ];
    }),
    ["chat deep messages", () => send("/v1/chat/completions", { body: `{"model":"gpt-4","messages":${arrays}}`, headers: J }), { statuses: [400], mention: /messages/ }],
    ["chat deep content", () => send("/v1/chat/completions", { body: `{"model":"gpt-4","messages":[{"role":"user","content":${arrays}}]}`, headers: J }), { statuses: [400], mention: /messages|content/ }],
    ["chat deep tool parameters", () => send("/v1/chat/completions", { body: `{"model":"gpt-4","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${objects}}}]}`, headers: J }), { statuses: [400] }],
  ], {
    limit: 4,
    after: async (p) => {
      const alive = await send("/health", { method: "GET", auth: false });
      if (alive.status !== 200) p.add("health after deep JSON", `status ${alive.status} ${alive.error ?? ""}`);
    },
  });

  group("invalid UTF-8 inside a JSON string → 400", () => {
    const enc = new TextEncoder();
    const bytes = (path) => {
      const valid = JSON.stringify(VALID[path]);
      const field = { "/v1/chat/completions": '"content":"', "/v1/completions": '"prompt":"', "/v1/images/generations": '"prompt":"' }[path] ?? '"input":"';
      const at = valid.indexOf(field) + field.length;
      return new Uint8Array([...enc.encode(valid.slice(0, at)), 0x68, 0xff, 0xfe, 0x69, 0xc3, ...enc.encode(valid.slice(at))]);
    };
    return JSON_PATHS.map((path) => [`${path} 0xff 0xfe in a string`, () => send(path, { body: bytes(path), headers: J }), { statuses: [400], mention: /utf-?8|encod|invalid|unicode/i }]);
  });
});

describe("content types", () => {
  test("text/plain with a JSON body: served (as OpenAI does) or a clear 4xx, never a 5xx", async (t) => {
    const p = problems();
    const seen = [];
    await runCases(p, JSON_PATHS.map((path) => [`${path} text/plain`, async () => {
      const r = await send(path, { body: JSON.stringify(VALID[path]), headers: { "content-type": "text/plain" } });
      seen.push(`${path} ${r.status ?? r.error}`);
      return r;
    }, { statuses: [400, 415], allowOk: true }]));
    t.diagnostic(`text/plain JSON bodies: ${seen.sort().join(", ")}`);
    p.done();
  });

  group("multipart or form-urlencoded sent to a JSON endpoint → 4xx (400 or 415)", () =>
    JSON_PATHS.flatMap((path) => {
      const fd = new FormData();
      for (const [k, v] of Object.entries(VALID[path])) fd.append(k, typeof v === "string" ? v : JSON.stringify(v));
      return [
        [`${path} multipart`, () => send(path, { body: fd }), { statuses: [400, 415], mention: /json|content-type|multipart|body/i }],
        [`${path} form-urlencoded`, () => send(path, { body: "model=gpt-4&input=hi", headers: { "content-type": "application/x-www-form-urlencoded" } }), { statuses: [400, 415], mention: /json|content-type|body/i }],
      ];
    }));

  group("transcriptions: JSON, broken multipart, no file, form-urlencoded → 400 saying what is wrong", () => {
    const B = "XyZbOuNdArY42";
    const MP = { "content-type": `multipart/form-data; boundary=${B}` };
    const good = [{ name: "model", value: "whisper-1" }, { name: "file", value: "hello there", filename: "a.mp3", type: "audio/mpeg" }];
    return [
      ["JSON body", () => send(TRANSCRIBE, { body: { model: "whisper-1", file: "aGVsbG8=" } }), { statuses: [400, 415], mention: /multipart/ }],
      ["multipart, boundary in the header differs from the body", () => send(TRANSCRIBE, { body: multipart(good, B), headers: { "content-type": "multipart/form-data; boundary=OtherBoundary" } }), { statuses: [400], mention: /multipart|form|file|boundary/i }],
      ["multipart without a boundary parameter", () => send(TRANSCRIBE, { body: multipart(good, B), headers: { "content-type": "multipart/form-data" } }), { statuses: [400], mention: /multipart|form|boundary/i }],
      ["multipart truncated mid-part", () => send(TRANSCRIBE, { body: multipart(good, B).slice(0, 150), headers: MP }), { statuses: [400], mention: /multipart|form|file/i }],
      // The parts are complete; only the final `--B--` is missing. Lenient parsers accept it.
      ["multipart without the closing boundary", () => send(TRANSCRIBE, { body: multipart(good, B, { close: false }), headers: MP }), { statuses: [400], mention: /multipart|form|file/i, allowOk: true }],
      ["multipart garbage", () => send(TRANSCRIBE, { body: "this is not multipart at all", headers: MP }), { statuses: [400], mention: /multipart|form|file/i }],
      ["multipart empty body", () => send(TRANSCRIBE, { body: "", headers: MP }), { statuses: [400], mention: /multipart|form|file/i }],
      ["multipart without file", () => send(TRANSCRIBE, { body: audioForm({ model: "whisper-1" }, null) }), { statuses: [400], param: "file", mention: /file/ }],
      // `file` as a plain text field (no filename): OpenAI wants an upload; accepting the text as bytes is lenient but fine.
      ["multipart with file as a text field", () => send(TRANSCRIBE, { body: multipart([{ name: "model", value: "whisper-1" }, { name: "file", value: "hello" }], B), headers: MP }), { statuses: [400], param: "file", mention: /file/, allowOk: true }],
      ["form-urlencoded", () => send(TRANSCRIBE, { body: "model=whisper-1&file=hello", headers: { "content-type": "application/x-www-form-urlencoded" } }), { statuses: [400, 415], mention: /multipart/ }],
      ["no content-type", () => send(TRANSCRIBE, { body: "hello", headers: {} }), { statuses: [400, 415], mention: /multipart/ }],
      ["temperature: hot", () => send(TRANSCRIBE, { body: audioForm({ model: "whisper-1", temperature: "hot" }) }), { statuses: [400], mention: /temperature/ }],
      ["timestamp_granularities[]: century", () => send(TRANSCRIBE, { body: audioForm({ model: "whisper-1", response_format: "verbose_json", "timestamp_granularities[]": "century" }) }), { statuses: [400], mention: /timestamp_granularities/ }],
      ["temperature: 5", () => send(TRANSCRIBE, { body: audioForm({ model: "whisper-1", temperature: "5" }) }), { statuses: [400], param: "temperature" }],
    ].map(([label, fn, opts, bug]) => [`${TRANSCRIBE} ${label}`, fn, opts, bug]);
  });
});

describe("models, routes, methods, auth", () => {
  group("unknown model names and non-existent @cf/ ids → 404 model_not_found on every endpoint", () => {
    const cases = [];
    for (const path of JSON_PATHS) {
      for (const model of ["gpt-17", "no-such-model", "@cf/meta/not-a-model", "@cf/nobody/nothing-v1", "@hf/nobody/nothing"]) {
        cases.push([`${path} model ${model}`, () => send(path, { body: { ...VALID[path], model } }), { statuses: [404], code: "model_not_found", param: "model", mention: new RegExp(model.replace(/[.@/]/g, "\\$&")) }]);
      }
    }
    for (const path of ["/v1/chat/completions", "/v1/completions", "/v1/responses"]) {
      cases.push([`${path} stream model @cf/meta/not-a-model`, () => send(path, { body: { ...VALID[path], model: "@cf/meta/not-a-model", stream: true } }), { statuses: [404], code: "model_not_found", param: "model" }]);
    }
    for (const model of ["whisper-17", "@cf/openai/not-whisper"]) {
      cases.push([`${TRANSCRIBE} model ${model}`, () => send(TRANSCRIBE, { body: audioForm({ model }) }), { statuses: [404], code: "model_not_found", param: "model" }]);
    }
    return cases;
  });

  group("wrong methods → 405 with an Allow header; unknown paths → 404 unknown_url", () => {
    const cases = [];
    for (const path of ALL_POST_PATHS) {
      for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
        cases.push([`${method} ${path}`, async () => {
          const r = await send(path, { method, body: method === "GET" ? undefined : "{}" });
          if (!r.error && r.status === 405 && !/\bPOST\b/.test(r.headers.get("allow") ?? "")) {
            return { ...r, status: 499, text: `405 without Allow: POST (Allow ${JSON.stringify(r.headers.get("allow"))})` };
          }
          return r;
        }, { statuses: [405], code: "method_not_allowed", mention: new RegExp(method) }]);
      }
    }
    for (const [method, path] of [["POST", "/v1/chat/completion"], ["POST", "/v1/chat"], ["GET", "/v1/nothing"], ["POST", "/v1/embeddings/x"], ["POST", "/v2/chat/completions"], ["POST", "/v1//chat/completions"], ["GET", "/%ff%fe"], ["POST", "/v1/audio/transcriptions/../../x"], ["GET", `/v1/${"a/".repeat(2000)}`]]) {
      cases.push([`${method} ${path.slice(0, 60)}`, () => send(path, { method, body: method === "GET" ? undefined : VALID["/v1/chat/completions"] }), { statuses: [404], code: "unknown_url" }]);
    }
    return cases;
  });

  group("missing or invalid key → 401 invalid_api_key on every endpoint (before the body is judged)", () =>
    ALL_POST_PATHS.flatMap((path) => {
      const body = () => (path === TRANSCRIBE ? audioForm({ model: "whisper-1" }) : VALID[path]);
      return [
        [`${path} no key`, () => send(path, { body: body(), auth: false }), { statuses: [401], code: "invalid_api_key" }],
        [`${path} wrong key`, () => send(path, { body: body(), auth: false, headers: { authorization: "Bearer sk-wrong" } }), { statuses: [401], code: "invalid_api_key" }],
        [`${path} no key, malformed body`, () => send(path, { body: "{", auth: false, headers: { "content-type": "application/json" } }), { statuses: [401], code: "invalid_api_key" }],
        [`${path} no key, oversized body`, () => send(path, { body: "x".repeat(200_000), auth: false, headers: { "content-type": "application/json", connection: "close" } }), { statuses: [401, 413] }],
      ];
    }));
});

test("valid values next to those checks are still served (200)", async () => {
  const C = "/v1/chat/completions";
  const R = "/v1/responses";
  const S = "/v1/audio/speech";
  const call = { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } };
  const withTool = (extra) => ({ ...VALID[C], model: "gpt-4", messages: user("weather? [[emu:tokens=2]] [[emu:no_reasoning]]"), tools: [WEATHER_TOOL], ...extra });
  const respTool = (extra) => ({ ...VALID[R], tools: [{ type: "function", ...WEATHER_TOOL.function }], ...extra });
  const cases = [
    // Generous limits are lowered to the model's own: many tools send these for any model.
    ["chat max_tokens 32768", C, { ...VALID[C], max_tokens: 32768 }],
    ["chat max_completion_tokens 1000000 (the most)", C, { ...VALID[C], max_completion_tokens: 1_000_000 }],
    ["completions max_tokens 32768", "/v1/completions", { ...VALID["/v1/completions"], max_tokens: 32768 }],
    ["responses max_output_tokens 32768", R, { ...VALID[R], max_output_tokens: 32768 }],
    ["chat logprobs true, top_logprobs 20", C, { ...VALID[C], logprobs: true, top_logprobs: 20 }],
    ["completions logprobs 5", "/v1/completions", { ...VALID["/v1/completions"], logprobs: 5 }],
    ["responses top_logprobs 0", R, { ...VALID[R], top_logprobs: 0 }],
    ["assistant content null beside tool_calls, then the tool result", C, withTool({ messages: [...user("weather? [[emu:tokens=2]] [[emu:no_reasoning]]"), { role: "assistant", content: null, tool_calls: [call] }, { role: "tool", tool_call_id: "call_1", content: "sunny" }] })],
    ["empty-string contents", C, { model: "gpt-3.5-turbo", messages: [{ role: "system", content: "" }, ...user("a"), { role: "assistant", content: "" }, ...user("b [[emu:tokens=2]]")] }],
    ...["none", "auto", "required", null].map((choice) => [`tool_choice ${JSON.stringify(choice)}`, C, withTool({ tool_choice: choice })]),
    ["tool_choice naming a function", C, withTool({ tool_choice: { type: "function", function: { name: "get_weather" } } })],
    ["tool_choice allowed_tools", C, withTool({ tool_choice: { type: "allowed_tools", allowed_tools: { mode: "auto", tools: [{ type: "function", function: { name: "get_weather" } }] } } })],
    ["responses tool_choice {type: function, name}", R, respTool({ tool_choice: { type: "function", name: "get_weather" } })],
    ["responses tool_choice required", R, respTool({ tool_choice: "required" })],
    ["speech voice nova, speed 4", S, { ...VALID[S], voice: "nova", speed: 4 }],
    ["speech custom voice {id}, speed 0.25", S, { ...VALID[S], voice: { id: "voice_1234" }, speed: 0.25 }],
    ["UTF-8 text beyond ASCII", C, { ...VALID[C], messages: user("héllo 日本 🙂 [[emu:tokens=2]]") }],
  ];
  const results = await Promise.all([
    ...cases.map(async ([label, path, body]) => [label, await send(path, { body })]),
    (async () => ["a UTF-8 byte-order mark before the JSON", await send(C, { body: `\ufeff${JSON.stringify(VALID[C])}`, headers: { "content-type": "application/json" } })])(),
    (async () => ["transcription temperature 0.2, timestamp_granularities[] word", await send(TRANSCRIBE, { body: audioForm({ model: "whisper-1", temperature: "0.2", response_format: "verbose_json", "timestamp_granularities[]": "word" }) })])(),
  ]);
  const failed = results.filter(([, r]) => r.status !== 200).map(([label, r]) => `${label}: ${r.status ?? r.error} ${(r.text ?? "").slice(0, 200)}`);
  assert.deepEqual(failed, []);
});

test("after all of that, the same instance still serves chat, a stream and embeddings", async () => {
  const ai = client(gw);
  const r = await ai.chat.completions.create({ model: "gpt-4", messages: user("still alive? [[emu:tokens=2]] [[emu:no_reasoning]]") });
  schema("CreateChatCompletionResponse", r);
  assert.equal(r.choices[0].message.content, "w1 w2");
  const s = await rawStream(gw, { model: "gpt-3.5-turbo", messages: user("stream alive [[emu:tokens=3]]") });
  assert.equal(s.status, 200);
  assert.ok(s.done, "the stream ends with [DONE]");
  assert.equal(checkChunks(s.chunks, { model: "gpt-3.5-turbo" }).content, "w1 w2 w3");
  const e = await ai.embeddings.create({ model: "text-embedding-3-small", input: ["alive", "still"] });
  assert.equal(e.data.length, 2);
  assert.ok(e.data[0].embedding.length > 0);
  // Every valid base body used above does succeed, so the 4xx answers were caused by the defect.
  for (const [path, body] of Object.entries(VALID)) {
    const res = await send(path, { body });
    assert.equal(res.status, 200, `${path}: ${res.error ?? res.text?.slice(0, 200)}`);
  }
  const t = await send(TRANSCRIBE, { body: audioForm({ model: "whisper-1" }) });
  assert.equal(t.status, 200, t.text);
});
