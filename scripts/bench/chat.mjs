// Measures what the gateway adds over a pass-through worker, both in workerd against the local
// Workers AI emulator (zero delay): CPU per non-stream chat request, CPU per streamed token, and
// client-side latency. Each runs in its own workerd process, whose CPU time is read from /proc.
//
//   node scripts/bench/chat.mjs [--requests 400] [--streams 40] [--tokens 200] [--rounds 3]
// Needs a build (bash scripts/build.sh). Loopback only; bounded; stops by itself.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Miniflare, Log, LogLevel } from "miniflare";
import { ROOT, startGateway } from "../lib/gateway.mjs";
import { emulatorWorker } from "../../emulator/load.mjs";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "400" },
    streams: { type: "string", default: "40" },
    tokens: { type: "string", default: "200" },
    rounds: { type: "string", default: "3" },
  },
});
const ROUNDS = Number(values.rounds);
const REQUESTS = Number(values.requests);
const STREAMS = Number(values.streams);
const TOKENS = Number(values.tokens);
const KEY = "sk-bench-0123456789";
const TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU in 1/100 s

function workerdPids() {
  const pids = new Set();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "workerd") pids.add(Number(entry));
    } catch {}
  }
  return pids;
}

function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS; // utime + stime
}

async function startWithPid(start) {
  const before = workerdPids();
  const instance = await start();
  const pid = [...workerdPids()].find((p) => !before.has(p));
  if (!pid) throw new Error("could not find the new workerd process");
  return { ...instance, pid };
}

async function passthrough() {
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
        compatibilityDate: "2026-04-20",
        wrappedBindings: { AI: { scriptName: "ai-emulator" } },
      },
      emulatorWorker("ai-emulator"),
    ],
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, dispose: () => mf.dispose() };
}

const chatBody = (stream, tokens) => ({
  model: "gpt-3.5-turbo",
  stream,
  max_tokens: 1024,
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: `Write a short note about benchmarks. [[emu:tokens=${tokens}]]` },
  ],
});

async function post(url, body) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return res.text(); // reads the whole body, stream or not
}

async function measure(target, count, body) {
  for (let i = 0; i < 20; i++) await post(target.url, body); // warm up (JIT, wasm tiers)
  const cpuBefore = cpuMs(target.pid);
  const latencies = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await post(target.url, body);
    latencies.push(performance.now() - t);
  }
  const wall = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    cpuPerRequestMs: (cpuMs(target.pid) - cpuBefore) / count,
    p50: latencies[Math.floor(count * 0.5)],
    p99: latencies[Math.floor(count * 0.99)],
    rps: (count * 1000) / wall,
  };
}

const base = await startWithPid(passthrough);
const gateway = await startWithPid(() => startGateway({ bindings: { API_KEYS: KEY } }));
try {
  const rows = [];
  for (const [label, count, body, per] of [
    ["non-stream chat (20 tokens)", REQUESTS, chatBody(false, 20), 1],
    [`stream chat (${TOKENS} tokens)`, STREAMS, chatBody(true, TOKENS), TOKENS],
  ]) {
    // Alternate the two targets over several rounds and keep the median round of each, so a
    // burst of load from elsewhere on the machine does not land on one side only.
    const bs = [];
    const gs = [];
    for (let round = 0; round < ROUNDS; round++) {
      bs.push(await measure(base, count, body));
      gs.push(await measure(gateway, count, body));
    }
    const median = (runs) => runs.sort((x, y) => x.cpuPerRequestMs - y.cpuPerRequestMs)[Math.floor(runs.length / 2)];
    rows.push({ label, b: median(bs), g: median(gs), per });
  }
  const f = (n, d = 3) => n.toFixed(d);
  console.log(`\nworkerd CPU from /proc (10 ms ticks; median of ${ROUNDS} alternating rounds); latency at the client\n`);
  console.log("| case | pass-through CPU/req | gateway CPU/req | gateway adds | per token | p50 pass / gateway | p99 pass / gateway |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const { label, b, g, per } of rows) {
    const added = g.cpuPerRequestMs - b.cpuPerRequestMs;
    console.log(
      `| ${label} | ${f(b.cpuPerRequestMs)} ms | ${f(g.cpuPerRequestMs)} ms | ${f(added)} ms | ${per > 1 ? f((added * 1000) / per, 1) + " µs" : "–"} | ${f(b.p50, 2)} / ${f(g.p50, 2)} ms | ${f(b.p99, 2)} / ${f(g.p99, 2)} ms |`,
    );
  }
} finally {
  await gateway.dispose();
  await base.dispose();
}
