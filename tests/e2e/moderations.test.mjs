// End-to-end: POST /v1/moderations through the official `openai` SDK, against the Workers AI
// emulator's Llama Guard 3 (`[[emu:unsafe]]` / `[[emu:unsafe=S1,S10]]` make a text unsafe).
// Llama Guard hazard codes map onto OpenAI's categories; scores are 1 or 0 (it gives none).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { OpenAI, startGateway, client, schema, rawJson, checkErrorBody, thrown, API_KEYS } from "./_support.mjs";

const CATEGORIES = [
  "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
  "self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence", "violence/graphic",
];

let gw;
let ai;
before(async () => {
  gw = await startGateway({ bindings: { API_KEYS } });
  ai = client(gw);
});
after(() => gw?.dispose());

const moderate = (body) => rawJson(gw, "/v1/moderations", { method: "POST", body });

/** Check one result: every category present, scores 1/0 matching the booleans, text input type. */
function checkResult(r, { flagged, on = [], codes, label = "result" }) {
  assert.equal(r.flagged, flagged, `${label}: flagged`);
  assert.deepEqual(Object.keys(r.categories).sort(), [...CATEGORIES].sort(), `${label}: every category`);
  assert.deepEqual(Object.keys(r.category_scores).sort(), [...CATEGORIES].sort(), `${label}: every score`);
  for (const c of CATEGORIES) {
    assert.equal(r.categories[c], on.includes(c), `${label}: categories[${c}]`);
    assert.equal(r.category_scores[c], on.includes(c) ? 1 : 0, `${label}: category_scores[${c}]`);
    assert.deepEqual(r.category_applied_input_types[c], ["text"], `${label}: applied input types of ${c}`);
  }
  if (codes) assert.deepEqual(r.llama_guard_categories, codes, `${label}: llama_guard_categories`);
}

