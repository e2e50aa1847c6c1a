// Text generation: legacy ({response}), OpenAI-native (chat.completion), Responses-style (gpt-oss).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator, sseJson, parseSse, validateOutput, SKIP_SHARED } from "./_harness.mjs";

let emu;
before(async () => (emu = await startEmulator()));
after(async () => emu?.close());

const LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast";
const R1 = "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b";
const QWEN3 = "@cf/qwen/qwen3-30b-a3b-fp8";
const GLM = "@cf/zai-org/glm-4.7-flash";
const OSS = "@cf/openai/gpt-oss-120b";
const OSS20 = "@cf/openai/gpt-oss-20b";
const LEGACY = [
  "@cf/meta/llama-3-8b-instruct",
  "@cf/meta/llama-3.1-8b-instruct",
  "@cf/meta/llama-3.1-8b-instruct-fast",
  "@cf/meta/llama-3.2-11b-vision-instruct",
  LLAMA,
  "@cf/meta/llama-4-scout-17b-16e-instruct",
  "@cf/mistralai/mistral-small-3.1-24b-instruct",
  "@hf/nousresearch/hermes-2-pro-mistral-7b",
  "@cf/google/gemma-3-12b-it",
  R1,
  "@cf/qwen/qwen2.5-coder-32b-instruct",
  "@cf/qwen/qwq-32b",
];
const user = (content, extra = {}) => ({ messages: [{ role: "user", content }], ...extra });
const WEATHER_OPENAI = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a place",
    parameters: {
      type: "object",
      properties: {
        location: { type: "string", description: "city" },
        unit: { type: "string", description: "unit", enum: ["celsius", "fahrenheit"] },
        days: { type: "integer", description: "days" },
      },
      required: ["location", "unit"],
    },
  },
};
const TIME_OPENAI = {
  type: "function",
  function: {
    name: "get_time",
    description: "Time in a zone",
    parameters: { type: "object", properties: { zone: { type: "string", description: "tz" } }, required: ["zone"] },
  },
};
const TIME_FLAT = {
  name: "get_time",
  description: "Time in a zone",
  parameters: { type: "object", properties: { zone: { type: "string", description: "tz" } }, required: ["zone"] },
};

// ---------------- legacy ----------------

test("legacy models: non-stream output matches the documented schema", { skip: SKIP_SHARED }, async () => {
  for (const m of LEGACY) {
    const r = await emu.run(m, user("Hello there, how are you?"));
    assert.equal(r.kind, "json", `${m}: ${JSON.stringify(r.error)}`);
    assert.equal(typeof r.json.response, "string");
    assert.match(r.json.response, /Hello there, how are you\?/);
    assert.equal(validateOutput(m, r.json), null, m);
    const p = await emu.run(m, { prompt: "Prompt form" });
    assert.equal(p.kind, "json", `${m} prompt: ${JSON.stringify(p.error)}`);
    assert.equal(validateOutput(m, p.json), null, m);
  }
});

test("legacy: tokens=N, max_tokens truncation (no error), usage", async () => {
  let r = await emu.run(LLAMA, user("count [[emu:tokens=7]]"));
  assert.equal(r.json.response, "w1 w2 w3 w4 w5 w6 w7");
  assert.deepEqual(r.json.usage, { prompt_tokens: 1, completion_tokens: 7, total_tokens: 8 });
  r = await emu.run(LLAMA, user("count [[emu:tokens=7]]", { max_tokens: 3 }));
  assert.equal(r.json.response, "w1 w2 w3");
  r = await emu.run(LLAMA, user("many [[emu:tokens=300]]"));
  assert.equal(r.json.response.split(" ").length, 256, "default max_tokens is 256");
});

