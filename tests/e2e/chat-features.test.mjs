// End-to-end: chat features beyond plain chat (tool loops on every tool-capable model, leaked and
// parallel tool calls, tool_choice, legacy functions, JSON mode, stop, n, reasoning, input shapes,
// vision, the legacy /v1/completions endpoint, plain-word errors, error paths through streams),
// through the official `openai` SDK and raw fetch, against the built worker in workerd with the
// Workers AI emulator. Steering directives (`[[emu:…]]`) are described in emulator/README.md.
//
// Tests that expose a gateway bug are marked `{ todo: "GATEWAY BUG: …" }`: they still run and
// report, but do not fail the suite.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import {
  OpenAI, startGateway, client, schema, user, raw, rawJson, rawStream, parseSSE, checkChunks,
  checkErrorBody, thrown, openapiAvailable, openapiSkipReason, API_KEYS, WEATHER_TOOL, TIME_TOOL,
} from "./_support.mjs";

const LEGACY = "gpt-3.5-turbo"; // -> @cf/meta/llama-3-8b-instruct (legacy family, no tools, no JSON mode)
const NATIVE = "gpt-4"; // -> @cf/qwen/qwen3-30b-a3b-fp8 (OpenAI-native, reasoning_content)
const GLM = "gpt-5"; // -> @cf/zai-org/glm-4.7-flash (OpenAI-native, `reasoning` upstream)
const OSS = "o3"; // -> @cf/openai/gpt-oss-120b
const LLAMA33 = "@cf/meta/llama-3.3-70b-instruct-fp8-fast";
const MISTRAL = "@cf/mistralai/mistral-small-3.1-24b-instruct";
const SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct";
const HERMES = "@hf/nousresearch/hermes-2-pro-mistral-7b";
const R1 = "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b";

const TOOL_MODELS = [NATIVE, GLM, LLAMA33, MISTRAL, SCOUT, HERMES, OSS];
const LEGACY_TOOL_MODELS = [LLAMA33, MISTRAL, SCOUT, HERMES];

/** A tool whose properties carry no `description` (Workers AI's legacy schema requires one). */
const BARE_TOOL = {
  type: "function",
  function: {
    name: "lookup_city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" }, days: { type: "integer", minimum: 1, maximum: 7 } },
      required: ["city"],
    },
  },
};
/** A tool without `parameters` (and without a description). */
const NOARG_TOOL = { type: "function", function: { name: "get_server_time" } };

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

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/** Non-stream chat via the SDK, with the schema check and the common invariants; `choices` = n. */
async function chat(params, label = params.model, choices = 1) {
  const { data, response } = await ai.chat.completions.create(params).withResponse();
  schema("CreateChatCompletionResponse", data, label);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type"), /application\/json/);
  assert.equal(data.object, "chat.completion");
  assert.match(data.id, /^chatcmpl-/);
  assert.equal(data.model, params.model, `${label}: model echoes the requested name`);
  assert.equal(data.choices.length, choices, `${label}: number of choices`);
  data.choices.forEach((c, i) => {
    assert.equal(c.index, i, `${label}: choices[${i}].index`);
    assert.equal(c.message.role, "assistant");
  });
  const u = data.usage;
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens, `${label}: usage total`);
  return data;
}

/** Streamed chat via the SDK iterator: every chunk validated, folded by checkChunks. */
async function sdkStream(params, label = params.model) {
  const stream = await ai.chat.completions.create({ ...params, stream: true });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const folded = checkChunks(chunks, { model: params.model, includeUsage: !!params.stream_options?.include_usage, label });
  return { chunks, ...folded };
}

/** Streamed chat via the SDK stream helper (accumulates tool-call deltas); chunks are validated too. */
async function sdkAccumulate(params, label = params.model) {
  const runner = ai.chat.completions.stream(params);
  const chunks = [];
  runner.on("chunk", (c) => chunks.push(c));
  const final = await runner.finalChatCompletion();
  checkChunks(chunks, { model: params.model, label: `${label} (stream helper)` });
  return final;
}

/** Replace the text of the last user message (string content). */
const withText = (messages, extra) => messages.map((m, i, a) => (i === a.length - 1 ? { ...m, content: m.content + extra } : m));

/** The SDK error for a request expected to fail with 400 (BadRequestError) on `param`. */
async function badRequest(params, param, label = param) {
  const err = await thrown(() => ai.chat.completions.create(params), label);
  assert.ok(err instanceof OpenAI.BadRequestError, `${label}: expected BadRequestError, got ${err?.constructor?.name}: ${err?.message}`);
  assert.equal(err.status, 400);
  assert.equal(err.type, "invalid_request_error", `${label}: type`);
  if (param !== undefined) assert.equal(err.param, param, `${label}: param (message: ${err.message})`);
  schema("ErrorResponse", { error: err.error }, label);
  return err;
}

/** Assert a finished tool-call message: finish tool_calls, `call_…` style ids, JSON-string args. */
function checkToolCallMessage(choice, names, label) {
  assert.equal(choice.finish_reason, "tool_calls", `${label}: finish_reason`);
  const calls = choice.message.tool_calls;
  assert.ok(Array.isArray(calls), `${label}: tool_calls present (content was ${JSON.stringify(choice.message.content)})`);
  assert.deepEqual(calls.map((c) => c.function.name), names, `${label}: tool names`);
  for (const c of calls) {
    assert.equal(c.type, "function");
    assert.equal(typeof c.id, "string");
    assert.ok(c.id.length > 0, `${label}: tool call id`);
    assert.equal(typeof c.function.arguments, "string", `${label}: arguments is a JSON string`);
    JSON.parse(c.function.arguments);
  }
  assert.equal(new Set(calls.map((c) => c.id)).size, calls.length, `${label}: distinct ids`);
  return calls;
}

// ---------------------------------------------------------------------------------------------
// 1. tool loops on every tool-capable model
// ---------------------------------------------------------------------------------------------

