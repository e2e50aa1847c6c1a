// End-to-end: POST /v1/chat/completions through the official `openai` npm SDK (and raw fetch
// where the wire format matters), against the built worker in workerd with the Workers AI emulator.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  OpenAI, startGateway, client, schema, user, raw, rawJson, rawStream, checkChunks, normalizeChunks,
  checkErrorBody, thrown, openapiAvailable, openapiSkipReason, API_KEYS, KEY, WEATHER_TOOL, TIME_TOOL,
} from "./_support.mjs";

const LEGACY = "gpt-3.5-turbo"; // -> @cf/meta/llama-3-8b-instruct (legacy family, no tools)
const NATIVE = "gpt-4"; // -> @cf/qwen/qwen3-30b-a3b-fp8 (OpenAI-native family, reasoning_content)
const LLAMA_TOOLS = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"; // legacy family with tools

let gw;
let ai;
before(async () => {
  gw = await startGateway({ bindings: { API_KEYS } });
  ai = client(gw);
});
after(async () => {
  await gw?.dispose();
});

test("OpenAI OpenAPI spec is available for schema validation", { skip: !openapiAvailable && openapiSkipReason }, () => {
  assert.ok(openapiAvailable);
});

/** Non-stream chat via the SDK, with the schema check and common invariants. */
async function chat(params, label = params.model) {
  const { data, response } = await ai.chat.completions.create(params).withResponse();
  schema("CreateChatCompletionResponse", data, label);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type"), /application\/json/);
  assert.ok(response.headers.get("x-request-id"), `${label}: x-request-id header`);
  assert.equal(data.object, "chat.completion");
  assert.match(data.id, /^chatcmpl-/);
  assert.equal(data.model, params.model, `${label}: model echoes the requested name`);
  assert.equal(typeof data.created, "number");
  assert.equal(data.choices.length, 1);
  assert.equal(data.choices[0].index, 0);
  assert.equal(data.choices[0].message.role, "assistant");
  const u = data.usage;
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens, `${label}: usage total`);
  return data;
}

/** Streamed chat via the SDK iterator; returns the raw chunks and the folded result. */
async function sdkStream(params, label = params.model) {
  const stream = await ai.chat.completions.create({ ...params, stream: true });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const folded = checkChunks(chunks, {
    model: params.model,
    includeUsage: !!params.stream_options?.include_usage,
    label,
  });
  return { chunks, ...folded };
}

describe("plain chat", () => {
  test("legacy family (gpt-3.5-turbo): content, finish stop, usage", async () => {
    const r = await chat({ model: LEGACY, messages: user("Hello there, gateway") });
    const m = r.choices[0].message;
    assert.equal(m.content, "Emulated answer from llama-3-8b-instruct. You said: Hello there, gateway");
    assert.equal(r.choices[0].finish_reason, "stop");
    assert.equal(m.reasoning_content, undefined, "legacy llama has no reasoning");
    assert.equal(m.tool_calls, undefined);
    assert.equal(r.usage.prompt_tokens, 3);
  });

  test("OpenAI-native family (gpt-4): content, reasoning_content, finish stop", async () => {
    const r = await chat({
      model: NATIVE,
      messages: [{ role: "system", content: "Be brief." }, ...user("Hello there, gateway")],
    });
    const m = r.choices[0].message;
    assert.equal(m.content, "Emulated answer from qwen3-30b-a3b-fp8. You said: Hello there, gateway");
    assert.equal(typeof m.reasoning_content, "string");
    assert.ok(m.reasoning_content.length > 0, "gpt-4 (qwen3) carries reasoning_content");
    assert.equal(r.choices[0].finish_reason, "stop");
    assert.equal(r.usage.prompt_tokens, 5, "system + user words");
  });

  test("a Workers AI id as model is echoed verbatim", async () => {
    const r = await chat({ model: "@cf/meta/llama-3-8b-instruct", messages: user("hi [[emu:tokens=2]]") });
    assert.equal(r.choices[0].message.content, "w1 w2");
  });

  test("multi-turn conversation and content parts are accepted", async () => {
    const r = await chat({
      model: NATIVE,
      messages: [
        { role: "developer", content: "Answer in English." },
        { role: "user", content: "first question" },
        { role: "assistant", content: "first answer" },
        { role: "user", content: [{ type: "text", text: "second" }, { type: "text", text: "question" }] },
      ],
    });
    assert.match(r.choices[0].message.content, /You said: second\s+question$/);
  });

  test("reasoning can be switched off (no_reasoning)", async () => {
    const r = await chat({ model: NATIVE, messages: user("hi [[emu:no_reasoning]] [[emu:tokens=2]]") });
    assert.equal(r.choices[0].message.content, "w1 w2");
    assert.ok(!r.choices[0].message.reasoning_content, "no reasoning when turned off");
  });

  test("the /v1 prefix is optional (SDK with baseURL without /v1)", async () => {
    const c = new OpenAI({ apiKey: "sk-test-abc123", baseURL: gw.url, maxRetries: 0 });
    const r = await c.chat.completions.create({ model: LEGACY, messages: user("hi [[emu:tokens=2]]") });
    schema("CreateChatCompletionResponse", r);
    assert.equal(r.choices[0].message.content, "w1 w2");
  });
});