test("legacy reasoning models put <think>…</think> first; no_reasoning removes it", async () => {
  let r = await emu.run(R1, user("why?"));
  assert.match(r.json.response, /^<think>[\s\S]+\n<\/think>\n\nEmulated answer/);
  r = await emu.run(R1, user("why? [[emu:no_reasoning]]"));
  assert.doesNotMatch(r.json.response, /think/);
  r = await emu.run(LLAMA, user("why? [[emu:reasoning]]"));
  assert.match(r.json.response, /^<think>/);
});

test("legacy tool calls: native form, openai form, leak, parallel, text+tool, tool loop", async () => {
  let r = await emu.run(LLAMA, user("weather? [[emu:tool]]", { tools: [WEATHER_OPENAI, TIME_FLAT] }));
  assert.equal(r.json.response, "");
  assert.deepEqual(r.json.tool_calls, [{ name: "get_weather", arguments: { location: "Paris", unit: "celsius" } }]);
  assert.equal(validateOutput(LLAMA, r.json), null);

  r = await emu.run(LLAMA, user("time? [[emu:tool=get_time]]", { tools: [WEATHER_OPENAI, TIME_FLAT] }));
  assert.deepEqual(r.json.tool_calls, [{ name: "get_time", arguments: { zone: "Paris" } }]);

  r = await emu.run(LLAMA, user("[[emu:tools=2]]", { tools: [WEATHER_OPENAI, TIME_FLAT] }));
  assert.deepEqual(r.json.tool_calls.map((c) => c.name), ["get_weather", "get_time"]);

  r = await emu.run(LLAMA, user("hi [[emu:text_and_tool]]", { tools: [WEATHER_OPENAI] }));
  assert.match(r.json.response, /Emulated answer/);
  assert.equal(r.json.tool_calls.length, 1);

  r = await emu.run(LLAMA, user("[[emu:tool]] [[emu:tool_format=openai]]", { tools: [WEATHER_OPENAI] }));
  const c = r.json.tool_calls[0];
  assert.equal(c.type, "function");
  assert.match(c.id, /^call_/);
  assert.deepEqual(JSON.parse(c.function.arguments), { location: "Paris", unit: "celsius" });

  r = await emu.run(LLAMA, user("[[emu:leak_tool]]", { tools: [WEATHER_OPENAI] }));
  assert.equal(r.json.response, '{"name": "get_weather", "parameters": {"location": "Paris", "unit": "celsius"}}');
  assert.deepEqual(r.json.tool_calls, []);

  // last message is a tool result -> text that includes it
  r = await emu.run(LLAMA, {
    messages: [
      { role: "user", content: "weather? [[emu:tool]]" },
      { role: "assistant", content: "" },
      { role: "tool", content: '{"temp": 21}' },
    ],
    tools: [WEATHER_OPENAI],
  });
  assert.deepEqual(r.json.tool_calls, []);
  assert.match(r.json.response, /Tool result received: \{"temp": 21\}/);
});

test("legacy JSON mode: response is an object (even when streaming is requested)", async () => {
  const schema = { type: "object", properties: { city: { type: "string" }, n: { type: "integer" } }, required: ["city", "n"] };
  let r = await emu.run(LLAMA, user("json", { response_format: { type: "json_schema", json_schema: schema } }));
  assert.deepEqual(r.json.response, { city: "Paris", n: 1 });
  r = await emu.run(LLAMA, user("json", { response_format: { type: "json_object" }, stream: true }));
  assert.equal(r.kind, "json");
  assert.equal(typeof r.json.response, "object");
});

test("legacy stream: frames, usage, [DONE]; text equals the non-stream response", async () => {
  const base = user("stream me please");
  const full = (await emu.run(LLAMA, base)).json;
  const s = await emu.run(LLAMA, { ...base, stream: true });
  assert.equal(s.kind, "stream");
  const frames = sseJson(s.text);
  assert.ok(frames.every((f) => typeof f.response === "string"));
  assert.equal(frames.map((f) => f.response).join(""), full.response);
  assert.ok(frames.slice(0, -1).every((f) => typeof f.p === "string" && Array.isArray(f.tool_calls)));
  assert.deepEqual(frames.at(-1).usage, full.usage);
});

