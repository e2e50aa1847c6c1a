// Wiring, catalogue, errors, validation.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startEmulator } from "./_harness.mjs";
import { emulatorModuleSource, loadCatalogue, MODULE_PATH } from "../../emulator/load.mjs";

let emu;
before(async () => (emu = await startEmulator()));
after(async () => emu?.close());

const LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast";
const user = (content) => ({ messages: [{ role: "user", content }] });

test("module is self-contained (no imports) and the loader inlines the catalogue", () => {
  const src = readFileSync(MODULE_PATH, "utf8");
  assert.match(src.split("\n")[0], /^const CATALOGUE = /);
  assert.doesNotMatch(src, /^\s*import\s/m);
  const inlined = emulatorModuleSource();
  assert.ok(inlined.startsWith("const CATALOGUE = [{"));
  assert.doesNotMatch(inlined, /^\s*import\s/m);
});

test("env.AI is an object whose constructor is named Ai", async () => {
  assert.equal(await emu.ctor(), "Ai");
});

test("models() returns the catalogue without input_schema", async () => {
  const list = await emu.models();
  const cat = loadCatalogue();
  assert.equal(list.length, cat.length);
  for (const m of list) {
    assert.deepEqual(Object.keys(m).sort(), ["created_at", "description", "id", "name", "properties", "source", "tags", "task"]);
    assert.ok(m.task.name && m.task.id);
  }
  assert.ok(list.some((m) => m.name === LLAMA));
  const emb = await emu.models({ task: "Text Embeddings" });
  assert.ok(emb.length >= 5 && emb.every((m) => m.task.name === "Text Embeddings"));
  const flux = await emu.models({ search: "flux" });
  assert.ok(flux.length >= 4 && flux.every((m) => /flux/i.test(m.name + m.description)));
});

test("unknown model -> 5007", async () => {
  const r = await emu.run("@cf/nobody/no-such-model", user("hi"));
  assert.equal(r.kind, "error");
  assert.equal(r.error.message, "5007: No such model @cf/nobody/no-such-model or task");
});

test("invalid inputs -> 5006 in the real service's wording", async () => {
  let r = await emu.run(LLAMA, { ...user("hi"), temperature: 7 });
  assert.equal(r.kind, "error");
  assert.match(r.error.message, /^5006: Error: oneOf at '\/' not met, 0 matches: /);
  assert.match(r.error.message, /'\/temperature' \(7\) is greater than maximum 5/);

  r = await emu.run(LLAMA, { messages: [{ role: "assistant", content: null }] });
  assert.match(r.error.message, /Type mismatch of '\/messages\/0\/content', 'string' not in 'null'/);

  r = await emu.run(LLAMA, {});
  assert.match(r.error.message, /required properties at '\/' are 'prompt'/);

  r = await emu.run("@cf/black-forest-labs/flux-1-schnell", { prompt: "a cat", num_steps: 4 });
  assert.equal(r.error.message, "5006: Error: Additional or unevaluated properties '/num_steps' at '/' not allowed");

  r = await emu.run("@cf/baai/bge-small-en-v1.5", { text: Array.from({ length: 101 }, (_, i) => `t${i}`) });
  assert.match(r.error.message, /^5006: .*maxItems 100/);

  r = await emu.run("@cf/black-forest-labs/flux-2-dev", { prompt: "a cat" });
  assert.match(r.error.message, /^5006: Error: required properties at '\/' are 'multipart'/);
});

test("[[emu:error=CODE]] throws every documented code", async () => {
  const codes = [5007, 5004, 3039, 3003, 5018, 5016, 3023, 3041, 5019, 5005, 3042, 3006, 3007, 3008, 3036, 3040, 5006, 3030];
  for (const code of codes) {
    const r = await emu.run(LLAMA, user(`hello [[emu:error=${code}]]`));
    assert.equal(r.kind, "error", `code ${code}`);
    assert.equal(r.error.name, "AiError");
    assert.ok(r.error.message.startsWith(`${code}: `), r.error.message);
  }
  const r = await emu.run(LLAMA, user("[[emu:error=3040]]"));
  assert.equal(r.error.message, "3040: No more data centers to forward the request to");
  const r2 = await emu.run("@cf/baai/bge-base-en-v1.5", { text: "x [[emu:error=3036]]" });
  assert.match(r2.error.message, /^3036: You have used up your daily free allocation/);
});

test("deterministic: same input, same bytes", async () => {
  const inputs = { ...user("determinism please [[emu:tokens=5]]"), stream: true };
  const a = await emu.run(LLAMA, inputs);
  const b = await emu.run(LLAMA, inputs);
  assert.equal(a.text, b.text);
  const c = await emu.run("@cf/qwen/qwen3-30b-a3b-fp8", user("same"));
  const d = await emu.run("@cf/qwen/qwen3-30b-a3b-fp8", user("same"));
  assert.deepEqual(c.json, d.json);
  const e = await emu.run("@cf/qwen/qwen3-30b-a3b-fp8", user("different"));
  assert.notEqual(c.json.id, e.json.id);
});
