// End-to-end: per-key rate limits, counted by the RATE_LIMITER binding (miniflare's real
// implementation) or, without it, by fixed windows in GATEWAY_KV; 429s in OpenAI's shape with
// Retry-After and x-ratelimit-* headers.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, client, rawJson, checkErrorBody, API_KEYS, KEY, KEY2 } from "./_support.mjs";

const gateways = [];
after(() => Promise.all(gateways.map((gw) => gw.dispose())));
async function gateway(options) {
  const gw = await startGateway(options);
  gateways.push(gw);
  return gw;
}

const models = (gw, key = KEY, extra = {}) =>
  rawJson(gw, "/v1/models", { headers: { authorization: `Bearer ${key}`, ...extra } });

describe("rate limits", () => {
  test("KV fallback: the fourth request in a window is a 429 with Retry-After; other keys are counted apart", async () => {
    const gw = await gateway({ bindings: { API_KEYS, RATE_LIMIT_REQUESTS: "3", RATE_LIMIT_PERIOD: "60" } });
    const remaining = [];
    for (let i = 0; i < 3; i++) {
      const r = await models(gw);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("x-ratelimit-limit-requests"), "3");
      remaining.push(r.headers.get("x-ratelimit-remaining-requests"));
      assert.match(r.headers.get("x-ratelimit-reset-requests"), /^\d+s$/);
    }
    assert.deepEqual(remaining, ["2", "1", "0"]);
    const refused = await models(gw);
    assert.equal(refused.status, 429);
    checkErrorBody(refused.json, "429");
    assert.equal(refused.json.error.code, "rate_limit_exceeded");
    assert.equal(refused.json.error.type, "rate_limit_error");
    const retry = Number(refused.headers.get("retry-after"));
    assert.ok(retry >= 1 && retry <= 60, `retry-after ${retry}`);
    assert.match(refused.json.error.message, /Try again in \d+ seconds/);
    assert.equal(refused.headers.get("x-ratelimit-limit-requests"), "3", "a 429 carries the limit too");
    assert.equal(refused.headers.get("x-ratelimit-remaining-requests"), "0");
    assert.match(refused.headers.get("x-ratelimit-reset-requests"), /^\d+s$/);
    const other = await models(gw, KEY2);
    assert.equal(other.status, 200, "another key has its own count");
    const failing = await rawJson(gw, "/v1/models/no-such-model", { headers: { authorization: `Bearer ${KEY2}` } });
    assert.equal(failing.status, 404);
    assert.equal(failing.headers.get("x-ratelimit-remaining-requests"), "1", "an error counted carries the headers");
    const health = await rawJson(gw, "/health");
    assert.equal(health.status, 200, "/health is never limited");
  });

  test("the SDK surfaces the 429 as RateLimitError", async () => {
    const gw = await gateway({ bindings: { API_KEYS, RATE_LIMIT_REQUESTS: "1" } });
    const ai = client(gw);
    await ai.models.list();
    await assert.rejects(ai.models.list(), (err) => err.status === 429 && err.constructor.name === "RateLimitError");
  });

  test("open routes are counted per client IP", async () => {
    const gw = await gateway({ bindings: { API_KEYS, RATE_LIMIT_REQUESTS: "1" } });
    const page = (ip) => rawJson(gw, "/models/search?format=json", { headers: { "cf-connecting-ip": ip } });
    assert.equal((await page("10.0.0.1")).status, 200);
    assert.equal((await page("10.0.0.1")).status, 429);
    assert.equal((await page("10.0.0.2")).status, 200);
  });

  test("RATE_LIMITER binding decides when bound", async () => {
    const gw = await gateway({
      bindings: { API_KEYS, RATE_LIMIT_REQUESTS: "2" },
      ratelimits: { RATE_LIMITER: { simple: { limit: 2, period: 60 } } },
    });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await models(gw)).status);
    assert.deepEqual(statuses, [200, 200, 429]);
    const refused = await models(gw);
    assert.equal(refused.headers.get("x-ratelimit-limit-requests"), "2", "a 429 carries the limit too");
    assert.match(refused.headers.get("x-ratelimit-reset-requests"), /^\d+s$/);
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    assert.equal((await models(gw, KEY2)).status, 200);
  });

  test("without a limit configured, no x-ratelimit headers and no counting", async () => {
    const gw = await gateway({ bindings: { API_KEYS } });
    for (let i = 0; i < 5; i++) {
      const r = await models(gw);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("x-ratelimit-limit-requests"), null);
    }
  });
});
