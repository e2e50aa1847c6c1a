// End-to-end (issue 8, "Faults through the emulator"): Workers AI errors, broken and slow upstream
// streams, timeouts, client disconnects and bursts of failures, against the built worker in
// workerd with the Workers AI emulator. Faults are steered with `[[emu:…]]` directives in the last
// user message (emulator/README.md); the expected HTTP status and OpenAI `code` of each Workers AI
// error code mirror src/error.rs (`upstream_status` and `GatewayError::code`).
//
// Every network read has a deadline, so a hang is reported as a failure instead of stalling the
// suite. Tests that expose a gateway bug are marked `{ todo: "GATEWAY BUG: …" }`.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  OpenAI, startGateway, client, schema, user, parseSSE, checkChunks, checkErrorBody, settledFetch, API_KEYS, KEY,
} from "./_support.mjs";

const NATIVE = "gpt-4"; // -> @cf/qwen/qwen3-30b-a3b-fp8 (chat.completion upstream)
const LEGACY = "gpt-3.5-turbo"; // -> @cf/meta/llama-3-8b-instruct ({response} frames upstream)
const OSS = "o3"; // -> @cf/openai/gpt-oss-120b (Responses natively upstream)

let gw; // default configuration
let gwSlow; // UPSTREAM_TIMEOUT_MS=300
before(async () => {
  [gw, gwSlow] = await Promise.all([
    startGateway({ bindings: { API_KEYS } }),
    startGateway({ bindings: { API_KEYS, UPSTREAM_TIMEOUT_MS: "300" } }),
  ]);
});
after(async () => {
  await Promise.all([gw?.dispose(), gwSlow?.dispose()]);
});

// ---------------------------------------------------------------------------------------------
// Helpers