describe("tool loop on every tool-capable model", () => {
  for (const model of TOOL_MODELS) {
    test(`${model}: non-stream loop with a tool whose properties have no description`, async () => {
      const tools = [BARE_TOOL, NOARG_TOOL, WEATHER_TOOL];
      const messages = user("Which city should I visit? [[emu:tool=lookup_city]]");
      const first = await chat({ model, tools, messages }, `${model} call`);
      const [call] = checkToolCallMessage(first.choices[0], ["lookup_city"], `${model} call`);
      assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
      const result = `Paris is lovely in spring (${call.id.length} chars)`;
      const followUp = [...messages, first.choices[0].message, { role: "tool", tool_call_id: call.id, content: result }];
      const second = await chat({ model, tools, messages: followUp }, `${model} answer`);
      assert.equal(second.choices[0].finish_reason, "stop");
      assert.equal(second.choices[0].message.content, `Tool result received: ${result}`);
      assert.ok(!second.choices[0].message.tool_calls?.length, "no further tool call");
    });

    test(`${model}: streamed loop (SDK accumulation) with a tool that has no parameters`, async () => {
      const tools = [WEATHER_TOOL, NOARG_TOOL];
      const messages = user("What time is it on the server? [[emu:tool=get_server_time]]");
      const s = await sdkStream({ model, tools, messages }, `${model} stream call`);
      assert.equal(s.finish, "tool_calls");
      assert.deepEqual(s.toolCalls.map((c) => c.name), ["get_server_time"]);
      assert.deepEqual(JSON.parse(s.toolCalls[0].arguments || "{}"), {});

      const final = await sdkAccumulate({ model, tools, messages }, `${model} stream call`);
      const [call] = checkToolCallMessage(final.choices[0], ["get_server_time"], `${model} accumulated`);
      assert.deepEqual(JSON.parse(call.function.arguments), {});
      const result = "12:00 UTC";
      const followUp = [
        ...messages,
        { role: "assistant", content: final.choices[0].message.content ?? null, tool_calls: final.choices[0].message.tool_calls },
        { role: "tool", tool_call_id: call.id, content: result },
      ];
      const answer = await sdkStream({ model, tools, messages: followUp }, `${model} stream answer`);
      assert.equal(answer.finish, "stop");
      assert.equal(answer.content, `Tool result received: ${result}`);
      assert.equal(answer.toolCalls.length, 0);
    });

    test(`${model}: loop with OpenAI-style tool_call_ids from the client ("call_abc123xyz_0", "call_ab_12_cd_1")`, async () => {
      // The second id has no 9 alphanumerics in a row, so it cannot slip through Mistral's
      // (unanchored) `[a-zA-Z0-9]{9}` pattern untranslated.
      const messages = [
        ...user("Weather in Paris and the time in Tokyo?"),
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_abc123xyz_0", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } },
            { id: "call_ab_12_cd_1", type: "function", function: { name: "get_time", arguments: '{"tz":"Asia/Tokyo"}' } },
          ],
        },
        { role: "tool", tool_call_id: "call_abc123xyz_0", content: "sunny" },
        { role: "tool", tool_call_id: "call_ab_12_cd_1", content: "09:00" },
      ];
      const r = await chat({ model, tools: [WEATHER_TOOL, TIME_TOOL], messages }, `${model} client ids`);
      assert.equal(r.choices[0].finish_reason, "stop");
      assert.equal(r.choices[0].message.content, "Tool result received: 09:00");
      const s = await sdkStream({ model, tools: [WEATHER_TOOL, TIME_TOOL], messages }, `${model} client ids stream`);
      assert.equal(s.content, "Tool result received: 09:00");
      assert.equal(s.finish, "stop");
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 2. + 3. leaked, parallel, text-and-tool
// ---------------------------------------------------------------------------------------------

describe("leaked tool calls (legacy models write the call as JSON text)", () => {
  for (const model of LEGACY_TOOL_MODELS) {
    test(`${model}: non-stream and stream turn the leaked JSON into tool_calls`, async () => {
      const params = { model, tools: [WEATHER_TOOL, TIME_TOOL], messages: user("Weather in Paris? [[emu:leak_tool]]") };
      const r = await chat(params, `${model} leak`);
      const [call] = checkToolCallMessage(r.choices[0], ["get_weather"], `${model} leak`);
      assert.deepEqual(JSON.parse(call.function.arguments), { location: "Paris" });
      const content = r.choices[0].message.content;
      assert.ok(content === null || content === "", `${model}: the JSON must not stay in content, got ${JSON.stringify(content)}`);

      const s = await sdkStream(params, `${model} leak stream`);
      assert.equal(s.finish, "tool_calls");
      assert.deepEqual(s.toolCalls.map((c) => [c.name, JSON.parse(c.arguments)]), [["get_weather", { location: "Paris" }]]);
      assert.doesNotMatch(s.content, /get_weather|"parameters"/, "no leaked JSON in the streamed content");

      const split = await sdkStream({ ...params, messages: withText(params.messages, " [[emu:chunk=1]]") }, `${model} leak chunk=1`);
      assert.equal(split.finish, "tool_calls");
      assert.deepEqual(split.toolCalls.map((c) => [c.name, JSON.parse(c.arguments)]), [["get_weather", { location: "Paris" }]]);
      assert.equal(split.content, s.content);
    });
  }
});

describe("parallel calls and text with a call", () => {
  for (const model of [NATIVE, GLM, LLAMA33, HERMES]) {
    test(`${model}: [[emu:tools=2]] gives two calls (non-stream and stream)`, async () => {
      const params = { model, tools: [WEATHER_TOOL, TIME_TOOL], messages: user("both please [[emu:tools=2]]") };
      const r = await chat(params);
      const calls = checkToolCallMessage(r.choices[0], ["get_weather", "get_time"], `${model} parallel`);
      assert.deepEqual(calls.map((c) => JSON.parse(c.function.arguments)), [{ location: "Paris" }, { tz: "Paris" }]);
      const s = await sdkStream(params);
      assert.equal(s.finish, "tool_calls");
      assert.deepEqual(s.toolCalls.map((c) => c.name), ["get_weather", "get_time"]);
      assert.notEqual(s.toolCalls[0].id, s.toolCalls[1].id);
    });

    test(`${model}: [[emu:text_and_tool]] keeps both content and tool_calls`, async () => {
      const params = { model, tools: [WEATHER_TOOL], messages: user("x [[emu:text_and_tool]] [[emu:tokens=2]] [[emu:no_reasoning]]") };
      const r = await chat(params);
      checkToolCallMessage(r.choices[0], ["get_weather"], `${model} text_and_tool`);
      assert.equal(r.choices[0].message.content, "w1 w2");
      const s = await sdkStream(params);
      assert.equal(s.content, "w1 w2");
      assert.equal(s.toolCalls.length, 1);
      assert.equal(s.finish, "tool_calls");
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 4. tool_choice and legacy functions
// ---------------------------------------------------------------------------------------------

describe("tool_choice", () => {
  for (const model of [NATIVE, LLAMA33]) {
    test(`${model}: tool_choice "none" blocks the call even with [[emu:tool]] (stream too)`, async () => {
      const params = { model, tools: [WEATHER_TOOL], tool_choice: "none", messages: user("x [[emu:tool]] [[emu:tokens=2]] [[emu:no_reasoning]]") };
      const r = await chat(params);
      assert.equal(r.choices[0].finish_reason, "stop");
      assert.equal(r.choices[0].message.content, "w1 w2");
      assert.ok(!r.choices[0].message.tool_calls?.length);
      const s = await sdkStream(params);
      assert.equal(s.finish, "stop");
      assert.equal(s.toolCalls.length, 0);
      assert.equal(s.content, "w1 w2");
    });

    test(`${model}: a named tool_choice only offers (and calls) that tool`, async () => {
      const r = await chat({
        model,
        tools: [WEATHER_TOOL, TIME_TOOL],
        tool_choice: { type: "function", function: { name: "get_time" } },
        messages: user("What time is it in Paris? [[emu:tool]]"), // "first tool" must now be get_time
      });
      const [call] = checkToolCallMessage(r.choices[0], ["get_time"], `${model} named`);
      assert.deepEqual(JSON.parse(call.function.arguments), { tz: "Paris" });
    });
  }

  test("gpt-5 (takes tool_choice natively): a named choice forces the call, required forces one", async () => {
    const named = await chat({ model: GLM, tools: [WEATHER_TOOL, TIME_TOOL], tool_choice: { type: "function", function: { name: "get_time" } }, messages: user("time?") });
    checkToolCallMessage(named.choices[0], ["get_time"], "gpt-5 named");
    const required = await chat({ model: GLM, tools: [WEATHER_TOOL, TIME_TOOL], tool_choice: "required", messages: user("anything") });
    checkToolCallMessage(required.choices[0], ["get_weather"], "gpt-5 required");
    const s = await sdkStream({ model: GLM, tools: [WEATHER_TOOL, TIME_TOOL], tool_choice: { type: "function", function: { name: "get_time" } }, messages: user("time?") });
    assert.equal(s.finish, "tool_calls");
    assert.deepEqual(s.toolCalls.map((c) => c.name), ["get_time"]);
  });

  for (const model of [GLM, OSS]) {
    test(`${model}: tool_choice "none" blocks the call even with [[emu:tool]]`, async () => {
      const r = await chat({ model, tools: [WEATHER_TOOL], tool_choice: "none", messages: user("x [[emu:tool]] [[emu:tokens=2]] [[emu:no_reasoning]]") });
      assert.equal(r.choices[0].finish_reason, "stop");
      assert.equal(r.choices[0].message.content, "w1 w2");
      assert.ok(!r.choices[0].message.tool_calls?.length);
    });
  }

  test("an unknown named tool -> 400 param tool_choice", async () => {
    for (const model of [NATIVE, GLM, LLAMA33]) {
      const err = await badRequest({ model, tools: [WEATHER_TOOL], tool_choice: { type: "function", function: { name: "nope" } }, messages: user("x") }, "tool_choice", model);
      assert.match(err.message, /nope/);
    }
  });
});

describe("legacy functions / function_call", () => {
  const FUNCTIONS = [WEATHER_TOOL.function, TIME_TOOL.function];
  /** The call in a legacy-functions answer: OpenAI's legacy `function_call` shape, no tool_calls. */
  function legacyCall(choice, label) {
    const fc = choice.message.function_call;
    assert.ok(fc, `${label}: a function_call in the answer: ${JSON.stringify(choice.message)}`);
    assert.equal(choice.message.tool_calls, undefined, `${label}: no tool_calls beside function_call`);
    assert.equal(choice.finish_reason, "function_call", `${label}: finish_reason`);
    return fc;
  }

  test("streamed: the call arrives as function_call deltas, finish_reason function_call", async () => {
    const s = await rawStream(gw, { model: LLAMA33, functions: FUNCTIONS, function_call: { name: "get_time" }, messages: user("time in Paris? [[emu:tool]]") });
    assert.equal(s.status, 200);
    assert.ok(s.done, "ends with [DONE]");
    const deltas = s.chunks.flatMap((e) => e.choices ?? []);
    assert.ok(deltas.every((c) => c.delta.tool_calls === undefined), "no tool_calls deltas");
    const name = deltas.map((c) => c.delta.function_call?.name ?? "").join("");
    const args = deltas.map((c) => c.delta.function_call?.arguments ?? "").join("");
    assert.equal(name, "get_time");
    assert.deepEqual(JSON.parse(args), { tz: "Paris" });
    assert.deepEqual(deltas.map((c) => c.finish_reason).filter(Boolean), ["function_call"]);
  });

  for (const model of [NATIVE, LLAMA33, HERMES]) {
    test(`${model}: functions + function_call -> a call; role "function" result -> answer`, async () => {
      const r = await chat({ model, functions: FUNCTIONS, function_call: { name: "get_time" }, messages: user("time in Paris? [[emu:tool]]") }, `${model} functions`);
      const fc = legacyCall(r.choices[0], model);
      assert.equal(fc.name, "get_time");
      assert.deepEqual(JSON.parse(fc.arguments), { tz: "Paris" });
      const auto = await chat({ model, functions: FUNCTIONS, function_call: "auto", messages: user("weather? [[emu:tool]]") }, `${model} functions auto`);
      assert.equal(legacyCall(auto.choices[0], model).name, "get_weather");
      const none = await chat({ model, functions: FUNCTIONS, function_call: "none", messages: user("x [[emu:tool]] [[emu:tokens=2]] [[emu:no_reasoning]]") });
      assert.equal(none.choices[0].message.content, "w1 w2");
      const answer = await chat({
        model,
        functions: FUNCTIONS,
        messages: [
          ...user("time in Paris?"),
          { role: "assistant", content: null, function_call: { name: "get_time", arguments: '{"tz":"Europe/Paris"}' } },
          { role: "function", name: "get_time", content: "09:00" },
        ],
      }, `${model} function result`);
      assert.equal(answer.choices[0].message.content, "Tool result received: 09:00");
    });
  }

  test("gpt-5: function_call {name} forces that function", {
  }, async () => {
    const r = await chat({ model: GLM, functions: FUNCTIONS, function_call: { name: "get_time" }, messages: user("time?") });
    assert.equal(legacyCall(r.choices[0], "gpt-5").name, "get_time");
  });
});

// ---------------------------------------------------------------------------------------------
// 5. JSON mode
// ---------------------------------------------------------------------------------------------

describe("JSON mode", () => {
  const SCHEMA_RF = {
    type: "json_schema",
    json_schema: {
      name: "city",
      schema: { type: "object", properties: { city: { type: "string" }, population: { type: "integer" } }, required: ["city", "population"] },
    },
  };
  for (const model of [NATIVE, LLAMA33]) {
    test(`${model}: json_object -> content is a JSON string that parses`, async () => {
      const r = await chat({ model, response_format: { type: "json_object" }, messages: user("Answer in JSON [[emu:no_reasoning]]") });
      const content = r.choices[0].message.content;
      assert.equal(typeof content, "string", `content must be a string, got ${JSON.stringify(content)}`);
      const obj = JSON.parse(content);
      assert.equal(typeof obj, "object");
      assert.equal(r.choices[0].finish_reason, "stop");
    });

    test(`${model}: json_schema -> content parses and follows the schema`, async () => {
      const r = await chat({ model, response_format: SCHEMA_RF, messages: user("A city as JSON [[emu:no_reasoning]]") });
      const obj = JSON.parse(r.choices[0].message.content);
      assert.equal(typeof obj.city, "string");
      assert.equal(typeof obj.population, "number");
    });

    test(`${model}: JSON mode with stream:true is still a proper stream whose content parses`, async () => {
      for (const response_format of [{ type: "json_object" }, SCHEMA_RF]) {
        const params = { model, response_format, messages: user("JSON stream [[emu:no_reasoning]]") };
        const s = await sdkStream(params, `${model} ${response_format.type} stream`);
        assert.equal(s.finish, "stop");
        const obj = JSON.parse(s.content);
        assert.equal(typeof obj, "object");
        const r = await rawStream(gw, params);
        assert.equal(r.status, 200);
        assert.match(r.headers.get("content-type"), /^text\/event-stream/);
        assert.ok(r.done, "ends with [DONE]");
        assert.equal(checkChunks(r.chunks, { model }).content, s.content);
      }
    });
  }

  test("gpt-3.5-turbo (no JSON mode) -> 400 param response_format", async () => {
    await badRequest({ model: LEGACY, response_format: { type: "json_object" }, messages: user("x") }, "response_format");
    await badRequest({ model: LEGACY, response_format: SCHEMA_RF, stream: true, messages: user("x") }, "response_format", "stream");
  });

  test("response_format text is accepted everywhere", async () => {
    const r = await chat({ model: LEGACY, response_format: { type: "text" }, messages: user("x [[emu:tokens=2]]") });
    assert.equal(r.choices[0].message.content, "w1 w2");
  });
});

// ---------------------------------------------------------------------------------------------
// 6. stop
// ---------------------------------------------------------------------------------------------

describe("stop sequences", () => {
  for (const model of [LEGACY, NATIVE]) {
    test(`${model}: stop ["w3"] cuts before w3 (non-stream, stream, chunk=1)`, async () => {
      const messages = user("count [[emu:tokens=6]] [[emu:no_reasoning]]");
      const r = await chat({ model, stop: ["w3"], messages });
      const content = r.choices[0].message.content;
      assert.equal(content.trimEnd(), "w1 w2", `got ${JSON.stringify(content)}`);
      assert.doesNotMatch(content, /w3/);
      assert.equal(r.choices[0].finish_reason, "stop");
      for (const extra of ["", " [[emu:chunk=1]]", " [[emu:chunk=5]]"]) {
        const s = await sdkStream({ model, stop: ["w3"], messages: withText(messages, extra) }, `${model} stop${extra}`);
        assert.equal(s.content, content, `stream${extra}: same content as non-stream`);
        assert.equal(s.finish, "stop");
      }
    });
  }

  test("a stop sequence spanning two tokens is held back in the stream (chunk=1)", async () => {
    for (const model of [LEGACY, NATIVE]) {
      const messages = user("count [[emu:tokens=6]] [[emu:no_reasoning]]");
      const r = await chat({ model, stop: ["2 w3"], messages });
      assert.equal(r.choices[0].message.content, "w1 w");
      for (const extra of ["", " [[emu:chunk=1]]"]) {
        const s = await sdkStream({ model, stop: ["2 w3"], messages: withText(messages, extra) }, `${model} span${extra}`);
        assert.equal(s.content, "w1 w", `${model}${extra}`);
        assert.equal(s.finish, "stop");
      }
    }
  });

  test("stop as a plain string works too", async () => {
    const r = await chat({ model: LEGACY, stop: "w4", messages: user("count [[emu:tokens=6]]") });
    assert.equal(r.choices[0].message.content.trimEnd(), "w1 w2 w3");
  });

  test("more than 4 stop sequences -> 400 param stop", async () => {
    await badRequest({ model: LEGACY, stop: ["a", "b", "c", "d", "e"], messages: user("x") }, "stop");
  });
});

// ---------------------------------------------------------------------------------------------
// 7. n
// ---------------------------------------------------------------------------------------------

describe("n", () => {
  test("n=3 non-stream -> 3 choices with index 0..2", async () => {
    for (const model of [LEGACY, NATIVE]) {
      const r = await chat({ model, n: 3, messages: user("three please [[emu:tokens=3]] [[emu:no_reasoning]]") }, `${model} n=3`, 3);
      for (const c of r.choices) {
        assert.equal(c.message.content, "w1 w2 w3");
        assert.equal(c.finish_reason, "stop");
      }
    }
  });

  test("n=2 with stream -> each choice whole, with its own index and finish_reason; usage summed", async () => {
    const params = { model: LEGACY, n: 2, stream_options: { include_usage: true }, messages: user("two please [[emu:tokens=3]]") };
    const stream = await ai.chat.completions.create({ ...params, stream: true });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    chunks.forEach((c, i) => schema("CreateChatCompletionStreamResponse", c, `n=2 chunk ${i}`));
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, "one id");
    const byIndex = [0, 1].map((index) => chunks.flatMap((c) => c.choices).filter((ch) => ch.index === index));
    for (const [index, parts] of byIndex.entries()) {
      assert.equal(parts.map((p) => p.delta.content ?? "").join(""), "w1 w2 w3", `choice ${index} content`);
      assert.deepEqual(parts.map((p) => p.finish_reason).filter(Boolean), ["stop"], `choice ${index} finish once`);
    }
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.completion_tokens, 6, "usage counts both choices");
    // The SDK's stream helper folds both choices.
    const final = await ai.chat.completions.stream({ ...params, stream: true }).finalChatCompletion();
    assert.deepEqual(final.choices.map((c) => c.message.content), ["w1 w2 w3", "w1 w2 w3"]);
  });
});

// ---------------------------------------------------------------------------------------------
// 8. reasoning
// ---------------------------------------------------------------------------------------------

describe("reasoning", () => {
  test("deepseek-r1 <think> -> reasoning_content separated from content (non-stream)", async () => {
    const r = await chat({ model: R1, messages: user("Why is the sky blue?") });
    const m = r.choices[0].message;
    assert.equal(m.content, "Emulated answer from deepseek-r1-distill-qwen-32b. You said: Why is the sky blue?");
    assert.equal(m.reasoning_content, "The user wrote: Why is the sky blue?. I should answer briefly.");
    assert.doesNotMatch(m.content, /<\/?think>/);
  });

  test("deepseek-r1 <think> streamed (default framing, chunk=3, chunk=1)", async () => {
    const full = (await chat({ model: R1, messages: user("Why is the sky blue?") })).choices[0].message;
    for (const extra of ["", " [[emu:chunk=3]]", " [[emu:chunk=1]]"]) {
      const s = await sdkStream({ model: R1, messages: user(`Why is the sky blue?${extra}`) }, `r1${extra}`);
      assert.equal(s.content, full.content, `content${extra}`);
      assert.equal(s.reasoning, full.reasoning_content, `reasoning${extra}`);
      assert.doesNotMatch(s.content + s.reasoning, /<\/?think>/);
      assert.equal(s.finish, "stop");
    }
  });

  test("gpt-4: reasoning_content non-stream and stream", async () => {
    const r = await chat({ model: NATIVE, messages: user("think about it") });
    assert.equal(r.choices[0].message.reasoning_content, "The user wrote: think about it. I should answer briefly.");
    const s = await sdkStream({ model: NATIVE, messages: user("think about it") });
    assert.equal(s.reasoning, r.choices[0].message.reasoning_content);
  });

  test("gpt-5 (glm `reasoning`) and o3 surface reasoning_content", async () => {
    for (const model of [GLM, OSS]) {
      const r = await chat({ model, messages: user("think about it") });
      assert.ok(r.choices[0].message.reasoning_content?.length > 0, `${model}: reasoning_content`);
      assert.match(r.choices[0].message.content, /You said: think about it$/);
      const s = await sdkStream({ model, messages: user("think about it") });
      assert.equal(s.reasoning, r.choices[0].message.reasoning_content, `${model}: streamed reasoning`);
      assert.equal(s.content, r.choices[0].message.content);
    }
  });

  test('gpt-4 reasoning_effort "none" -> no reasoning_content (stream too)', async () => {
    const r = await chat({ model: NATIVE, reasoning_effort: "none", messages: user("quick") });
    assert.ok(!r.choices[0].message.reasoning_content, `got ${JSON.stringify(r.choices[0].message.reasoning_content)}`);
    assert.match(r.choices[0].message.content, /You said: quick$/);
    const s = await sdkStream({ model: NATIVE, reasoning_effort: "none", messages: user("quick") });
    assert.equal(s.reasoning, "");
  });

  test('reasoning_effort "none"/"minimal" (accepted by the gateway) also work on gpt-5 and o3', {
  }, async () => {
    for (const model of [OSS, GLM]) {
      for (const reasoning_effort of ["none", "minimal"]) {
        const r = await chat({ model, reasoning_effort, messages: user("quick [[emu:tokens=2]]") }, `${model} ${reasoning_effort}`);
        assert.equal(r.choices[0].message.content, "w1 w2");
      }
    }
  });

  test("invalid reasoning_effort -> 400 param reasoning_effort", async () => {
    await badRequest({ model: NATIVE, reasoning_effort: "extreme", messages: user("x") }, "reasoning_effort");
  });
});

// ---------------------------------------------------------------------------------------------
// 9. input shapes
// ---------------------------------------------------------------------------------------------

describe("input shapes", () => {
  test('Onyx {"model":"gpt-4","input":"hello"} -> chat.completion', async () => {
    const r = await rawJson(gw, "/v1/chat/completions", { method: "POST", body: { model: NATIVE, input: "hello" } });
    assert.equal(r.status, 200, r.text);
    schema("CreateChatCompletionResponse", r.json, "onyx");
    assert.equal(r.json.object, "chat.completion");
    assert.equal(r.json.choices[0].message.content, "Emulated answer from qwen3-30b-a3b-fp8. You said: hello");
    const s = await rawStream(gw, { model: NATIVE, input: "hello" });
    assert.equal(s.status, 200);
    assert.ok(s.done);
    assert.equal(checkChunks(s.chunks, { model: NATIVE }).content, r.json.choices[0].message.content);
  });

  test("input_items with a function_call + function_call_output pair -> answer", async () => {
    for (const model of [NATIVE, LLAMA33, MISTRAL]) {
      const body = {
        model,
        tools: [WEATHER_TOOL],
        input_items: [
          { role: "user", content: [{ type: "input_text", text: "Weather in Paris?" }] },
          { type: "function_call", call_id: "call_abc123xyz_0", name: "get_weather", arguments: '{"location":"Paris"}' },
          { type: "function_call_output", call_id: "call_abc123xyz_0", output: "rainy" },
        ],
      };
      const r = await rawJson(gw, "/v1/chat/completions", { method: "POST", body });
      assert.equal(r.status, 200, `${model}: ${r.text}`);
      schema("CreateChatCompletionResponse", r.json, `${model} input_items`);
      assert.equal(r.json.choices[0].message.content, "Tool result received: rainy");
    }
  });

  test("Onyx input as a list of strings", async () => {
    const r = await rawJson(gw, "/v1/chat/completions", { method: "POST", body: { model: NATIVE, input: ["hello"] } });
    assert.equal(r.status, 200, r.text);
    schema("CreateChatCompletionResponse", r.json, "onyx list");
    assert.match(r.json.choices[0].message.content, /You said: hello$/);
  });

  test("developer role and content parts", async () => {
    for (const model of [LEGACY, NATIVE, LLAMA33]) {
      const r = await chat({
        model,
        messages: [
          { role: "developer", content: [{ type: "text", text: "Be terse." }] },
          { role: "user", content: [{ type: "text", text: "part one" }, { type: "text", text: "part two" }] },
        ],
      }, `${model} parts`);
      assert.match(r.choices[0].message.content, /You said: part one\s+part two$/);
      assert.equal(r.usage.prompt_tokens, 6, `${model}: developer + user words`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 10. vision
// ---------------------------------------------------------------------------------------------

describe("vision", () => {
  const PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
  const imageMessage = (url) => [{ role: "user", content: [{ type: "text", text: "What is in this image?" }, { type: "image_url", image_url: { url } }] }];

  test("llama-4-scout with a data: URL image -> 200 (non-stream and stream)", async () => {
    const r = await chat({ model: SCOUT, messages: imageMessage(PNG) });
    assert.match(r.choices[0].message.content, /What is in this image\?/);
    const s = await sdkStream({ model: SCOUT, messages: imageMessage(PNG) });
    assert.equal(s.content, r.choices[0].message.content);
  });

  test("mistral-small-3.1 with a data: URL image -> 200", async () => {
    const r = await chat({ model: MISTRAL, messages: imageMessage(PNG) });
    assert.match(r.choices[0].message.content, /What is in this image\?/);
  });

  // A local server stands in for the web: the gateway fetches http(s) images itself, because
  // Workers AI vision models only take image bytes.
  const PNG_BYTES = Buffer.from(PNG.split(",")[1], "base64");
  let images;
  let imageBase;
  before(async () => {
    images = http.createServer((req, res) => {
      if (req.url === "/cat.png") res.writeHead(200, { "content-type": "application/octet-stream" }).end(PNG_BYTES);
      else if (req.url === "/page.html") res.writeHead(200, { "content-type": "text/html" }).end("<html>no image</html>");
      else res.writeHead(404).end("missing");
    });
    await new Promise((resolve) => images.listen(0, "127.0.0.1", resolve));
    imageBase = `http://127.0.0.1:${images.address().port}`;
  });
  after(() => images?.close());

  test("llama-4-scout with an http image URL: fetched, typed from its bytes, sent as a data: URL", async () => {
    const r = await chat({ model: SCOUT, messages: imageMessage(`${imageBase}/cat.png`) });
    assert.match(r.choices[0].message.content, new RegExp(`I see 1 image\\(s\\): image/png, ${PNG_BYTES.length} bytes`));
    const s = await sdkStream({ model: SCOUT, messages: imageMessage(`${imageBase}/cat.png`) });
    assert.equal(s.content, r.choices[0].message.content);
  });

  test("an image URL that 404s or is not an image -> 400 naming the URL", async () => {
    const missing = await badRequest({ model: SCOUT, messages: imageMessage(`${imageBase}/gone.png`) }, "messages");
    assert.match(missing.message, /gone\.png.*HTTP 404/);
    const page = await badRequest({ model: SCOUT, messages: imageMessage(`${imageBase}/page.html`) }, "messages");
    assert.match(page.message, /not a PNG, JPEG/);
  });

  test("llama-3.2-11b-vision gets its one image as bytes beside the messages", async () => {
    const model = "@cf/meta/llama-3.2-11b-vision-instruct";
    const r = await chat({ model, messages: imageMessage(PNG) });
    assert.match(r.choices[0].message.content, new RegExp(`I see 1 image\\(s\\): bytes, ${PNG_BYTES.length} bytes`));
    const two = [{ role: "user", content: [...imageMessage(PNG)[0].content, { type: "image_url", image_url: { url: `${imageBase}/cat.png` } }] }];
    const err = await badRequest({ model, messages: two }, "messages");
    assert.match(err.message, /one image/);
  });

  test("gpt-3.5-turbo with an image -> 400", async () => {
    await badRequest({ model: LEGACY, messages: imageMessage(PNG) }, "messages");
  });
});

// ---------------------------------------------------------------------------------------------
// 11. legacy /v1/completions
// ---------------------------------------------------------------------------------------------

describe("legacy /v1/completions", () => {
  /**
   * Stream chunks of /v1/completions are CreateCompletionResponse objects. The spec declares
   * `choices[].finish_reason` as a non-nullable enum, yet OpenAI itself sends `null` in every chunk
   * before the last one (the chat chunk schema has `nullable: true` there; this one does not). So a
   * `null` finish_reason is checked here, and the rest of the chunk is validated with a stand-in value.
   */
  function schemaCompletionChunk(c) {
    for (const ch of c.choices) assert.ok(ch.finish_reason === null || typeof ch.finish_reason === "string");
    schema("CreateCompletionResponse", { ...c, choices: c.choices.map((ch) => ({ ...ch, finish_reason: ch.finish_reason ?? "stop" })) }, "completion chunk");
    assert.equal(c.object, "text_completion");
    assert.match(c.id, /^cmpl-/);
  }

  async function complete(params, choices = 1, label = "completion") {
    const { data, response } = await ai.completions.create(params).withResponse();
    assert.equal(response.status, 200);
    schema("CreateCompletionResponse", data, label);
    assert.equal(data.object, "text_completion");
    assert.match(data.id, /^cmpl-/);
    assert.equal(data.model, params.model);
    assert.equal(data.choices.length, choices);
    data.choices.forEach((c, i) => assert.equal(c.index, i));
    assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
    return data;
  }

  test("a prompt -> text_completion", async () => {
    const r = await complete({ model: LEGACY, prompt: "Say hi" });
    assert.equal(r.choices[0].text, "Emulated answer from llama-3-8b-instruct. You said: Say hi");
    assert.equal(r.choices[0].finish_reason, "stop");
    assert.equal(r.usage.prompt_tokens, 2);
  });

  test("a list of 2 prompts -> 2 choices", async () => {
    const r = await complete({ model: LEGACY, prompt: ["Say hi", "Say bye [[emu:tokens=2]]"] }, 2);
    assert.equal(r.choices[0].text, "Emulated answer from llama-3-8b-instruct. You said: Say hi");
    assert.equal(r.choices[1].text, "w1 w2");
  });

  test("echo prepends the prompt", async () => {
    const r = await complete({ model: LEGACY, prompt: "Say hi. [[emu:tokens=2]]", echo: true });
    assert.ok(r.choices[0].text.startsWith("Say hi."), r.choices[0].text);
    assert.ok(r.choices[0].text.endsWith("w1 w2"), r.choices[0].text);
  });

  test("stop cuts the text; max_tokens gives finish_reason length", async () => {
    const r = await complete({ model: LEGACY, prompt: "count [[emu:tokens=6]]", stop: ["w3"] });
    assert.equal(r.choices[0].text.trimEnd(), "w1 w2");
    assert.equal(r.choices[0].finish_reason, "stop");
    const l = await complete({ model: LEGACY, prompt: "count [[emu:tokens=6]]", max_tokens: 2 });
    assert.equal(l.choices[0].text, "w1 w2");
    assert.equal(l.choices[0].finish_reason, "length");
  });

  test("stream:true through the SDK iterator (choices[0].text), [DONE] on the wire", async () => {
    const stream = await ai.completions.create({ model: LEGACY, prompt: "count [[emu:tokens=4]]", stream: true });
    let text = "";
    let finish = null;
    for await (const c of stream) {
      schemaCompletionChunk(c);
      assert.equal(c.object, "text_completion");
      if (c.choices[0]) {
        text += c.choices[0].text;
        finish = c.choices[0].finish_reason ?? finish;
      }
    }
    assert.equal(text, "w1 w2 w3 w4");
    assert.equal(finish, "stop");
    const res = await raw(gw, "/v1/completions", { method: "POST", body: { model: LEGACY, prompt: "count [[emu:tokens=4]]", stream: true } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    const p = parseSSE(await res.text());
    assert.ok(p.done, "ends with data: [DONE]");
    assert.equal(p.afterDone.length, 0);
    for (const c of p.chunks) assert.ok(!c.usage, "no usage without include_usage");
  });

  test("stream with include_usage ends with a usage chunk", async () => {
    const stream = await ai.completions.create({ model: LEGACY, prompt: "count [[emu:tokens=3]]", stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of stream) {
      schemaCompletionChunk(c);
      chunks.push(c);
    }
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 });
    assert.equal(chunks.map((c) => c.choices[0]?.text ?? "").join(""), "w1 w2 w3");
  });

  test("stream with stop and chunk=1", async () => {
    const stream = await ai.completions.create({ model: LEGACY, prompt: "count [[emu:tokens=6]] [[emu:chunk=1]]", stop: ["w3"], stream: true });
    let text = "";
    for await (const c of stream) {
      schemaCompletionChunk(c);
      text += c.choices[0]?.text ?? "";
    }
    assert.equal(text.trimEnd(), "w1 w2");
  });

  test("echo with stream:true starts the stream with the prompt", {
  }, async () => {
    const stream = await ai.completions.create({ model: LEGACY, prompt: "Say hi. [[emu:tokens=2]]", echo: true, stream: true });
    let text = "";
    for await (const c of stream) {
      schemaCompletionChunk(c);
      text += c.choices[0]?.text ?? "";
    }
    assert.ok(text.startsWith("Say hi."), JSON.stringify(text));
    assert.ok(text.endsWith("w1 w2"), JSON.stringify(text));
  });

  test("a token-array prompt -> 400 param prompt; suffix -> 400 param suffix", async () => {
    for (const [params, param] of [
      [{ model: LEGACY, prompt: [1, 2, 3] }, "prompt"],
      [{ model: LEGACY, prompt: [[1, 2], [3]] }, "prompt"],
      [{ model: LEGACY, prompt: "x", suffix: "y" }, "suffix"],
    ]) {
      const err = await thrown(() => ai.completions.create(params), param);
      assert.ok(err instanceof OpenAI.BadRequestError, `${param}: ${err}`);
      assert.equal(err.param, param);
      schema("ErrorResponse", { error: err.error }, param);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 12. errors in plain words
// ---------------------------------------------------------------------------------------------

describe("errors in plain words", () => {
  test('temperature "hot" -> 400 param temperature, no Rust type names', async () => {
    const r = await rawJson(gw, "/v1/chat/completions", { method: "POST", body: { model: NATIVE, temperature: "hot", messages: user("hi") } });
    assert.equal(r.status, 400);
    const e = checkErrorBody(r.json, "temperature");
    assert.equal(e.param, "temperature");
    assert.equal(e.type, "invalid_request_error");
    assert.doesNotMatch(e.message, /f64|f32|u32|i64|serde/);
  });

  test('a JSON body that is not an object ("[1]") -> 400', async () => {
    const r = await rawJson(gw, "/v1/chat/completions", { method: "POST", body: "[1]", headers: { "content-type": "application/json" } });
    assert.equal(r.status, 400);
    const e = checkErrorBody(r.json, "[1]");
    assert.equal(e.type, "invalid_request_error");
  });

  test("an empty body -> 400", async () => {
    for (const path of ["/v1/chat/completions", "/v1/completions"]) {
      const r = await rawJson(gw, path, { method: "POST", body: "", headers: { "content-type": "application/json" } });
      assert.equal(r.status, 400, path);
      checkErrorBody(r.json, `${path} empty`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 13. error code paths through the stream
// ---------------------------------------------------------------------------------------------

describe("errors before the first stream byte are HTTP errors", () => {
  const paths = [
    ["/v1/chat/completions", (d) => ({ model: NATIVE, stream: true, messages: user(`hi ${d}`) })],
    ["/v1/chat/completions", (d) => ({ model: LEGACY, stream: true, messages: user(`hi ${d}`) })],
    ["/v1/chat/completions", (d) => ({ model: LLAMA33, stream: true, tools: [WEATHER_TOOL], messages: user(`hi ${d} [[emu:tool]]`) })],
    ["/v1/completions", (d) => ({ model: LEGACY, stream: true, prompt: `hi ${d}` })],
  ];
  for (const [path, body] of paths) {
    const label = `${path} ${body("").model}${body("").tools ? " + tools" : ""}`;
    test(`${label}: [[emu:error=3040]] stream -> 429, [[emu:fail_after=0]] -> 504`, async () => {
      for (const [directive, status, code] of [["[[emu:error=3040]]", 429, "rate_limit_exceeded"], ["[[emu:fail_after=0]]", 504, "upstream_timeout"]]) {
        const r = await rawJson(gw, path, { method: "POST", body: body(directive) });
        assert.equal(r.status, status, `${directive}: ${r.text.slice(0, 200)}`);
        assert.match(r.headers.get("content-type"), /application\/json/, "an HTTP error, not an event stream");
        const e = checkErrorBody(r.json, directive);
        assert.equal(e.code, code);
        if (status === 429) assert.match(r.headers.get("retry-after") ?? "", /^\d+$/);
      }
      const create = path === "/v1/completions" ? (p) => ai.completions.create(p) : (p) => ai.chat.completions.create(p);
      const err = await thrown(async () => {
        const s = await create(body("[[emu:error=3040]]"));
        for await (const _ of s);
      });
      assert.ok(err instanceof OpenAI.RateLimitError, `SDK: ${err?.constructor?.name}: ${err?.message}`);
    });
  }

  test("a failure while the gateway still holds back output (<think>, leaked-call buffering, empty first frame) -> HTTP 504", {
  }, async () => {
    for (const body of [
      { model: LEGACY, messages: user("x [[emu:fail_after=1]]") },
      { model: R1, messages: user("x [[emu:fail_after=2]]") },
      { model: LLAMA33, tools: [WEATHER_TOOL], messages: user("x [[emu:leak_tool]] [[emu:fail_after=4]]") },
    ]) {
      const res = await raw(gw, "/v1/chat/completions", { method: "POST", body: { ...body, stream: true } });
      const text = await res.text();
      assert.equal(res.status, 504, `${body.model}: got ${res.status} with body ${text.slice(0, 200)}`);
      assert.match(res.headers.get("content-type"), /application\/json/);
      checkErrorBody(JSON.parse(text), body.model);
    }
  });

  test("a failure during leaked-call buffering (nothing sent yet) is an HTTP error, never [DONE]", async () => {
    const res = await raw(gw, "/v1/chat/completions", {
      method: "POST",
      body: { model: LLAMA33, stream: true, tools: [WEATHER_TOOL], messages: user("x [[emu:leak_tool]] [[emu:fail_after=6]]") },
    });
    assert.equal(res.status, 504);
    const e = checkErrorBody(await res.json(), "leak mid-stream");
    assert.equal(e.code, "upstream_timeout");
  });

  test("a mid-stream failure on /v1/completions ends with an error event and no [DONE]", async () => {
    const res = await raw(gw, "/v1/completions", { method: "POST", body: { model: LEGACY, stream: true, prompt: "hi [[emu:tokens=6]] [[emu:fail_after=3]]" } });
    assert.equal(res.status, 200);
    const p = parseSSE(await res.text());
    assert.equal(p.done, false);
    const e = checkErrorBody(p.chunks.at(-1), "completions mid-stream");
    assert.equal(e.code, "upstream_timeout");
  });
});