describe("moderations", () => {
  test("SDK, default model: a safe text is not flagged", async () => {
    const { data: r, response } = await ai.moderations.create({ input: "I love sunny days at the beach." }).withResponse();
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type"), /application\/json/);
    assert.ok(response.headers.get("x-request-id"));
    schema("CreateModerationResponse", r, "safe");
    assert.match(r.id, /^modr-/);
    assert.equal(r.model, "omni-moderation-latest", "model echoes OpenAI's default");
    assert.equal(r.results.length, 1);
    checkResult(r.results[0], { flagged: false, codes: [], label: "safe" });
  });

  test("[[emu:unsafe=S1,S10]]: violence, illicit/violent and hate", async () => {
    const r = await ai.moderations.create({ model: "omni-moderation-latest", input: "Something awful [[emu:unsafe=S1,S10]]" });
    schema("CreateModerationResponse", r, "S1,S10");
    checkResult(r.results[0], { flagged: true, on: ["violence", "illicit/violent", "hate"], codes: ["S1", "S10"], label: "S1,S10" });
  });

  test("[[emu:unsafe]] defaults to S1", async () => {
    const r = await ai.moderations.create({ input: "Something violent [[emu:unsafe]]" });
    schema("CreateModerationResponse", r, "unsafe");
    checkResult(r.results[0], { flagged: true, on: ["violence", "illicit/violent"], codes: ["S1"], label: "unsafe" });
  });

  test("an array of strings: one result per text, in order", async () => {
    const input = ["hello", "bad [[emu:unsafe=S10]]", "fine", "worse [[emu:unsafe=S11]]", "ok"];
    const r = await ai.moderations.create({ input });
    schema("CreateModerationResponse", r, "array");
    assert.equal(r.results.length, input.length);
    checkResult(r.results[0], { flagged: false, codes: [], label: "0" });
    checkResult(r.results[1], { flagged: true, on: ["hate"], codes: ["S10"], label: "1" });
    checkResult(r.results[2], { flagged: false, codes: [], label: "2" });
    checkResult(r.results[3], { flagged: true, on: ["self-harm"], codes: ["S11"], label: "3" });
    checkResult(r.results[4], { flagged: false, codes: [], label: "4" });
  });

  test("{type: text} parts (omni-moderation form), mixed with strings", async () => {
    const r = await ai.moderations.create({
      model: "omni-moderation-latest",
      input: [{ type: "text", text: "nice [[emu:unsafe=S4]]" }, "a plain string", { type: "text", text: "calm" }],
    });
    schema("CreateModerationResponse", r, "parts");
    assert.equal(r.results.length, 3);
    checkResult(r.results[0], { flagged: true, on: ["sexual", "sexual/minors"], codes: ["S4"], label: "part 0" });
    checkResult(r.results[1], { flagged: false, label: "part 1" });
    checkResult(r.results[2], { flagged: false, label: "part 2" });
  });

  test("hazard codes map onto OpenAI's categories", async () => {
    const cases = [
      ["S2", ["illicit"]],
      ["S3", ["sexual", "illicit"]],
      ["S5", ["harassment"]],
      ["S9", ["illicit/violent", "violence"]],
      ["S12", ["sexual"]],
      ["S14", ["illicit"]],
      // Hazards without an OpenAI counterpart flag the text with no category set.
      ["S6", []],
      ["S7", []],
      ["S8", []],
      ["S13", []],
    ];
    const r = await ai.moderations.create({ input: cases.map(([code]) => `text [[emu:unsafe=${code}]]`) });
    schema("CreateModerationResponse", r, "codes");
    cases.forEach(([code, on], i) => checkResult(r.results[i], { flagged: true, on, codes: [code], label: code }));
  });

  test("32 texts (the maximum: one Llama Guard run each) come back in order; 33 is a 400", async () => {
    const input = Array.from({ length: 32 }, (_, i) => (i % 7 === 3 ? `text ${i} [[emu:unsafe=S5]]` : `text ${i}`));
    const r = await ai.moderations.create({ input });
    schema("CreateModerationResponse", r, "32");
    assert.equal(r.results.length, 32);
    const over = await ai.moderations.create({ input: [...input, "one more"] }).catch((e) => e);
    assert.equal(over.status, 400);
    assert.match(over.message, /at most 32/);
    r.results.forEach((res, i) => assert.equal(res.flagged, i % 7 === 3, `result ${i}`));
    assert.equal(r.results[3].categories.harassment, true);
  });

  test("text-moderation-latest and the Workers AI id are accepted and echoed", async () => {
    for (const model of ["text-moderation-latest", "@cf/meta/llama-guard-3-8b"]) {
      const r = await ai.moderations.create({ model, input: "hello [[emu:unsafe]]" });
      schema("CreateModerationResponse", r, model);
      assert.equal(r.model, model);
      assert.equal(r.results[0].flagged, true);
    }
  });

  test("ids are unique per request", async () => {
    const a = await ai.moderations.create({ input: "x" });
    const b = await ai.moderations.create({ input: "x" });
    schema("CreateModerationResponse", a, "a");
    schema("CreateModerationResponse", b, "b");
    assert.notEqual(a.id, b.id);
  });

  test("image_url parts are a 400 on param input", async () => {
    const r = await moderate({
      model: "omni-moderation-latest",
      input: [{ type: "text", text: "look" }, { type: "image_url", image_url: { url: "https://example.com/a.png" } }],
    });
    assert.equal(r.status, 400);
    const e = checkErrorBody(r.json);
    assert.equal(e.param, "input");
    assert.match(e.message, /image/);
    const err = await thrown(() => ai.moderations.create({ input: [{ type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }] }));
    assert.ok(err instanceof OpenAI.BadRequestError);
  });

  test("bad input and chat models are 400s naming the param", async () => {
    for (const [body, param] of [
      [{}, "input"],
      [{ input: null }, "input"],
      [{ input: [] }, "input"],
      [{ input: 42 }, "input"],
      [{ input: [1, 2] }, "input"],
      [{ input: [{ type: "text" }] }, "input"],
      [{ input: [{ type: "audio", text: "x" }] }, "input"],
      [{ input: Array.from({ length: 101 }, (_, i) => `t${i}`) }, "input"],
      [{ input: "x", model: "gpt-4" }, "model"],
      [{ input: "x", model: "dall-e-3" }, "model"],
    ]) {
      const r = await moderate(body);
      const label = JSON.stringify(body).slice(0, 80);
      assert.equal(r.status, 400, `${label}: ${r.text.slice(0, 200)}`);
      assert.equal(checkErrorBody(r.json, label).param, param, label);
    }
  });

  test("an unknown model is a 404; [[emu:error=3040]] in any text is a 429", async () => {
    const nf = await moderate({ input: "x", model: "omni-moderation-9" });
    assert.equal(nf.status, 404);
    assert.equal(checkErrorBody(nf.json).code, "model_not_found");
    const rl = await moderate({ input: ["fine", "x [[emu:error=3040]]"] });
    assert.equal(rl.status, 429);
    assert.equal(checkErrorBody(rl.json).code, "rate_limit_exceeded");
    assert.match(rl.headers.get("retry-after") ?? "", /^\d+$/);
    const err = await thrown(() => ai.moderations.create({ input: "x [[emu:error=3040]]" }));
    assert.ok(err instanceof OpenAI.RateLimitError);
  });
});
