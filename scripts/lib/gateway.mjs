// Starts the built worker (build/index.js + wasm) in workerd through miniflare, with `AI` bound
// to the local Workers AI emulator. Used by `npm run dev` (scripts/dev.mjs), the e2e tests and the
// benchmarks (which also start the pass-through worker from here).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { Miniflare, Log, LogLevel } from "miniflare";
import { emulatorWorker } from "../../emulator/load.mjs";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** `KEY=value` lines (as in .dev.vars); quotes around values are removed. */
export function parseDotVars(text) {
  const vars = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq < 1) continue;
    let value = line.slice(eq + 1).trim();
    if (/^(".*"|'.*')$/.test(value)) value = value.slice(1, -1);
    vars[line.slice(0, eq).trim()] = value;
  }
  return vars;
}

/** The plain string vars of wrangler.toml's [vars] table and its compatibility_date. */
export function readWranglerToml() {
  const text = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const vars = {};
  let section = "";
  let compatibilityDate;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("[")) { section = line; continue; }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"/.exec(line);
    if (!m) continue;
    if (section === "" && m[1] === "compatibility_date") compatibilityDate = m[2];
    if (section === "[vars]") vars[m[1]] = m[2];
  }
  return { vars, compatibilityDate };
}

/**
 * Starts the gateway. `bindings` override vars/secrets (e.g. { API_KEYS: "sk-test-1" });
 * `port: 0` picks a free port; `kvNamespaces` are bound as in-memory KV (pass [] to run without
 * the optional GATEWAY_KV); `ratelimits` binds Rate Limiting bindings, e.g.
 * { RATE_LIMITER: { simple: { limit: 100, period: 60 } } }; `inspectorPort` opens the V8 inspector; `buildDir` runs another build than build/;
 * `replay` and `direct` are the benchmarks' binding and socket (below). Returns { url, mf, logs, dispose }: `logs` holds the worker's
 * stdout lines (its per-request JSON log), printed too when `printLogs` is set.
 */
export async function startGateway({
  port = 0,
  host = "127.0.0.1",
  bindings = {},
  emulator = {},
  verbose = false,
  kvNamespaces = ["GATEWAY_KV"],
  printLogs = verbose,
  ratelimits = undefined,
  inspectorPort = undefined,
  buildDir = undefined,
  replay = false,
  direct = false,
} = {}) {
  // GATEWAY_BUILD_DIR runs a copy of build/ (so a rebuild does not disturb a running suite).
  buildDir ??= process.env.GATEWAY_BUILD_DIR || join(ROOT, "build");
  const script = join(buildDir, "index.js");
  if (!existsSync(script)) {
    throw new Error(`${script} is missing: run \`bash scripts/build.sh\` (or \`npm run dev\`, which builds first).`);
  }
  const { vars, compatibilityDate } = readWranglerToml();
  const logs = [];
  let workerStderr; // unpiped on dispose, or each gateway leaves listeners on process.stderr
  const mf = new Miniflare({
    host,
    port,
    log: new Log(verbose ? LogLevel.INFO : LogLevel.WARN),
    ...(inspectorPort ? { inspectorPort } : {}), // V8 inspector (scripts/bench/profile.mjs)
    cf: false, // offline: do not fetch the Request.cf placeholder from the internet
    // The worker's stdout is its per-request JSON log lines: kept in `logs` (the newest 2000) for
    // tests, printed only when asked. stderr (warnings, errors) always passes through.
    handleRuntimeStdio(stdout, stderr) {
      createInterface({ input: stdout }).on("line", (line) => {
        logs.push(line);
        if (logs.length > 2000) logs.splice(0, logs.length - 2000);
        if (printLogs) console.log(line);
      });
      stderr.pipe(process.stderr);
      workerStderr = stderr;
    },
    workers: [
      {
        name: "gateway",
        modules: true,
        scriptPath: script,
        modulesRoot: buildDir,
        modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
        compatibilityDate,
        bindings: { ...vars, ...bindings },
        kvNamespaces,
        ...(ratelimits ? { ratelimits } : {}),
        wrappedBindings: { AI: aiBinding(replay) },
        ...directSocket(direct),
      },
      emulatorWorker("ai-emulator", emulator),
    ],
  });
  const url = await urlOf(mf, "gateway", direct);
  const dispose = async () => {
    await mf.dispose();
    workerStderr?.unpipe(process.stderr);
  };
  return { url, mf, logs, dispose };
}

/**
 * The `AI` binding: the emulator, or with `replay` (the benchmarks) its answers recorded and
 * replayed (`makeReplayingAi` in emulator/ai-emulator.js), so that its own CPU is small and the
 * same in every process.
 */
const aiBinding = (replay) => ({ scriptName: "ai-emulator", ...(replay ? { entrypoint: "makeReplayingAi" } : {}) });

/**
 * With `direct`, a socket straight to the worker (the benchmarks), bypassing miniflare's entry
 * worker, which otherwise takes every request first: it rebuilds the request, checks its encoding
 * and pipes the answer back, all in the measured thread (about 0.27 ms of the pass-through's
 * 0.47 ms per request).
 */
const directSocket = (direct) => (direct ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] } : {});

async function urlOf(mf, workerName, direct) {
  const url = direct ? await mf.unsafeGetDirectURL(workerName) : await mf.ready;
  return url.toString().replace(/\/$/, "");
}

/** The key the benchmarks' gateways accept. */
export const BENCH_KEY = "sk-bench-0123456789";

/**
 * The benchmarks' request headers. `accept-encoding: identity`: on Cloudflare the edge compresses
 * a response outside the Worker, but miniflare's entry worker does it in workerd's own thread, so
 * it would be counted, for the gateway's larger answers more than for the pass-through's.
 * BENCH_ACCEPT_ENCODING=gzip measures with compression, as the benchmarks did before.
 */
const BENCH_HEADERS = {
  authorization: `Bearer ${BENCH_KEY}`,
  "content-type": "application/json",
  "accept-encoding": process.env.BENCH_ACCEPT_ENCODING || "identity",
};

/** POSTs a benchmark chat `body` (a JSON string) to `url`; its whole answer, or throws unless 200. */
export async function postBenchChat(url, body) {
  const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: BENCH_HEADERS, body });
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return res.text(); // reads the whole body, stream or not
}

/** The benchmarks' chat request: `tokens` words of answer from the emulator. */
export const benchChatBody = (stream, tokens) => ({
  model: "gpt-3.5-turbo",
  stream,
  max_tokens: 1024,
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: `Write a short note about benchmarks. [[emu:tokens=${tokens}]]` },
  ],
});

/**
 * The benchmarks' floor: scripts/bench/passthrough-worker.js (calls the same emulator and returns
 * its answer untouched) in its own workerd. `replay` and `direct` as for startGateway. Returns
 * { url, dispose }.
 */
export async function startPassthrough({ replay = false, direct = false } = {}) {
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    cf: false,
    log: new Log(LogLevel.WARN),
    workers: [
      {
        name: "passthrough",
        modules: true,
        scriptPath: join(ROOT, "scripts/bench/passthrough-worker.js"),
        compatibilityDate: readWranglerToml().compatibilityDate,
        wrappedBindings: { AI: aiBinding(replay) },
        ...directSocket(direct),
      },
      emulatorWorker("ai-emulator"),
    ],
  });
  const url = await urlOf(mf, "passthrough", direct);
  return { url, dispose: () => mf.dispose() };
}