/** POST with a deadline; reads the whole body. Never throws: a hang or reset comes back as `error`. */
async function post(g, path, body, { timeoutMs = 10_000, headers = {} } = {}) {
  return settledFetch(g.url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
}

/** Rejects after `ms` with a clear message (for SDK iteration, which has no per-read deadline). */
function deadline(promise, ms, label) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`HANG: ${label} did not finish within ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

/** Problems collected across a test, reported together at its end. */
function problems() {
  const list = [];
  return {
    list,
    add: (label, msg) => list.push(`${label}: ${msg}`),
    /** Run `fn`; an assertion it throws becomes a problem labelled `label`. */
    async try(label, fn) {
      try { await fn(); } catch (e) { list.push(`${label}: ${e.message.split("\n")[0]}`); }
    },
    done() {
      if (list.length) assert.fail(`${list.length} problem(s):\n  - ${list.join("\n  - ")}`);
    },
  };
}

/**
 * What src/error.rs makes of a Workers AI error code: [status, code, type, param].
 * Written out by hand (not computed the same way) so a change in the mapping is noticed.
 */
const MAPPING = {
  // the NOTES.md table (../shared/reference/NOTES.md, from the Workers AI errors page)
  5007: [404, "model_not_found", "invalid_request_error", "model"],
  5004: [400, "workers_ai_5004", "invalid_request_error", null],
  3039: [400, "workers_ai_3039", "invalid_request_error", null],
  3003: [400, "workers_ai_3003", "invalid_request_error", null],
  5018: [403, "workers_ai_5018", "permission_error", null],
  5016: [403, "workers_ai_5016", "permission_error", null],
  3023: [403, "workers_ai_3023", "permission_error", null],
  3041: [403, "workers_ai_3041", "permission_error", null],
  5019: [502, "workers_ai_5019", "upstream_error", null],
  5005: [502, "workers_ai_5005", "upstream_error", null],
  3042: [404, "model_not_found", "invalid_request_error", "model"],
  3006: [413, "workers_ai_3006", "invalid_request_error", null],
  3007: [504, "upstream_timeout", "upstream_error", null],
  3008: [504, "upstream_timeout", "upstream_error", null],
  3036: [429, "rate_limit_exceeded", "rate_limit_error", null],
  3040: [429, "rate_limit_exceeded", "rate_limit_error", null],
  // emulated beyond the table
  5006: [400, "workers_ai_5006", "invalid_request_error", null],
  3030: [502, "workers_ai_3030", "upstream_error", null],
};
const CODES = Object.keys(MAPPING).map(Number);

/** Check an HTTP error answer against MAPPING[code]; returns the error object. */
function expectMapped(r, code, label) {
  const [status, errCode, type, param] = MAPPING[code];
  assert.ok(!r.error, `${label}: no answer (${r.error})`);
  assert.equal(r.status, status, `${label}: status (body ${r.text?.slice(0, 200)})`);
  assert.match(r.headers.get("content-type") ?? "", /^application\/json/, `${label}: an HTTP JSON error, not an event stream`);
  assert.deepEqual(Object.keys(r.json ?? {}), ["error"], `${label}: body is {"error":{…}} only`);
  const e = checkErrorBody(r.json, label);
  assert.equal(e.code, errCode, `${label}: code`);
  assert.equal(e.type, type, `${label}: type`);
  assert.equal(e.param, param, `${label}: param`);
  if (!["model_not_found"].includes(errCode)) assert.match(e.message, new RegExp(String(code)), `${label}: the message names the Workers AI code`);
  if (status === 429) assert.match(r.headers.get("retry-after") ?? "", /^\d+$/, `${label}: Retry-After on a 429`);
  else assert.equal(r.headers.get("retry-after"), null, `${label}: Retry-After only on 429`);
  assert.ok(r.headers.get("x-request-id"), `${label}: x-request-id`);
  return e;
}

/** The SDK error class OpenAI's SDK picks for a status. */
const SDK_CLASS = { 400: OpenAI.BadRequestError, 403: OpenAI.PermissionDeniedError, 404: OpenAI.NotFoundError, 413: OpenAI.APIError, 429: OpenAI.RateLimitError, 502: OpenAI.InternalServerError, 504: OpenAI.InternalServerError };

/** Parse a Responses event stream body into [{type, …}] plus whether `[DONE]` was seen. */
function responsesEvents(text) {
  const { events: frames, done } = parseSSE(text);
  const events = frames.filter((f) => f.data !== "[DONE]").map((f) => {
    const data = JSON.parse(f.data);
    if (f.event !== undefined) assert.equal(f.event, data.type, `event: line must equal data.type (${data.type})`);
    return data;
  });
  return { events, done };
}

// ---------------------------------------------------------------------------------------------

describe("Workers AI error codes", () => {
  test(`each code (${CODES.join(", ")}) → mapped status, OpenAI error shape and code; chat non-stream and stream, two families`, async () => {
    const p = problems();
    await Promise.all(CODES.flatMap((code) => [NATIVE, LEGACY].flatMap((model) => [false, true].map((stream) => p.try(`${model} ${stream ? "stream" : "non-stream"} error=${code}`, async () => {
      const r = await post(gw, "/v1/chat/completions", { model, stream, messages: user(`hi [[emu:error=${code}]]`) });
      expectMapped(r, code, `chat ${model} stream=${stream} ${code}`);
    })))));
    p.done();
  });

  test("each code on the other text endpoints: completions, responses (stream and not), embeddings", async () => {
    const p = problems();
    const calls = [
      ["completions", (c, stream) => post(gw, "/v1/completions", { model: LEGACY, stream, prompt: `hi [[emu:error=${c}]]` })],
      ["responses gpt-4", (c, stream) => post(gw, "/v1/responses", { model: NATIVE, stream, input: `hi [[emu:error=${c}]]` })],
      ["responses o3", (c, stream) => post(gw, "/v1/responses", { model: OSS, stream, input: `hi [[emu:error=${c}]]` })],
      ["embeddings", (c, stream) => (stream ? null : post(gw, "/v1/embeddings", { model: "text-embedding-3-small", input: `hi [[emu:error=${c}]]` }))],
    ];
    await Promise.all(CODES.flatMap((code) => calls.flatMap(([name, call]) => [false, true].map((stream) => p.try(`${name} ${stream ? "stream" : "non-stream"} error=${code}`, async () => {
      const pending = call(code, stream);
      if (!pending) return;
      expectMapped(await pending, code, `${name} stream=${stream} ${code}`);
    })))));
    p.done();
  });

  test("the SDK raises the matching APIError subclass for each code, non-stream and stream (no hang)", async () => {
    const p = problems();
    const ai = client(gw);
    await Promise.all(CODES.flatMap((code) => [false, true].map((stream) => p.try(`SDK ${stream ? "stream" : "non-stream"} error=${code}`, async () => {
      const [status, errCode] = MAPPING[code];
      let err;
      try {
        await deadline((async () => {
          const r = await ai.chat.completions.create({ model: NATIVE, stream, messages: user(`hi [[emu:error=${code}]]`) });
          if (stream) for await (const _ of r);
        })(), 10_000, `SDK error=${code}`);
      } catch (e) {
        err = e;
      }
      assert.ok(err, "expected an error");
      assert.ok(err instanceof SDK_CLASS[status], `expected ${SDK_CLASS[status].name}, got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, status);
      assert.equal(err.code, errCode);
      if (status === 429) assert.match(err.headers?.get?.("retry-after") ?? "", /^\d+$/);
    }))));
    p.done();
  });
});