describe("streaming", () => {
  for (const model of [LEGACY, NATIVE]) {
    test(`${model}: SDK stream folds to the non-stream answer`, async () => {
      const messages = user("Tell me something nice");
      const full = await chat({ model, messages });
      const s = await sdkStream({ model, messages });
      assert.ok(s.chunks.length >= 3, "several chunks");
      assert.equal(s.role, "assistant");
      assert.equal(s.content, full.choices[0].message.content);
      assert.equal(s.reasoning, full.choices[0].message.reasoning_content ?? "");
      assert.equal(s.finish, "stop");
      for (const c of s.chunks) assert.ok(c.usage == null, "no usage without include_usage");
    });

    test(`${model}: raw SSE wire format`, async () => {
      const r = await rawStream(gw, { model, messages: user("hi [[emu:tokens=4]]") });
      assert.equal(r.status, 200);
      assert.match(r.headers.get("content-type"), /^text\/event-stream/);
      assert.ok(r.headers.get("x-request-id"));
      assert.ok(r.done, "stream ends with data: [DONE]");
      assert.deepEqual(r.afterDone, [], "nothing after [DONE]");
      assert.ok(r.text.trimEnd().endsWith("data: [DONE]"));
      for (const ev of r.events) assert.equal(ev.event, undefined, "chat streams use unnamed events");
      assert.ok(/^data: /.test(r.text), "first line is a data: line");
      const s = checkChunks(r.chunks, { model, label: `${model} raw` });
      assert.equal(s.content, "w1 w2 w3 w4");
      assert.equal(s.finish, "stop");
    });

    test(`${model}: stream_options.include_usage adds a final usage chunk with choices: []`, async () => {
      const messages = user("count words here [[emu:tokens=3]]");
      const full = await chat({ model, messages });
      const s = await sdkStream({ model, messages, stream_options: { include_usage: true } });
      const last = s.chunks.at(-1);
      assert.deepEqual(last.choices, []);
      assert.deepEqual(s.usage, full.usage, "streamed usage equals the non-stream usage");
      for (const c of s.chunks.slice(0, -1)) assert.ok(c.usage == null, "usage only on the last chunk");
      // raw: the usage chunk is right before [DONE]
      const r = await rawStream(gw, { model, messages, stream_options: { include_usage: true } });
      assert.ok(r.done);
      assert.deepEqual(r.chunks.at(-1).choices, []);
      checkChunks(r.chunks, { model, includeUsage: true, label: `${model} raw usage` });
    });
  }

  test("gpt-4 streams reasoning_content deltas before content", async () => {
    const s = await sdkStream({ model: NATIVE, messages: user("think first") });
    const kinds = s.chunks.map((c) => c.choices[0]?.delta).filter(Boolean)
      .map((d) => (d.reasoning_content ? "r" : d.content ? "c" : "-")).join("");
    assert.match(kinds, /^r+c+-*$/, `reasoning then content, got ${kinds}`);
    assert.ok(s.reasoning.length > 0);
    assert.match(s.content, /You said: think first$/);
  });

  test("the SDK stream helper (chat.completions.stream) gives the final completion", async () => {
    const runner = ai.chat.completions.stream({ model: NATIVE, messages: user("helper [[emu:tokens=3]] [[emu:no_reasoning]]") });
    const deltas = [];
    runner.on("content", (delta) => deltas.push(delta));
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0].message.content, "w1 w2 w3");
    assert.equal(final.choices[0].finish_reason, "stop");
    assert.equal(deltas.join(""), "w1 w2 w3");
  });
});