test("legacy stream with tool calls (native and openai delta form)", async () => {
  let s = await emu.run(LLAMA, user("[[emu:tool]]", { tools: [WEATHER_OPENAI], stream: true }));
  let frames = sseJson(s.text);
  const calls = frames.flatMap((f) => f.tool_calls ?? []);
  assert.deepEqual(calls, [{ name: "get_weather", arguments: { location: "Paris", unit: "celsius" } }]);
  s = await emu.run(LLAMA, user("[[emu:tool]][[emu:tool_format=openai]]", { tools: [WEATHER_OPENAI], stream: true }));
  frames = sseJson(s.text);
  const deltas = frames.flatMap((f) => f.tool_calls ?? []);
  assert.equal(deltas[0].function.name, "get_weather");
  assert.match(deltas[0].id, /^call_/);
  const args = deltas.slice(1).map((d) => d.function.arguments).join("");
  assert.deepEqual(JSON.parse(args), { location: "Paris", unit: "celsius" });
});

test("stream steering: chunk=N re-joins to identical bytes; heartbeat; malformed; json_reply", async () => {
  const base = user("split me into tiny pieces [[emu:tokens=20]]", { stream: true });
  const whole = await emu.run(LLAMA, base, { collect: true });
  const split = await emu.run(LLAMA, user("split me into tiny pieces [[emu:tokens=20]] [[emu:chunk=7]]", { stream: true }), { collect: true });
  const join = (cs) => Buffer.concat(cs.map((c) => Buffer.from(c))).toString();
  // identical apart from the directive's own effect on the prompt token count (none: directives are stripped)
  assert.equal(join(split.chunks), join(whole.chunks));
  assert.ok(split.chunks.slice(0, -1).every((c) => c.length === 7));
  assert.equal(whole.chunks.length, sseJson(join(whole.chunks)).length + 1, "one frame per chunk by default");

  const hb = await emu.run(LLAMA, user("[[emu:heartbeat]] [[emu:tokens=6]]", { stream: true }));
  const raw = parseSse(hb.text);
  assert.ok(raw.some((f) => f.comment === "ping"));
  assert.equal(sseJson(hb.text).map((f) => f.response).join(""), "w1 w2 w3 w4 w5 w6");

  const bad = await emu.run(LLAMA, user("[[emu:malformed]] [[emu:tokens=6]]", { stream: true }));
  assert.throws(() => sseJson(bad.text), SyntaxError);

  const jr = await emu.run(LLAMA, user("[[emu:json_reply]] [[emu:tokens=2]]", { stream: true }));
  assert.equal(jr.kind, "json");
  assert.equal(jr.json.response, "w1 w2");
});

test("stream steering: fail_after=K errors the stream with a coded error; delay=MS", async () => {
  const r = await emu.run(LLAMA, user("[[emu:fail_after=3]] [[emu:tokens=10]]", { stream: true }), { collect: true });
  assert.equal(r.chunks.length, 3);
  assert.match(r.error.message, /^3007: Request timeout/);
  const r2 = await emu.run(LLAMA, user("[[emu:fail_after=2]] [[emu:fail_code=3040]]", { stream: true }), { collect: true });
  assert.match(r2.error.message, /^3040: /);
  const t0 = Date.now();
  await emu.run(LLAMA, user("[[emu:delay=30]] [[emu:tokens=3]]", { stream: true }));
  assert.ok(Date.now() - t0 >= 30 * 5, "delay applies before every frame (6 frames)");
});

// ---------------- OpenAI-native ----------------

