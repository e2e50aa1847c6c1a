// End-to-end: the post-deploy checks (scripts/api/*.sh, run by scripts/tests/comprehensive-test.sh)
// against the local gateway, as an operator runs them against a deployment; and their failures
// (wrong key, no WORKER_URL, a broken stream, no jq) are clear. Skipped when curl or jq is missing.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../scripts/lib/gateway.mjs";
import { startGateway, KEY } from "./_support.mjs";

const API_DIR = join(ROOT, "scripts", "api");
const SUITE = join(ROOT, "scripts", "tests", "comprehensive-test.sh");
const CHECKS = readdirSync(API_DIR)
  .filter((f) => f.endsWith(".sh") && !f.startsWith("_"))
  .map((f) => f.slice(0, -3));

const missing = ["curl", "jq"].filter((tool) => spawnSync(tool, ["--version"]).error);
const skip = missing.length
  ? `${missing.join(" and ")} not installed (scripts/api/*.sh need curl and jq): sudo apt-get install -y ${missing.join(" ")}`
  : false;

/** The environment without the scripts' settings; API_ENV_FILE="" keeps the project's .env out. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(WORKER_URL|API_KEY|API_ENV_FILE|API_TIMEOUT|API_TEST_TIMEOUT|PROMPT|IMAGE_SIZE|[A-Z]+_MODEL)$/.test(k)) env[k] = v;
  }
  return { ...env, API_ENV_FILE: "", ...extra };
}

/** Runs a script asynchronously (the gateway's log pipe must keep draining meanwhile). */
function run(script, args = [], env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [script, ...args], { cwd: tmpdir(), env: cleanEnv(env) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, output: stdout + stderr }));
  });
}

/** The rows of comprehensive-test's table: { name: { result, seconds, detail } }. */
function table(stdout) {
  const rows = {};
  for (const line of stdout.split("\n")) {
    const m = /^(\S+)\s+(pass|FAIL)\s+([\d.]+)\s+(.*)$/.exec(line);
    if (m) rows[m[1]] = { result: m[2], seconds: Number(m[3]), detail: m[4] };
  }
  return rows;
}