describe("finish_reason length", () => {
  const cases = [
    [LEGACY, { max_tokens: 3 }, ""],
    [NATIVE, { max_tokens: 3 }, " [[emu:no_reasoning]]"],
    [NATIVE, { max_completion_tokens: 3 }, " [[emu:no_reasoning]]"],
  ];
  for (const [model, limit, extra] of cases) {
    const label = `${model} ${Object.keys(limit)[0]}=3`;
    test(`${label}: non-stream and stream stop at the limit with finish_reason length`, async () => {
      const messages = user(`go [[emu:tokens=10]]${extra}`);
      const r = await chat({ model, messages, ...limit }, label);
      assert.equal(r.choices[0].message.content, "w1 w2 w3");
      assert.equal(r.choices[0].finish_reason, "length");
      assert.equal(r.usage.completion_tokens, 3);
      const s = await sdkStream({ model, messages, ...limit, stream_options: { include_usage: true } }, label);
      assert.equal(s.content, "w1 w2 w3");
      assert.equal(s.finish, "length");
      assert.equal(s.usage.completion_tokens, 3);
    });
  }

  test("tokens below the limit finish with stop", async () => {
    const r = await chat({ model: LEGACY, messages: user("go [[emu:tokens=3]]"), max_tokens: 5 });
    assert.equal(r.choices[0].finish_reason, "stop");
    assert.equal(r.choices[0].message.content, "w1 w2 w3");
  });
});