describe("stream failures after K upstream frames", () => {
  const KS = [0, 1, 3, 10];
  const ask = (k, extra = "") => `go [[emu:tokens=20]] [[emu:no_reasoning]] [[emu:fail_after=${k}]]${extra}`;

  /**
   * A failure either happens before anything was sent (an HTTP 504 upstream_timeout JSON error) or
   * after (a 200 event stream whose last event is the error, with no [DONE] / completion).
   * K=0 must be the former; K=10 (ten frames of text) must be the latter.
   */
  function judgeChat(r, k, label) {
    assert.ok(!r.error, `${label}: the reader must finish (${r.error})`);
    if (k === 0) assert.notEqual(r.status, 200, `${label}: nothing was streamed, so an HTTP error`);
    if (k === 10) assert.equal(r.status, 200, `${label}: text was streamed before the failure, so a 200 stream (body ${r.text.slice(0, 200)})`);
    if (r.status !== 200) return { http: r.status, e: expectMapped(r, 3007, label) };
    assert.match(r.headers.get("content-type") ?? "", /^text\/event-stream/, `${label}: content-type`);
    const { chunks, done } = parseSSE(r.text);
    assert.equal(done, false, `${label}: no [DONE] after a failure`);
    const last = chunks.at(-1);
    assert.deepEqual(Object.keys(last), ["error"], `${label}: the last event is {"error":{…}}, got ${JSON.stringify(last).slice(0, 200)}`);
    const e = checkErrorBody(last, `${label} error event`);
    assert.equal(e.code, "upstream_timeout", `${label}: code`);
    assert.equal(e.type, "upstream_error", `${label}: type`);
    const before = chunks.slice(0, -1);
    assert.ok(before.length >= 1, `${label}: a 200 stream carries output before the error`);
    before.forEach((c, i) => {
      schema("CreateChatCompletionStreamResponse", c, `${label} chunk ${i}`);
      assert.equal(c.object, "chat.completion.chunk");
      assert.equal(c.choices[0]?.finish_reason ?? null, null, `${label} chunk ${i}: no finish_reason before the failure`);
    });
    return { http: 200, chunks: before.length, e };
  }

  test("chat completions (native and legacy): HTTP 504 before output, else a 200 stream ending with an error event; the reader finishes", async (t) => {
    const p = problems();
    const seen = [];
    await Promise.all([NATIVE, LEGACY].flatMap((model) => KS.map((k) => p.try(`chat ${model} fail_after=${k}`, async () => {
      const r = await post(gw, "/v1/chat/completions", { model, stream: true, messages: user(ask(k)) });
      const v = judgeChat(r, k, `chat ${model} fail_after=${k}`);
      seen.push(`${model} K=${k}: ${v.http === 200 ? `200 stream, ${v.chunks} chunk(s) then error` : `HTTP ${v.http}`}`);
    }))));
    t.diagnostic(seen.sort().join("; "));
    p.done();
  });

  test("completions: the same contract", async () => {
    const p = problems();
    await Promise.all(KS.map((k) => p.try(`completions fail_after=${k}`, async () => {
      const r = await post(gw, "/v1/completions", { model: LEGACY, stream: true, prompt: ask(k) });
      assert.ok(!r.error, r.error);
      if (k === 0) assert.notEqual(r.status, 200);
      if (k === 10) assert.equal(r.status, 200);
      if (r.status !== 200) return void expectMapped(r, 3007, `completions K=${k}`);
      const { chunks, done } = parseSSE(r.text);
      assert.equal(done, false);
      assert.equal(checkErrorBody(chunks.at(-1)).code, "upstream_timeout");
      for (const c of chunks.slice(0, -1)) assert.equal(c.object, "text_completion");
    })));
    p.done();
  });

  test("Responses API (o3 native, gpt-4 translated): HTTP 504 before output, else a 200 stream ending with response.failed / error", async (t) => {
    const p = problems();
    const seen = [];
    await Promise.all([OSS, NATIVE].flatMap((model) => KS.map((k) => p.try(`responses ${model} fail_after=${k}`, async () => {
      const label = `responses ${model} K=${k}`;
      const r = await post(gw, "/v1/responses", { model, stream: true, input: ask(k) });
      assert.ok(!r.error, `${label}: the reader must finish (${r.error})`);
      if (k === 0) assert.notEqual(r.status, 200, `${label}: nothing was streamed, so an HTTP error`);
      if (k === 10) assert.equal(r.status, 200, `${label}: a 200 stream (body ${r.text.slice(0, 200)})`);
      if (r.status !== 200) {
        expectMapped(r, 3007, label);
        seen.push(`${model} K=${k}: HTTP ${r.status}`);
        return;
      }
      const { events } = responsesEvents(r.text);
      events.forEach((e, i) => assert.equal(e.sequence_number, i, `${label}: sequence_number`));
      const types = events.map((e) => e.type);
      assert.equal(types[0], "response.created");
      assert.ok(!types.includes("response.completed") && !types.includes("response.incomplete"), `${label}: no completion after a failure (${types.join(",")})`);
      const last = events.at(-1);
      assert.ok(["response.failed", "error"].includes(last.type), `${label}: last event ${last.type}`);
      if (last.type === "response.failed") {
        // Response.error.code is OpenAI's closed ResponseErrorCode enum (server_error,
        // rate_limit_exceeded, …), so a timeout is `server_error` there; the message names 3007.
        assert.equal(last.response.status, "failed");
        assert.equal(last.response.error?.code, "server_error", `${label}: response.error ${JSON.stringify(last.response.error)}`);
        assert.match(last.response.error?.message ?? "", /3007/, `${label}: response.error.message names the Workers AI code`);
      } else {
        assert.ok(last.message && last.code, `${label}: error event carries code and message`);
      }
      for (const e of events) schema("ResponseStreamEvent", e, `${label} ${e.type}`);
      seen.push(`${model} K=${k}: 200 stream, ${types.length} events, last ${last.type}`);
    }))));
    t.diagnostic(seen.sort().join("; "));
    p.done();
  });

  test("the official SDK's stream iteration throws an APIError (chat) or ends on response.failed (responses), never hangs", async () => {
    const p = problems();
    const ai = client(gw);
    await Promise.all([
      ...[NATIVE, LEGACY].flatMap((model) => KS.map((k) => p.try(`SDK chat ${model} K=${k}`, async () => {
        const got = [];
        let err;
        try {
          await deadline((async () => {
            const s = await ai.chat.completions.create({ model, stream: true, messages: user(ask(k)) });
            for await (const c of s) got.push(c);
          })(), 10_000, `SDK chat ${model} K=${k}`);
        } catch (e) {
          err = e;
        }
        assert.ok(err, `expected an error after ${got.length} chunks`);
        assert.ok(!/^HANG/.test(err.message), err.message);
        assert.ok(err instanceof OpenAI.APIError, `APIError expected, got ${err.constructor.name}: ${err.message}`);
        assert.equal(err.error?.code ?? err.code, "upstream_timeout");
      }))),
      ...[OSS, NATIVE].flatMap((model) => KS.map((k) => p.try(`SDK responses ${model} K=${k}`, async () => {
        // The SDK yields a response.failed event rather than throwing (openai-node core/streaming.js
        // only throws for `data.error`); an HTTP 504 (K=0) does throw.
        const events = [];
        let err;
        try {
          await deadline((async () => {
            const s = await ai.responses.create({ model, stream: true, input: ask(k) });
            for await (const e of s) events.push(e);
          })(), 10_000, `SDK responses ${model} K=${k}`);
        } catch (e) {
          err = e;
        }
        if (err) {
          assert.ok(!/^HANG/.test(err.message), err.message);
          assert.ok(err instanceof OpenAI.APIError, `APIError expected, got ${err.constructor.name}: ${err.message}`);
          return;
        }
        const last = events.at(-1);
        assert.ok(last && ["response.failed", "error"].includes(last.type), `the iteration ends on response.failed/error, got ${last?.type}`);
      }))),
      p.try("SDK responses.stream().finalResponse() (K=10) settles", async () => {
        const runner = ai.responses.stream({ model: OSS, input: ask(10) });
        runner.on("error", () => {});
        let final;
        let err;
        try { final = await deadline(runner.finalResponse(), 10_000, "finalResponse"); } catch (e) { err = e; }
        assert.ok(!/^HANG/.test(err?.message ?? ""), err?.message);
        if (!err) assert.equal(final.status, "failed", "a failed Response, not a completed one");
      }),
    ]);
    p.done();
  });
});

