// End-to-end: API keys issued by scripts/new-key and stored in GATEWAY_KV (by SHA-256, with
// user, expiry and allowed models), next to the API_KEYS secret; revocation by deletion.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../../scripts/lib/gateway.mjs";
import { startGateway, client, rawJson, API_KEYS } from "./_support.mjs";

let gw;
let kv;
async function issue(...args) {
  const run = spawnSync("node", [join(ROOT, "scripts", "new-key"), ...args, "--record"], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  const key = run.stdout.trim();
  const { name, record } = JSON.parse(run.stderr.trim().split("\n").pop());
  await kv.put(name, JSON.stringify(record));
  return { key, name, record };
}

before(async () => {
  gw = await startGateway({ bindings: { API_KEYS } });
  kv = await gw.mf.getKVNamespace("GATEWAY_KV");
});
after(() => gw?.dispose());

describe("stored keys", () => {
  test("new-key prints sk-<user>-<48 hex> (192 bits) and refuses bad user names", async () => {
    const { key } = await issue("carol");
    assert.match(key, /^sk-carol-[0-9a-f]{48}$/);
      const bad = spawnSync("node", [join(ROOT, "scripts", "new-key"), "Not OK"], { encoding: "utf8" });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /usage/);
  });

  test("a stored key works with the SDK, and its user appears in the log, never the key", async () => {
    const { key } = await issue("dave");
    const ai = client(gw, { apiKey: key });
    const list = await ai.models.list();
    assert.ok(list.data.length > 10);
    const chat = await ai.chat.completions.create({ model: "gpt-4", messages: [{ role: "user", content: "hi" }] });
    assert.ok(chat.choices[0].message.content);
    await new Promise((r) => setTimeout(r, 100));
    const lines = gw.logs.filter((l) => l.includes('"user":"dave"'));
    assert.ok(lines.length >= 2, "log lines name the user");
    assert.ok(gw.logs.every((l) => !l.includes(key)), "the key is never logged");
  });

  test("an expired key is a 401 saying so; an unknown key a plain 401", async () => {
    const { key, name, record } = await issue("erin", "--expires-days", "1");
    assert.equal((await rawJson(gw, "/v1/models", { auth: false, headers: { authorization: `Bearer ${key}` } })).status, 200);
    await kv.put(name, JSON.stringify({ ...record, expires: Math.floor(Date.now() / 1000) - 1 }));
    const expired = await rawJson(gw, "/v1/models", { auth: false, headers: { authorization: `Bearer ${key}` } });
    assert.equal(expired.status, 401);
    assert.match(expired.json.error.message, /expired/);
    assert.ok(!expired.text.includes(key), "the key is not echoed");
    const unknown = await rawJson(gw, "/v1/models", { auth: false, headers: { authorization: "Bearer sk-nobody-0000" } });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.json.error.code, "invalid_api_key");
  });

  test("a key's model list is enforced (403 model_not_allowed), by alias or id", async () => {
    const { key } = await issue("frank", "--models", "gpt-4,@cf/baai/*");
    const ai = client(gw, { apiKey: key });
    await ai.chat.completions.create({ model: "gpt-4", messages: [{ role: "user", content: "hi" }] });
    await ai.embeddings.create({ model: "text-embedding-3-small", input: "x" });
    const err = await ai.chat.completions.create({ model: "o3", messages: [{ role: "user", content: "hi" }] }).catch((e) => e);
    assert.equal(err.status, 403);
    assert.equal(err.code, "model_not_allowed");
    assert.match(err.message, /for this API key/);
  });

  test("revocation: deleting the entry refuses the key at once", async () => {
    const { key, name } = await issue("grace");
    const call = () => rawJson(gw, "/v1/models", { auth: false, headers: { authorization: `Bearer ${key}` } });
    assert.equal((await call()).status, 200);
    await kv.delete(name);
    assert.equal((await call()).status, 401);
  });

  test("with GATEWAY_KV bound and no API_KEYS, stored keys alone work", async () => {
    const kvOnly = await startGateway({ bindings: {} });
    try {
      const store = await kvOnly.mf.getKVNamespace("GATEWAY_KV");
          const run = spawnSync("node", [join(ROOT, "scripts", "new-key"), "heidi", "--record"], { encoding: "utf8" });
      const { name, record } = JSON.parse(run.stderr.trim().split("\n").pop());
      await store.put(name, JSON.stringify(record));
      const ok = await rawJson(kvOnly, "/v1/models", { auth: false, headers: { authorization: `Bearer ${run.stdout.trim()}` } });
      assert.equal(ok.status, 200);
      const bad = await rawJson(kvOnly, "/v1/models", { auth: false, headers: { authorization: "Bearer sk-x-1" } });
      assert.equal(bad.status, 401);
    } finally {
      await kvOnly.dispose();
    }
  });
});