describe("tool calls", () => {
  for (const model of [NATIVE, LLAMA_TOOLS]) {
    test(`${model}: non-stream tool call`, async () => {
      const r = await chat({ model, tools: [WEATHER_TOOL], messages: user("Weather in Paris? [[emu:tool]]") });
      const ch = r.choices[0];
      assert.equal(ch.finish_reason, "tool_calls");
      assert.ok(ch.message.content === null || ch.message.content === "", "no text with a pure tool call");
      assert.equal(ch.message.tool_calls.length, 1);
      const tc = ch.message.tool_calls[0];
      assert.equal(typeof tc.id, "string");
      assert.ok(tc.id.length > 0);
      assert.equal(tc.type, "function");
      assert.equal(tc.function.name, "get_weather");
      assert.equal(typeof tc.function.arguments, "string", "arguments is a JSON string");
      assert.deepEqual(JSON.parse(tc.function.arguments), { location: "Paris" });
    });

    test(`${model}: streamed tool call (SDK iterator and stream helper)`, async () => {
      const params = { model, tools: [WEATHER_TOOL], messages: user("Weather in Paris? [[emu:tool]] [[emu:no_reasoning]]") };
      const s = await sdkStream(params);
      assert.equal(s.finish, "tool_calls");
      assert.equal(s.toolCalls.length, 1);
      assert.equal(s.toolCalls[0].name, "get_weather");
      assert.deepEqual(JSON.parse(s.toolCalls[0].arguments), { location: "Paris" });
      assert.equal(s.content, "");

      const final = await ai.chat.completions.stream(params).finalChatCompletion();
      const m = final.choices[0].message;
      assert.equal(final.choices[0].finish_reason, "tool_calls");
      assert.equal(m.tool_calls.length, 1);
      assert.ok(m.tool_calls[0].id);
      assert.equal(m.tool_calls[0].type, "function");
      assert.equal(m.tool_calls[0].function.name, "get_weather");
      assert.equal(typeof m.tool_calls[0].function.arguments, "string");
      assert.deepEqual(JSON.parse(m.tool_calls[0].function.arguments), { location: "Paris" });
    });

    test(`${model}: two parallel tool calls, stream and non-stream agree`, async () => {
      const params = { model, tools: [WEATHER_TOOL, TIME_TOOL], messages: user("both [[emu:tools=2]] [[emu:no_reasoning]]") };
      const r = await chat(params);
      const calls = r.choices[0].message.tool_calls;
      assert.equal(r.choices[0].finish_reason, "tool_calls");
      assert.deepEqual(calls.map((c) => c.function.name), ["get_weather", "get_time"]);
      assert.notEqual(calls[0].id, calls[1].id, "distinct tool call ids");
      const s = await sdkStream(params);
      assert.equal(s.finish, "tool_calls");
      assert.deepEqual(s.toolCalls.map((c) => [c.name, JSON.parse(c.arguments)]),
        calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]));
      assert.notEqual(s.toolCalls[0].id, s.toolCalls[1].id);
    });

    test(`${model}: full tool loop (call -> role:"tool" result -> answer), non-stream and stream`, async () => {
      const messages = user("What is the weather in Paris? [[emu:tool]]");
      const first = await chat({ model, tools: [WEATHER_TOOL], messages });
      const call = first.choices[0].message.tool_calls[0];
      const args = JSON.parse(call.function.arguments);
      const result = `sunny, 21C in ${args.location}`;
      const followUp = [
        ...messages,
        first.choices[0].message, // the assistant message exactly as returned (tool_calls, content null/"")
        { role: "tool", tool_call_id: call.id, content: result },
      ];
      const second = await chat({ model, tools: [WEATHER_TOOL], messages: followUp });
      assert.equal(second.choices[0].finish_reason, "stop");
      assert.equal(second.choices[0].message.content, `Tool result received: ${result}`);
      assert.equal(second.choices[0].message.tool_calls, undefined);
      const s = await sdkStream({ model, tools: [WEATHER_TOOL], messages: followUp });
      assert.equal(s.finish, "stop");
      assert.equal(s.content, `Tool result received: ${result}`);
    });
  }

  test("gpt-4: text and a tool call in the same streamed answer", async () => {
    const s = await sdkStream({ model: NATIVE, tools: [WEATHER_TOOL], messages: user("x [[emu:text_and_tool]] [[emu:tokens=2]] [[emu:no_reasoning]]") });
    assert.equal(s.content, "w1 w2");
    assert.equal(s.toolCalls.length, 1);
    assert.equal(s.finish, "tool_calls");
  });

  test("gpt-4: tool_choice none blocks the call", {
  }, async () => {
    const r = await chat({ model: NATIVE, tools: [WEATHER_TOOL], tool_choice: "none", messages: user("x [[emu:tool]] [[emu:tokens=2]]") });
    assert.equal(r.choices[0].finish_reason, "stop");
    assert.equal(r.choices[0].message.content, "w1 w2");
  });

  test("llama-3.3 upstream OpenAI-form tool calls (non-stream)", async () => {
    const r = await chat({ model: LLAMA_TOOLS, tools: [WEATHER_TOOL], messages: user("x [[emu:tool]] [[emu:tool_format=openai]]") });
    assert.equal(r.choices[0].finish_reason, "tool_calls");
    assert.deepEqual(JSON.parse(r.choices[0].message.tool_calls[0].function.arguments), { location: "Paris" });
  });

  test(
    "llama-3.3 upstream OpenAI-form tool calls (stream): argument fragments are accumulated",
    async () => {
      const s = await sdkStream({ model: LLAMA_TOOLS, tools: [WEATHER_TOOL], messages: user("x [[emu:tool]] [[emu:tool_format=openai]]") });
      assert.equal(s.finish, "tool_calls");
      assert.equal(s.toolCalls.length, 1);
      assert.deepEqual(JSON.parse(s.toolCalls[0].arguments), { location: "Paris" });
    },
  );
});