describe("malformed, heartbeat and 1-byte upstream streams", () => {
  const VARIANTS = ["[[emu:malformed]]", "[[emu:heartbeat]]", "[[emu:chunk=1]]", "[[emu:malformed]] [[emu:heartbeat]] [[emu:chunk=1]]", "[[emu:malformed]] [[emu:chunk=3]]"];

  // The gateway's choice, checked here: a broken upstream frame (`data: {"response":"broken`) is
  // skipped; the client gets a well-formed stream with the same content and [DONE], no error event.
  test("chat (legacy, native) and completions: a valid stream ending with [DONE], same content as a clean stream", async () => {
    const p = problems();
    const cases = [
      ["chat legacy", "/v1/chat/completions", (x) => ({ model: LEGACY, stream: true, messages: user(`hello there ${x} [[emu:tokens=12]]`) }), "chat"],
      ["chat native", "/v1/chat/completions", (x) => ({ model: NATIVE, stream: true, messages: user(`hello there ${x} [[emu:tokens=12]] [[emu:no_reasoning]]`) }), "chat"],
      ["chat native with reasoning", "/v1/chat/completions", (x) => ({ model: NATIVE, stream: true, messages: user(`hello there ${x}`) }), "chat"],
      ["completions", "/v1/completions", (x) => ({ model: LEGACY, stream: true, prompt: `hello there ${x} [[emu:tokens=12]]` }), "completions"],
    ];
    const fold = (kind, chunks, label) => {
      if (kind === "chat") {
        const f = checkChunks(chunks, { label });
        return { content: f.content, reasoning: f.reasoning, finish: f.finish };
      }
      for (const c of chunks) assert.equal(c.object, "text_completion", label);
      return { content: chunks.map((c) => c.choices?.[0]?.text ?? "").join(""), finish: chunks.map((c) => c.choices?.[0]?.finish_reason).filter(Boolean) };
    };
    await Promise.all(cases.map(([name, path, body, kind]) => p.try(name, async () => {
      const base = await post(gw, path, body(""));
      assert.equal(base.status, 200, `${name} baseline`);
      const b = parseSSE(base.text);
      assert.ok(b.done);
      const want = fold(kind, b.chunks, `${name} baseline`);
      await Promise.all(VARIANTS.map((v) => p.try(`${name} ${v}`, async () => {
        const r = await post(gw, path, body(v));
        assert.ok(!r.error, r.error);
        assert.equal(r.status, 200, `status (body ${r.text.slice(0, 200)})`);
        assert.match(r.headers.get("content-type") ?? "", /^text\/event-stream/);
        assert.doesNotMatch(r.text, /broken/, "the broken frame does not reach the client");
        assert.doesNotMatch(r.text, /^:\s*ping/m, "upstream comments are not forwarded as-is");
        const s = parseSSE(r.text);
        assert.ok(s.done, "ends with data: [DONE]");
        assert.deepEqual(s.afterDone, [], "nothing after [DONE]");
        for (const c of s.chunks) assert.ok(!c.error, `no error event: ${JSON.stringify(c)}`);
        assert.deepEqual(fold(kind, s.chunks, `${name} ${v}`), want, "same content as the clean stream");
      })));
    })));
    p.done();
  });

  test("responses (o3 native, gpt-4 translated): a complete event stream, same text as a clean stream", async () => {
    const p = problems();
    await Promise.all([OSS, NATIVE].map((model) => p.try(model, async () => {
      const input = (x) => `hello there ${x} [[emu:tokens=12]] [[emu:no_reasoning]]`;
      const base = await post(gw, "/v1/responses", { model, stream: true, input: input("") });
      assert.equal(base.status, 200);
      const b = responsesEvents(base.text);
      const text = (events) => events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("");
      const want = text(b.events);
      assert.equal(b.events.at(-1).type, "response.completed");
      await Promise.all(VARIANTS.map((v) => p.try(`${model} ${v}`, async () => {
        const r = await post(gw, "/v1/responses", { model, stream: true, input: input(v) });
        assert.ok(!r.error, r.error);
        assert.equal(r.status, 200, r.text.slice(0, 200));
        const s = responsesEvents(r.text);
        assert.equal(s.done, b.done, "[DONE] as in the clean stream");
        s.events.forEach((e, i) => assert.equal(e.sequence_number, i, "sequence_number"));
        assert.equal(s.events.at(-1).type, "response.completed", `ends with response.completed (${s.events.map((e) => e.type).join(",")})`);
        assert.equal(text(s.events), want);
        assert.equal(s.events.at(-1).response.output_text ?? text(s.events), want);
      })));
    })));
    p.done();
  });

  test("json_reply (a whole JSON answer although stream:true) still becomes a valid stream", async () => {
    const r = await post(gw, "/v1/chat/completions", { model: LEGACY, stream: true, messages: user("x [[emu:tokens=3]] [[emu:json_reply]]") });
    assert.equal(r.status, 200, r.text.slice(0, 200));
    const s = parseSSE(r.text);
    assert.ok(s.done);
    assert.equal(checkChunks(s.chunks, { model: LEGACY }).content, "w1 w2 w3");
  });
});