test("native (qwen3, glm): chat.completion matches the documented schema", { skip: SKIP_SHARED }, async () => {
  for (const m of [QWEN3, GLM]) {
    for (const inputs of [
      user("Hello native"),
      user("[[emu:tool]]", { tools: [WEATHER_OPENAI] }),
      user("[[emu:tokens=50]]", { max_tokens: 5 }),
    ]) {
      const r = await emu.run(m, inputs);
      assert.equal(r.kind, "json", `${m}: ${JSON.stringify(r.error)}`);
      assert.equal(r.json.object, "chat.completion");
      assert.equal(validateOutput(m, r.json), null, `${m} ${JSON.stringify(inputs)}`);
    }
  }
});

test("native: reasoning field, tool_calls, finish_reason", async () => {
  let r = await emu.run(QWEN3, user("think [[emu:tokens=4]]"));
  let ch = r.json.choices[0];
  assert.equal(ch.message.content, "w1 w2 w3 w4");
  assert.match(ch.message.reasoning_content, /The user wrote/);
  assert.equal(ch.finish_reason, "stop");
  assert.equal(r.json.usage.completion_tokens, r.json.usage.completion_tokens_details.reasoning_tokens + 4);

  r = await emu.run(GLM, user("think"));
  assert.match(r.json.choices[0].message.reasoning, /The user wrote/);
  r = await emu.run(GLM, user("think", { chat_template_kwargs: { enable_thinking: false } }));
  assert.equal(r.json.choices[0].message.reasoning, undefined);

  r = await emu.run(QWEN3, user("[[emu:no_reasoning]] [[emu:tokens=10]]", { max_tokens: 4 }));
  ch = r.json.choices[0];
  assert.equal(ch.message.content, "w1 w2 w3 w4");
  assert.equal(ch.finish_reason, "length");

  r = await emu.run(GLM, user("[[emu:tools=2]]", { tools: [WEATHER_OPENAI, TIME_OPENAI] }));
  ch = r.json.choices[0];
  assert.equal(ch.finish_reason, "tool_calls");
  assert.equal(ch.message.content, null);
  assert.equal(ch.message.tool_calls.length, 2);
  assert.notEqual(ch.message.tool_calls[0].id, ch.message.tool_calls[1].id);
  assert.deepEqual(JSON.parse(ch.message.tool_calls[1].function.arguments), { zone: "Paris" });

  r = await emu.run(GLM, user("hi", { tools: [WEATHER_OPENAI], tool_choice: "required" }));
  assert.equal(r.json.choices[0].finish_reason, "tool_calls");
});

test("native stream: role first, reasoning/content/tool deltas, finish, usage chunk, [DONE]", async () => {
  const inputs = user("[[emu:text_and_tool]]", {
    tools: [WEATHER_OPENAI],
    stream: true,
    stream_options: { include_usage: true },
  });
  const full = (await emu.run(QWEN3, { ...inputs, stream: false })).json;
  const s = await emu.run(QWEN3, inputs);
  const chunks = sseJson(s.text);
  assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === full.id));
  assert.equal(chunks[0].choices[0].delta.role, "assistant");
  const deltas = chunks.flatMap((c) => c.choices.map((x) => x.delta));
  assert.equal(deltas.map((d) => d.content ?? "").join(""), full.choices[0].message.content);
  assert.equal(deltas.map((d) => d.reasoning_content ?? "").join(""), full.choices[0].message.reasoning_content);
  const tc = deltas.flatMap((d) => d.tool_calls ?? []);
  assert.deepEqual(tc[0], { index: 0, id: full.choices[0].message.tool_calls[0].id, type: "function", function: { name: "get_weather", arguments: "" } });
  assert.equal(tc.slice(1).map((t) => t.function.arguments).join(""), full.choices[0].message.tool_calls[0].function.arguments);
  assert.ok(tc.slice(1).every((t) => t.id === undefined && t.index === 0));
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.deepEqual(last.usage, full.usage);
  assert.equal(chunks.at(-2).choices[0].finish_reason, "tool_calls");

  const noUsageOpt = sseJson((await emu.run(GLM, user("x [[emu:tokens=3]]", { stream: true, max_tokens: 2 }))).text);
  assert.equal(noUsageOpt.at(-1).choices[0].finish_reason, "length");
  assert.ok(noUsageOpt.at(-1).usage, "usage rides on the final chunk without include_usage");
  assert.match(JSON.stringify(noUsageOpt), /"reasoning":/);
});