describe("stream robustness", () => {
  const variants = [
    ["legacy text", { model: LEGACY, messages: user("split me please [[emu:tokens=12]]") }],
    ["native text + reasoning", { model: NATIVE, messages: user("split me please") }],
    ["native tool call", { model: NATIVE, tools: [WEATHER_TOOL], messages: user("x [[emu:tool]]") }],
    ["llama tool call", { model: LLAMA_TOOLS, tools: [WEATHER_TOOL], messages: user("x [[emu:tool]]") }],
    ["legacy with usage", { model: LEGACY, messages: user("usage [[emu:tokens=5]]"), stream_options: { include_usage: true } }],
  ];
  for (const [name, body] of variants) {
    test(`chunk-split invariance: ${name} (default, chunk=1, chunk=7)`, async () => {
      const runs = {};
      for (const d of ["", " [[emu:chunk=1]]", " [[emu:chunk=7]]"]) {
        const messages = body.messages.map((m, i, a) => (i === a.length - 1 ? { ...m, content: m.content + d } : m));
        const r = await rawStream(gw, { ...body, messages });
        assert.equal(r.status, 200);
        assert.ok(r.done, `${name}${d}: [DONE]`);
        const folded = checkChunks(r.chunks, { model: body.model, includeUsage: !!body.stream_options, label: `${name}${d}` });
        runs[d || "default"] = { folded, norm: normalizeChunks(r.chunks) };
      }
      const base = runs.default;
      for (const k of [" [[emu:chunk=1]]", " [[emu:chunk=7]]"]) {
        assert.equal(runs[k].folded.content, base.folded.content, `${k}: same content`);
        assert.equal(runs[k].folded.reasoning, base.folded.reasoning, `${k}: same reasoning`);
        assert.equal(runs[k].folded.finish, base.folded.finish, `${k}: same finish_reason`);
        assert.deepEqual(runs[k].folded.toolCalls.map((t) => [t.name, t.arguments]), base.folded.toolCalls.map((t) => [t.name, t.arguments]));
        assert.deepEqual(runs[k].norm, base.norm, `${k}: same chunk sequence`);
      }
    });
  }

  test("chunk-split invariance through the SDK iterator (chunk=1)", async () => {
    const a = await sdkStream({ model: NATIVE, messages: user("sdk split [[emu:chunk=1]]") });
    const b = await sdkStream({ model: NATIVE, messages: user("sdk split") });
    assert.equal(a.content, b.content);
    assert.equal(a.reasoning, b.reasoning);
  });

  test("heartbeat comments and blank lines upstream do not leak into the stream", async () => {
    const r = await rawStream(gw, { model: LEGACY, messages: user("hb [[emu:heartbeat]] [[emu:tokens=3]]") });
    assert.ok(r.done);
    assert.equal(checkChunks(r.chunks, { model: LEGACY }).content, "w1 w2 w3");
  });

  for (const model of [NATIVE, LEGACY]) {
    test(`${model}: a non-stream (json_reply) upstream answer to stream:true still yields a proper stream`, async () => {
      const plain = await chat({ model, messages: user("json please [[emu:no_reasoning]]") });
      const messages = user("json please [[emu:json_reply]] [[emu:no_reasoning]]");
      const r = await rawStream(gw, { model, messages, stream_options: { include_usage: true } });
      assert.equal(r.status, 200);
      assert.match(r.headers.get("content-type"), /^text\/event-stream/);
      assert.ok(r.done, "ends with [DONE]");
      const s = checkChunks(r.chunks, { model, includeUsage: true, label: `${model} json_reply` });
      assert.equal(s.content, plain.choices[0].message.content);
      assert.equal(s.finish, "stop");
      assert.deepEqual(s.usage, plain.usage);
      const viaSdk = await sdkStream({ model, messages });
      assert.equal(viaSdk.content, plain.choices[0].message.content);
    });
  }

  test("gpt-4: json_reply with a tool call still streams the tool call", async () => {
    const s = await sdkStream({ model: NATIVE, tools: [WEATHER_TOOL], messages: user("x [[emu:json_reply]] [[emu:tool]]") });
    assert.equal(s.finish, "tool_calls");
    assert.deepEqual(JSON.parse(s.toolCalls[0].arguments), { location: "Paris" });
    assert.ok(s.reasoning.length > 0);
  });
});