describe("timeouts", () => {
  test("[[emu:error=3007]] and [[emu:error=3008]] → 504 upstream_timeout (chat, stream, responses)", async () => {
    const p = problems();
    await Promise.all([3007, 3008].flatMap((code) => [
      ["chat", () => post(gw, "/v1/chat/completions", { model: NATIVE, messages: user(`x [[emu:error=${code}]]`) })],
      ["chat stream", () => post(gw, "/v1/chat/completions", { model: NATIVE, stream: true, messages: user(`x [[emu:error=${code}]]`) })],
      ["responses", () => post(gw, "/v1/responses", { model: OSS, input: `x [[emu:error=${code}]]` })],
    ].map(([name, call]) => p.try(`${name} ${code}`, async () => {
      const e = expectMapped(await call(), code, `${name} ${code}`);
      assert.equal(e.code, "upstream_timeout");
    }))));
    p.done();
  });

  /** Each call must be a 504 upstream_timeout JSON error well before the 2000 ms delay. */
  async function expectQuick504(p, t, calls) {
    const times = [];
    await Promise.all(calls.map(([name, call]) => p.try(name, async () => {
      const r = await call();
      times.push(`${name} ${r.error ? `no answer after ${r.ms} ms` : `${r.status} after ${r.ms} ms`}`);
      assert.ok(!r.error, `no answer within ${r.ms} ms (${r.error})`);
      assert.equal(r.status, 504, `status (body ${r.text.slice(0, 200)})`);
      assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
      const e = checkErrorBody(r.json, name);
      assert.equal(e.code, "upstream_timeout");
      assert.equal(e.type, "upstream_error");
      assert.ok(r.ms < 1200, `answered after ${r.ms} ms, expected ~300 ms (well before the 2000 ms delay)`);
    })));
    t.diagnostic(times.sort().join(", "));
  }

  test("UPSTREAM_TIMEOUT_MS=300 and [[emu:delay=2000]] → 504 upstream_timeout within ~1 s (non-stream chat, completions, responses)", async (t) => {
    const p = problems();
    await expectQuick504(p, t, [
      ["chat", () => post(gwSlow, "/v1/chat/completions", { model: NATIVE, messages: user("x [[emu:delay=2000]]") })],
      ["chat legacy", () => post(gwSlow, "/v1/chat/completions", { model: LEGACY, messages: user("x [[emu:delay=2000]]") })],
      ["completions", () => post(gwSlow, "/v1/completions", { model: LEGACY, prompt: "x [[emu:delay=2000]]" })],
      ["responses o3", () => post(gwSlow, "/v1/responses", { model: OSS, input: "x [[emu:delay=2000]]" })],
      ["responses gpt-4", () => post(gwSlow, "/v1/responses", { model: NATIVE, input: "x [[emu:delay=2000]]" })],
    ]);
    // A quick answer on the same gateway is not affected by the timeout.
    const ok = await post(gwSlow, "/v1/chat/completions", { model: NATIVE, messages: user("x [[emu:tokens=2]] [[emu:no_reasoning]]") });
    if (ok.status !== 200) p.add("fast request on the 300 ms gateway", `status ${ok.status} ${ok.text?.slice(0, 200)}`);
    // A stream that started in time is not cut by UPSTREAM_TIMEOUT_MS even if it lasts longer.
    const slowStream = await post(gwSlow, "/v1/chat/completions", { model: LEGACY, stream: true, messages: user("x [[emu:tokens=8]] [[emu:delay=100]]") });
    await p.try("a stream with 100 ms between frames (longer than 300 ms in total)", async () => {
      assert.ok(!slowStream.error, slowStream.error);
      assert.equal(slowStream.status, 200, slowStream.text?.slice(0, 200));
      const s = parseSSE(slowStream.text);
      assert.ok(s.done, `ends with [DONE] (last ${JSON.stringify(s.chunks.at(-1))})`);
      assert.equal(checkChunks(s.chunks).content, "w1 w2 w3 w4 w5 w6 w7 w8");
    });
    p.done();
  });

  // The stream's first frame is 2000 ms away. The gateway holds the HTTP answer until the first
  // translated output (glue.js translateStream), but UPSTREAM_TIMEOUT_MS only bounds the env.AI.run
  // call, which resolves at once with a ReadableStream; so the client waits for the slow upstream
  // (observed: 200 headers after ~4 s, then 2 s per frame) instead of a 504.
  test("UPSTREAM_TIMEOUT_MS=300 and [[emu:delay=2000]] on a stream → 504 upstream_timeout within ~1 s", async (t) => {
    const p = problems();
    const quick = { timeoutMs: 2500 };
    await expectQuick504(p, t, [
      ["chat stream", () => post(gwSlow, "/v1/chat/completions", { model: NATIVE, stream: true, messages: user("x [[emu:delay=2000]]") }, quick)],
      ["chat legacy stream", () => post(gwSlow, "/v1/chat/completions", { model: LEGACY, stream: true, messages: user("x [[emu:delay=2000]]") }, quick)],
      ["completions stream", () => post(gwSlow, "/v1/completions", { model: LEGACY, stream: true, prompt: "x [[emu:delay=2000]]" }, quick)],
      ["responses stream", () => post(gwSlow, "/v1/responses", { model: NATIVE, stream: true, input: "x [[emu:delay=2000]]" }, quick)],
    ]);
    p.done();
  });
});