describe("post-deploy API scripts", { skip }, () => {
  let gw;
  let env;
  before(async () => {
    gw = await startGateway({ bindings: { API_KEYS: KEY } });
    env = { WORKER_URL: gw.url, API_KEY: KEY, API_TEST_TIMEOUT: "60" };
  });
  after(() => gw?.dispose());

  test("comprehensive-test.sh: every check in scripts/api passes against the local gateway", { timeout: 180_000 }, async () => {
    assert.ok(CHECKS.length >= 12, `scripts/api has the checks: ${CHECKS.join(", ")}`);
    const r = await run(SUITE, [], env);
    assert.equal(r.code, 0, r.output);
    const rows = table(r.stdout);
    assert.deepEqual(Object.keys(rows).sort(), [...CHECKS].sort(), r.stdout);
    for (const name of CHECKS) {
      assert.equal(rows[name].result, "pass", `${name}: ${rows[name].detail}`);
      assert.match(rows[name].detail, /\b200\b/, `${name} reports the status`);
    }
    assert.match(r.stdout, new RegExp(`^${CHECKS.length} passed, 0 failed$`, "m"));
  });

  test("a subset by name, and an unknown name is exit 2 listing the checks", async () => {
    const r = await run(SUITE, ["chat", "tool-loop.sh"], env);
    assert.equal(r.code, 0, r.output);
    assert.deepEqual(Object.keys(table(r.stdout)), ["chat", "tool-loop"]);
    assert.match(r.stdout, /tool result -> 200/);
    const bad = await run(SUITE, ["nope"], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no check 'nope'; the checks: health models chat/);
  });

  test("a wrong key: the check exits 1 with the 401 and the gateway's message; the suite fails", async () => {
    const wrong = { ...env, API_KEY: "sk-wrong-000" };
    const r = await run(join(API_DIR, "chat.sh"), [], wrong);
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /^chat: FAIL: POST \/v1\/chat\/completions: HTTP 401 \(expected 200\): Incorrect API key provided.*\[invalid_api_key\]/m);
    assert.ok(!r.output.includes("sk-wrong-000"), "the key is not printed");

    const suite = await run(SUITE, ["health", "models", "embeddings"], wrong);
    assert.equal(suite.code, 1, suite.output);
    const rows = table(suite.stdout);
    assert.equal(rows.health.result, "pass", "/health needs no key");
    assert.equal(rows.models.result, "FAIL");
    assert.match(rows.models.detail, /HTTP 401/);
    assert.equal(rows.embeddings.result, "FAIL");
    assert.match(suite.stdout, /^1 passed, 2 failed$/m);
  });

  test("WORKER_URL missing: exit 2 saying how to set it (script and suite)", async () => {
    const r = await run(join(API_DIR, "models.sh"), [], { API_KEY: KEY });
    assert.equal(r.code, 2, r.output);
    assert.match(r.stderr, /^models: WORKER_URL is not set: export WORKER_URL=https:\/\/<your-worker>\.workers\.dev or put it in .*\.env/m);
    const suite = await run(SUITE, [], { API_KEY: KEY });
    assert.equal(suite.code, 2, suite.output);
    assert.match(suite.stderr, /WORKER_URL is not set/);
    const noKey = await run(join(API_DIR, "chat.sh"), [], { WORKER_URL: gw.url });
    assert.equal(noKey.code, 2, noKey.output);
    assert.match(noKey.stderr, /API_KEY is not set/);
  });

  test("settings from a .env file; the environment wins; a trailing /v1 is fine", async () => {
    const dir = mkdtempSync(join(tmpdir(), "api-scripts-env-"));
    try {
      const file = join(dir, ".env");
      writeFileSync(file, `# deployment\nWORKER_URL="${gw.url}/v1/"\r\nexport API_KEY=${KEY}\nCHAT_MODEL=gpt-4\n`);
      const r = await run(join(API_DIR, "chat.sh"), [], { API_ENV_FILE: file });
      assert.equal(r.code, 0, r.output);
      assert.match(r.stdout, /^chat: 200 in [\d.]+s, model gpt-4, "/);
      const envWins = await run(join(API_DIR, "chat.sh"), [], { API_ENV_FILE: file, API_KEY: "sk-wrong-000", CHAT_MODEL: "gpt-4o-mini" });
      assert.equal(envWins.code, 1);
      assert.match(envWins.stderr, /HTTP 401/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a stream cut by an upstream error fails with that error", async () => {
    const r = await run(join(API_DIR, "chat-stream.sh"), [], { ...env, PROMPT: "hi [[emu:fail_after=2]]" });
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /chat-stream: FAIL: .*error event in the stream: Workers AI error 3007/);
    const resp = await run(join(API_DIR, "responses-stream.sh"), [], { ...env, PROMPT: "hi [[emu:fail_after=3]]" });
    assert.equal(resp.code, 1, resp.output);
    assert.match(resp.stderr, /error event in the stream: Workers AI error 3007/);
  });

  test("a model that cannot call tools: tool-call fails with the gateway's 400", async () => {
    const r = await run(join(API_DIR, "tool-call.sh"), [], { ...env, TOOL_MODEL: "gpt-4o-mini" });
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /HTTP 400 \(expected 200\): Model `gpt-4o-mini` .* does not support tool calling/);
  });

  test("jq missing: exit 2 saying how to install it", async () => {
    const bin = mkdtempSync(join(tmpdir(), "api-scripts-nojq-"));
    try {
      for (const tool of ["bash", "basename", "dirname", "curl"]) {
        const path = spawnSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
        symlinkSync(path, join(bin, tool));
      }
      const r = await run(join(API_DIR, "health.sh"), [], { ...env, PATH: bin });
      assert.equal(r.code, 2, r.output);
      assert.match(r.stderr, /^health: needs jq\. Install: sudo apt-get install -y jq .*brew install jq/m);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