describe("upstream error mapping (SDK error classes)", () => {
  const mapping = [
    [3040, OpenAI.RateLimitError, 429, "rate_limit_exceeded"],
    [3036, OpenAI.RateLimitError, 429, "rate_limit_exceeded"],
    [5007, OpenAI.NotFoundError, 404, "model_not_found"],
    [3042, OpenAI.NotFoundError, 404, "model_not_found"],
    [3006, OpenAI.APIError, 413, null],
    [3007, OpenAI.InternalServerError, 504, null],
    [3008, OpenAI.InternalServerError, 504, null],
    [3043, OpenAI.InternalServerError, 502, null], // an undocumented code -> 502
    [1000, OpenAI.InternalServerError, 502, null],
  ];
  for (const [code, cls, status, errCode] of mapping) {
    test(`Workers AI ${code} -> ${status} ${cls.name}`, async () => {
      for (const stream of [false, true]) {
        const err = await thrown(() => ai.chat.completions.create({ model: NATIVE, stream, messages: user(`hi [[emu:error=${code}]]`) }), `${code}`);
        assert.ok(err instanceof cls, `${code} stream=${stream}: expected ${cls.name}, got ${err?.constructor?.name}: ${err?.message}`);
        assert.equal(err.status, status);
        assert.equal(typeof err.error?.message, "string");
        assert.match(err.error.message, new RegExp(String(code)), "the message names the upstream code");
        if (errCode) assert.equal(err.code, errCode);
        if (status === 404) assert.equal(err.param, "model");
        if (status === 429) {
          const ra = err.headers.get("retry-after");
          assert.match(ra ?? "", /^\d+$/, "Retry-After is a number of seconds");
          assert.ok(Number(ra) > 0);
          assert.equal(err.type, "rate_limit_error");
        }
        assert.ok(err.requestID, "x-request-id surfaces as err.requestID");
        schema("ErrorResponse", { error: err.error }, `${code}`);
      }
      const r = await rawJson(gw, "/v1/chat/completions", { method: "POST", body: { model: LEGACY, messages: user(`hi [[emu:error=${code}]]`) } });
      assert.equal(r.status, status);
      assert.match(r.headers.get("content-type"), /application\/json/);
      checkErrorBody(r.json, `raw ${code}`);
    });
  }

  test("documented client-side upstream errors map to 4xx, never 5xx", async () => {
    for (const code of [5004, 5006, 3003, 3023, 3041, 5016, 5018]) {
      const err = await thrown(() => ai.chat.completions.create({ model: NATIVE, messages: user(`hi [[emu:error=${code}]]`) }));
      assert.ok(err instanceof OpenAI.APIError, `${code}: ${err}`);
      assert.ok(err.status >= 400 && err.status < 500, `${code}: expected 4xx, got ${err.status}`);
      assert.ok(err instanceof OpenAI.BadRequestError || err instanceof OpenAI.PermissionDeniedError, `${code}: ${err.constructor.name}`);
    }
  });

  test("unknown model -> NotFoundError model_not_found (no substitute model)", async () => {
    for (const stream of [false, true]) {
      const err = await thrown(() => ai.chat.completions.create({ model: "gpt-9-ultra", stream, messages: user("hi") }));
      assert.ok(err instanceof OpenAI.NotFoundError, String(err));
      assert.equal(err.status, 404);
      assert.equal(err.code, "model_not_found");
      assert.equal(err.param, "model");
      assert.match(err.message, /gpt-9-ultra/);
    }
    const err = await thrown(() => ai.chat.completions.create({ model: "@cf/meta/llama-99", messages: user("hi") }));
    assert.ok(err instanceof OpenAI.NotFoundError);
  });

  test("non-chat model -> BadRequestError", async () => {
    const err = await thrown(() => ai.chat.completions.create({ model: "text-embedding-3-small", messages: user("hi") }));
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.param, "model");
  });

  test("request validation errors -> BadRequestError with param", async () => {
    const cases = [
      [{ model: NATIVE, messages: [] }, "messages"],
      [{ model: NATIVE, messages: user("hi"), temperature: 3 }, "temperature"],
      [{ model: NATIVE, messages: user("hi"), n: 9 }, "n"],
      [{ model: LEGACY, messages: user("hi"), tools: [WEATHER_TOOL] }, "tools"],
      [{ model: LEGACY, messages: [{ role: "user", content: [{ type: "text", text: "what is it" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }] }] }, "messages"],
    ];
    for (const [body, param] of cases) {
      const err = await thrown(() => ai.chat.completions.create(body), param);
      assert.ok(err instanceof OpenAI.BadRequestError, `${param}: ${err}`);
      assert.equal(err.param, param);
      assert.equal(err.type, "invalid_request_error");
    }
  });
});