describe("client disconnects mid-stream", () => {
  /** The worker's JSON log line for a request id, waiting up to `ms`. */
  async function logLine(g, id, ms) {
    const t0 = Date.now();
    for (;;) {
      for (const l of g.logs) {
        if (!l.includes(id)) continue;
        try {
          const j = JSON.parse(l);
          if (j.request_id === id) return { line: j, after: Date.now() - t0 };
        } catch { /* not a JSON line */ }
      }
      if (Date.now() - t0 > ms) return { line: null, after: Date.now() - t0 };
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Start a long stream, read its first chunk, abort. Returns the first chunk's text. */
  async function abortAfterFirstChunk(g, path, body, id) {
    const ac = new AbortController();
    const res = await fetch(g.url + path, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "x-request-id": id },
      body: JSON.stringify(body),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    const first = await deadline(reader.read(), 5000, "first chunk");
    ac.abort();
    await reader.cancel().catch(() => {});
    return new TextDecoder().decode(first.value);
  }

  const LONG = "[[emu:tokens=2000]] [[emu:delay=5]]"; // ~10 s of stream if read to the end

  test("after an abort the gateway keeps serving (during and after), and normal requests succeed", async () => {
    const id = `abort-serve-${Date.now()}`;
    const first = await abortAfterFirstChunk(gw, "/v1/chat/completions", { model: LEGACY, stream: true, messages: user(`long ${LONG}`) }, id);
    assert.match(first, /^data: /);
    // Straight after the abort, while the aborted upstream may still be running:
    const [chat, stream, emb] = await Promise.all([
      post(gw, "/v1/chat/completions", { model: NATIVE, messages: user("after abort [[emu:tokens=2]] [[emu:no_reasoning]]") }),
      post(gw, "/v1/chat/completions", { model: LEGACY, stream: true, messages: user("after abort [[emu:tokens=3]]") }),
      post(gw, "/v1/embeddings", { model: "text-embedding-3-small", input: "after abort" }),
    ]);
    assert.equal(chat.status, 200, chat.error ?? chat.text);
    assert.equal(chat.json.choices[0].message.content, "w1 w2");
    assert.equal(stream.status, 200, stream.error ?? stream.text);
    const s = parseSSE(stream.text);
    assert.ok(s.done);
    assert.equal(checkChunks(s.chunks).content, "w1 w2 w3");
    assert.equal(emb.status, 200, emb.error ?? emb.text);
    // Several aborts in a row (chat and responses), then the SDK.
    await Promise.all([1, 2, 3].map((i) => abortAfterFirstChunk(gw, "/v1/chat/completions", { model: NATIVE, stream: true, messages: user(`long ${LONG} [[emu:no_reasoning]]`) }, `${id}-chat-${i}`)));
    await Promise.all([1, 2].map((i) => abortAfterFirstChunk(gw, "/v1/responses", { model: OSS, stream: true, input: `long ${LONG} [[emu:no_reasoning]]` }, `${id}-resp-${i}`)));
    const r = await client(gw).chat.completions.create({ model: NATIVE, messages: user("still fine [[emu:tokens=2]] [[emu:no_reasoning]]") });
    assert.equal(r.choices[0].message.content, "w1 w2");
  });

  // workerd runs a stream's cancel() after a disconnect only while the request is kept alive: the
  // entry hands each stream's settled promise to ctx.waitUntil (glue.js settledOf), so the
  // translator is released and the line written.
  test("the aborted stream's log line is written (request_id, status 200, stream true, duration_ms) within a few seconds", async (t) => {
    const p = problems();
    const stamp = Date.now();
    const cases = [
      ["chat legacy", "/v1/chat/completions", { model: LEGACY, stream: true, messages: user(`long ${LONG}`) }],
      ["chat native", "/v1/chat/completions", { model: NATIVE, stream: true, messages: user(`long ${LONG} [[emu:no_reasoning]]`) }],
      ["responses o3", "/v1/responses", { model: OSS, stream: true, input: `long ${LONG} [[emu:no_reasoning]]` }],
    ];
    const seen = [];
    await Promise.all(cases.map(([name, path, body], i) => p.try(name, async () => {
      const id = `abort-log-${stamp}-${i}`;
      const t0 = Date.now();
      await abortAfterFirstChunk(gw, path, body, id);
      const { line, after } = await logLine(gw, id, 4000);
      seen.push(`${name}: ${line ? `line after ${after} ms (duration_ms ${line.duration_ms}, status ${line.status})` : "no line within 4 s"}`);
      assert.ok(line, `no log line for ${id} within 4 s of the abort (the full stream would take ~10 s)`);
      assert.equal(line.status, 200);
      assert.equal(line.stream, true);
      assert.equal(typeof line.duration_ms, "number");
      assert.ok(line.duration_ms < Date.now() - t0 + 100, `duration_ms ${line.duration_ms} is the time until the cancel, not a full stream`);
    })));
    t.diagnostic(seen.join("; "));
    p.done();
  });
});

describe("bursts of failures", () => {
  test("50 concurrent failing requests with mixed codes (stream and not, fail_after) each get their own status; then the instance answers normally", async () => {
    const p = problems();
    const jobs = [];
    for (let i = 0; i < 50; i++) {
      const code = CODES[i % CODES.length];
      const stream = i % 2 === 1;
      const model = i % 3 === 0 ? LEGACY : NATIVE;
      if (i % 10 === 9) {
        // a mid-stream failure: 200 then an error event
        jobs.push(p.try(`#${i} ${model} fail_after=6 fail_code=${code}`, async () => {
          const r = await post(gw, "/v1/chat/completions", { model, stream: true, messages: user(`burst ${i} [[emu:tokens=20]] [[emu:no_reasoning]] [[emu:fail_after=6]] [[emu:fail_code=${code}]]`) });
          assert.ok(!r.error, r.error);
          assert.equal(r.status, 200, r.text?.slice(0, 200));
          const { chunks, done } = parseSSE(r.text);
          assert.equal(done, false);
          const e = checkErrorBody(chunks.at(-1));
          assert.equal(e.code, MAPPING[code][1], `#${i}: mid-stream error code`);
          assert.equal(e.type, MAPPING[code][2], `#${i}: mid-stream error type`);
        }));
        continue;
      }
      jobs.push(p.try(`#${i} ${model} stream=${stream} error=${code}`, async () => {
        const r = await post(gw, "/v1/chat/completions", { model, stream, messages: user(`burst ${i} [[emu:error=${code}]]`) });
        expectMapped(r, code, `#${i}`);
      }));
    }
    // Successes interleaved with the failures must not be disturbed.
    for (let i = 0; i < 10; i++) {
      jobs.push(p.try(`ok #${i}`, async () => {
        const r = await post(gw, "/v1/chat/completions", { model: LEGACY, stream: i % 2 === 0, messages: user(`fine ${i} [[emu:tokens=2]]`) });
        assert.equal(r.status, 200, r.error ?? r.text?.slice(0, 200));
        if (i % 2 === 0) assert.equal(checkChunks(parseSSE(r.text).chunks).content, "w1 w2");
        else assert.equal(r.json.choices[0].message.content, "w1 w2");
      }));
    }
    await Promise.all(jobs);
    const after = await client(gw).chat.completions.create({ model: NATIVE, messages: user("after the burst [[emu:tokens=2]] [[emu:no_reasoning]]") });
    if (after.choices[0].message.content !== "w1 w2") p.add("after the burst", JSON.stringify(after));
    const h = await fetch(`${gw.url}/health`);
    if (h.status !== 200) p.add("health after the burst", String(h.status));
    p.done();
  });
});