// ---------------- Responses-style ----------------

test("gpt-oss: Responses input -> response object (schema-valid), reasoning + message", { skip: SKIP_SHARED }, async () => {
  const r = await emu.run(OSS20, { input: "Hello gpt-oss [[emu:tokens=3]]", instructions: "be brief", reasoning: { effort: "low" } });
  assert.equal(r.kind, "json", JSON.stringify(r.error));
  assert.equal(r.json.object, "response");
  assert.equal(r.json.status, "completed");
  assert.equal(validateOutput(OSS20, r.json), null);
  assert.equal(validateOutput(OSS, r.json), null);
  const [reasoning, message] = r.json.output;
  assert.equal(reasoning.type, "reasoning");
  assert.equal(reasoning.content[0].type, "reasoning_text");
  assert.deepEqual(message.content[0].type, "output_text");
  assert.equal(message.content[0].text, "w1 w2 w3");
  assert.equal(r.json.usage.total_tokens, r.json.usage.input_tokens + r.json.usage.output_tokens);
});

test("gpt-oss: function_call items, tool loop with function_call_output, max_output_tokens", async () => {
  const tools = [{ type: "function", name: "get_weather", description: "w", parameters: WEATHER_OPENAI.function.parameters }];
  let r = await emu.run(OSS, { input: [{ role: "user", content: [{ type: "input_text", text: "[[emu:tool]]" }] }], tools });
  const fc = r.json.output.find((o) => o.type === "function_call");
  assert.match(fc.call_id, /^call_/);
  assert.equal(fc.name, "get_weather");
  assert.deepEqual(JSON.parse(fc.arguments), { location: "Paris", unit: "celsius" });
  assert.ok(!r.json.output.some((o) => o.type === "message"));

  r = await emu.run(OSS, {
    input: [
      { role: "user", content: "[[emu:tool]]" },
      { type: "function_call", call_id: fc.call_id, name: fc.name, arguments: fc.arguments },
      { type: "function_call_output", call_id: fc.call_id, output: "sunny 21C" },
    ],
    tools,
  });
  assert.ok(!r.json.output.some((o) => o.type === "function_call"));
  assert.match(r.json.output.find((o) => o.type === "message").content[0].text, /sunny 21C/);

  r = await emu.run(OSS, { input: "x [[emu:tokens=9]] [[emu:no_reasoning]]", max_output_tokens: 4 });
  assert.equal(r.json.status, "incomplete");
  assert.equal(r.json.output[0].content[0].text, "w1 w2 w3 w4");
});

test("gpt-oss: messages input -> chat.completion (Messages_Output); stream -> Responses events", { skip: SKIP_SHARED }, async () => {
  const r = await emu.run(OSS20, user("hi there"));
  assert.equal(r.json.object, "chat.completion");
  assert.equal(validateOutput(OSS20, r.json), null);
  assert.match(r.json.choices[0].message.reasoning_content, /The user wrote/);

  const s = await emu.run(OSS, { input: "stream [[emu:tokens=3]]", stream: true });
  const frames = parseSse(s.text).filter((f) => f.data !== undefined);
  assert.equal(frames.at(-1).data, "[DONE]");
  const events = frames.slice(0, -1).map((f) => ({ event: f.event, ...JSON.parse(f.data) }));
  assert.ok(events.every((e, i) => e.event === e.type && e.sequence_number === i));
  assert.equal(events[0].type, "response.created");
  assert.equal(events.at(-1).type, "response.completed");
  const text = events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("");
  assert.equal(text, "w1 w2 w3");
  assert.deepEqual(events.at(-1).response, (await emu.run(OSS, { input: "stream [[emu:tokens=3]]" })).json);
});