describe("mid-stream failure", () => {
  for (const model of [NATIVE, LEGACY]) {
    test(`${model}: SDK iterator yields the first chunks, then throws the upstream error`, async () => {
      const stream = await ai.chat.completions.create({ model, stream: true, messages: user("hi [[emu:fail_after=2]] [[emu:no_reasoning]]") });
      const got = [];
      const err = await thrown(async () => { for await (const c of stream) got.push(c); });
      assert.ok(got.length >= 1, "chunks before the failure are delivered");
      for (const c of got) schema("CreateChatCompletionStreamResponse", c);
      assert.equal(got[0].choices[0].delta.role, "assistant");
      assert.ok(err instanceof OpenAI.APIError, `expected APIError, got ${err}`);
      assert.equal(err.error?.code, "upstream_timeout");
      assert.match(err.message, /3007/);
    });

    test(`${model}: raw SSE ends with an error event and no [DONE]`, async () => {
      const r = await rawStream(gw, { model, messages: user("hi [[emu:fail_after=2]] [[emu:no_reasoning]]") });
      assert.equal(r.status, 200);
      assert.equal(r.done, false, "no [DONE] after a failure");
      const last = r.chunks.at(-1);
      checkErrorBody(last, "mid-stream error event");
      assert.equal(last.error.code, "upstream_timeout");
      const okChunks = r.chunks.slice(0, -1);
      assert.ok(okChunks.length >= 1);
      for (const c of okChunks) {
        schema("CreateChatCompletionStreamResponse", c);
        assert.equal(c.choices[0].finish_reason, null, "no finish_reason before the failure");
      }
    });
  }

  test("mid-stream rate limit (fail_code=3040) surfaces as rate_limit_exceeded", async () => {
    const r = await rawStream(gw, { model: NATIVE, messages: user("hi [[emu:fail_after=2]] [[emu:fail_code=3040]] [[emu:no_reasoning]]") });
    assert.equal(r.done, false);
    const e = checkErrorBody(r.chunks.at(-1));
    assert.equal(e.code, "rate_limit_exceeded");
    assert.equal(e.type, "rate_limit_error");
  });

  test("failure before any chunk: an HTTP error with the mapped status, not a 200", async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: NATIVE, stream: true, messages: user("hi [[emu:fail_after=0]]") }),
    });
    assert.equal(res.status, 504, "the emulator's default stream failure is 3007 (timeout)");
    checkErrorBody(await res.json());
    const err = await thrown(async () => {
      const s = await ai.chat.completions.create({ model: NATIVE, stream: true, messages: user("hi [[emu:fail_after=0]]") });
      for await (const _ of s);
    });
    assert.ok(err instanceof OpenAI.APIError);
  });

  test("the SDK stream helper rejects on a mid-stream failure", async () => {
    const runner = ai.chat.completions.stream({ model: NATIVE, messages: user("hi [[emu:fail_after=3]]") });
    runner.on("error", () => {}); // handled below through the promise
    const err = await thrown(() => runner.finalChatCompletion());
    assert.ok(err instanceof OpenAI.APIError || err instanceof OpenAI.OpenAIError, String(err));
  });

  test("after failures the instance still serves normal streams", async () => {
    const s = await sdkStream({ model: NATIVE, messages: user("again [[emu:tokens=2]] [[emu:no_reasoning]]") });
    assert.equal(s.content, "w1 w2");
  });
});

test("streams built from a whole answer are intact byte for byte, request after request", async () => {
  // Regression: such streams once enqueued a view into wasm memory, which later allocations
  // overwrote before the client read it. Vary the sizes so freed memory gets reused.
  for (let i = 0; i < 30; i++) {
    const r = await rawStream(gw, {
      model: NATIVE,
      response_format: i % 2 ? { type: "json_object" } : { type: "json_schema", json_schema: { name: "s", schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } },
      messages: user(`whole answer ${"x ".repeat(i * 7)} [[emu:no_reasoning]]`),
    });
    assert.equal(r.status, 200);
    assert.ok(r.text.startsWith('data: {"id":"chatcmpl-'), `request ${i}: ${JSON.stringify(r.text.slice(0, 60))}`);
    assert.ok(r.done, `request ${i} ends with [DONE]`);
  }
});

test("concurrent requests are independent", async () => {
  const res = await Promise.all(
    Array.from({ length: 8 }, (_, i) => chat({ model: i % 2 ? NATIVE : LEGACY, messages: user(`n${i} [[emu:tokens=${i + 1}]] [[emu:no_reasoning]]`) })),
  );
  res.forEach((r, i) => {
    assert.equal(r.choices[0].message.content.split(" ").length, i + 1);
  });
  assert.equal(new Set(res.map((r) => r.id)).size, 8, "distinct completion ids");
});
