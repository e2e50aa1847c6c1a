// Measures what the gateway adds over a pass-through worker, both in workerd against the local
// Workers AI emulator (zero delay): CPU per non-stream chat request, CPU per streamed token, and
// client-side latency (what the gateway adds over calling the emulator directly), and cold start.
// Each runs in its own workerd process, whose CPU time is read from /proc.
//
//   node scripts/bench/chat.mjs [--requests 100] [--streams 10] [--tokens 200] [--rounds 15] [--cold 5]
//       [--builds dirA,dirB]   (several builds side by side, e.g. before and after a change)
//       [--only non-stream]    (only the cases whose label contains this)
//       [--warmup 30]          (requests to each worker before measuring each case)
//       [--processes 1]        (fresh workerd processes per case, pooled: steadier figures)
//       [--ai replay]          (the binding: `replay`, the emulator's answers recorded and replayed
//                               (makeReplayingAi in emulator/ai-emulator.js); `emulator`, the
//                               emulator run every time, in the measured thread)
//       [--socket direct]      (`direct`: requests go straight to each worker; `entry`: through
//                               miniflare's entry worker, as `npm run dev` serves them)
// (requests and streams are per round)
// Needs a build (bash scripts/build.sh). Loopback only; bounded; stops by itself.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { BENCH_KEY, benchChatBody as chatBody, postBenchChat, startGateway, startPassthrough } from "../lib/gateway.mjs";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "100" },
    streams: { type: "string", default: "10" },
    tokens: { type: "string", default: "200" },
    rounds: { type: "string", default: "15" },
    cold: { type: "string", default: "5" },
    builds: { type: "string" },
    warmup: { type: "string", default: "30" },
    only: { type: "string" }, // run only the cases whose label contains this, e.g. "non-stream"
    processes: { type: "string", default: "1" },
    ai: { type: "string", default: "replay" },
    socket: { type: "string", default: "direct" },
  },
});
const ROUNDS = Number(values.rounds);
const REQUESTS = Number(values.requests);
const STREAMS = Number(values.streams);
const TOKENS = Number(values.tokens);
const COLD = Number(values.cold);
const WARMUP = Number(values.warmup);
const PROCESSES = Number(values.processes);
if (!["replay", "emulator"].includes(values.ai)) throw new Error(`--ai must be replay or emulator, not ${values.ai}`);
// Both workers call the same binding: the emulator, or its answers replayed (makeReplayingAi in emulator/ai-emulator.js).
const replay = values.ai === "replay";
if (!["direct", "entry"].includes(values.socket)) throw new Error(`--socket must be direct or entry, not ${values.socket}`);
const direct = values.socket === "direct";
const startFloor = () => startPassthrough({ replay, direct });

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

// CPU time in ms from /proc/<pid>/task/*/schedstat (the scheduler's own accounting), not
// /proc/<pid>/stat's 10 ms ticks, so short runs are not quantised. `request` is workerd's main
// thread, where the workers run; `background` is every other thread: V8's compilers (which
// optimise wasm and JS functions as they get hot, long after the first requests) and its
// concurrent GC. The background share fades as the isolate warms up and is not a request's own
// work, so the two are reported apart.
function cpuMs(pid) {
  const cpu = { request: 0, background: 0 };
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
      cpu[task === String(pid) ? "request" : "background"] += ns / 1e6;
    } catch {} // a thread that ended between the listing and the read
  }
  return cpu;
}

async function startWithPid(start) {
  const before = workerdPids();
  const instance = await start();
  const pid = [...workerdPids()].find((p) => !before.has(p));
  if (!pid) throw new Error("could not find the new workerd process");
  pinToLastCpu(pid);
  return { ...instance, pid };
}

// Every workerd runs on the last CPU and this client on the others, so the client's own work
// (fetch, JSON) does not compete with the process being measured: rounds vary much less.
const CPUS = availableParallelism();
function pinToLastCpu(pid) {
  if (CPUS < 2) return;
  try {
    execFileSync("taskset", ["-a", "-p", "-c", String(CPUS - 1), String(pid)], { stdio: "ignore" });
  } catch {} // no taskset: unpinned, only noisier
}
if (CPUS >= 2) {
  try {
    execFileSync("taskset", ["-p", "-c", `0-${CPUS - 2}`, String(process.pid)], { stdio: "ignore" });
  } catch {}
}

const post = (url, body) => postBenchChat(url, JSON.stringify(body));

async function measure(target, count, body) {
  const cpuBefore = cpuMs(target.pid);
  const latencies = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await post(target.url, body);
    latencies.push(performance.now() - t);
  }
  const cpuAfter = cpuMs(target.pid);
  return {
    cpuPerRequestMs: (cpuAfter.request - cpuBefore.request) / count,
    backgroundPerRequestMs: (cpuAfter.background - cpuBefore.background) / count,
    latencies,
  };
}

const median = (values) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
const percentile = (values, p) => [...values].sort((x, y) => x - y)[Math.floor(values.length * p)];

/** Cold start: a fresh workerd each time, timed from start to the first answer. */
async function coldStart(start, body) {
  const times = [];
  for (let i = 0; i < COLD; i++) {
    const t = performance.now();
    const target = await start();
    await post(target.url, body);
    times.push(performance.now() - t);
    await target.dispose();
  }
  return median(times);
}

// --builds a,b,... compares several builds (directories like build/) side by side in one run.
const builds = values.builds ? values.builds.split(",") : [undefined];
const startOurs = (buildDir) => () => startGateway({ bindings: { API_KEYS: BENCH_KEY }, buildDir, replay, direct });
const cases = [
  { label: "non-stream chat (20 tokens)", count: REQUESTS, body: chatBody(false, 20) },
  { label: "stream chat (20 tokens)", count: STREAMS, body: chatBody(true, 20) },
  { label: `stream chat (${TOKENS} tokens)`, count: STREAMS, body: chatBody(true, TOKENS) },
];
let running = [];
try {
  const rows = [];
  for (const { label, count, body } of cases.filter((c) => !values.only || c.label.includes(values.only))) {
    const bs = [];
    const per = builds.map(() => ({ cpu: [], diffs: [], background: [], latencies: [] }));
    const baseLatencies = [];
    // A workerd process keeps its JIT's choices for its life, so one process per build can sit
    // ±0.05 ms per request away from another: --processes starts fresh ones and pools them.
    for (let instance = 0; instance < PROCESSES; instance++) {
      const base = await startWithPid(startFloor);
      running = [base];
      const gateways = [];
      for (const buildDir of builds) gateways.push(await startWithPid(startOurs(buildDir)));
      running.push(...gateways);
      for (const target of running) for (let i = 0; i < WARMUP; i++) await post(target.url, body); // JIT, wasm tiers
      // Short alternating rounds; the figure is the median of each round's difference, so load
      // from elsewhere on the machine (it drifts over seconds) falls on both sides alike.
      for (let round = 0; round < ROUNDS; round++) {
        const b = await measure(base, count, body);
        bs.push(b.cpuPerRequestMs);
        baseLatencies.push(...b.latencies);
        for (const [i, gateway] of gateways.entries()) {
          const g = await measure(gateway, count, body);
          per[i].cpu.push(g.cpuPerRequestMs);
          per[i].diffs.push(g.cpuPerRequestMs - b.cpuPerRequestMs);
          per[i].background.push(g.backgroundPerRequestMs - b.backgroundPerRequestMs);
          per[i].latencies.push(...g.latencies);
        }
      }
      for (const target of running) await target.dispose();
      running = [];
    }
    for (const [i, buildDir] of builds.entries()) {
      rows.push({
        label,
        build: buildDir ?? "build",
        b: median(bs),
        g: median(per[i].cpu),
        added: median(per[i].diffs),
        background: median(per[i].background),
        latency: { b: baseLatencies, g: per[i].latencies },
      });
    }
  }
  const f = (n, d = 3) => n.toFixed(d);
  console.log(`\nworkerd CPU from /proc/<pid>/task/*/schedstat, median of ${ROUNDS} alternating rounds × ${PROCESSES} processes; latency at the client; binding: ${values.ai}; socket: ${values.socket}`);
  console.log("(request thread: where the workers run; background: V8's compiler and GC threads)\n");
  console.log("| case | build | pass-through CPU/req | gateway CPU/req | gateway adds | background adds | p50 pass / gateway | p99 pass / gateway |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const { label, build, b, g, added, background, latency } of rows) {
    const p = (side, q) => f(percentile(latency[side], q), 2);
    console.log(
      `| ${label} | ${build} | ${f(b)} ms | ${f(g)} ms | ${f(added)} ms | ${f(background)} ms | ${p("b", 0.5)} / ${p("g", 0.5)} ms | ${p("b", 0.99)} / ${p("g", 0.99)} ms |`,
    );
  }
  // What one more streamed token costs: the difference between the long and the short stream.
  console.log("");
  for (const build of values.only ? [] : builds.map((b) => b ?? "build")) {
    const added = (label) => rows.find((r) => r.build === build && r.label === label).added;
    const perToken = ((added(cases[2].label) - added(cases[1].label)) * 1000) / (TOKENS - 20);
    console.log(`${build}: +${f(perToken, 1)} µs CPU per streamed token (marginal), +${f(added(cases[0].label), 3)} ms per non-stream request, +${f(added(cases[1].label), 3)} ms per 20-token stream`);
  }
  if (COLD > 0) {
    const body = chatBody(false, 20);
    const cold = [`pass-through ${f(await coldStart(startFloor, body), 0)} ms`];
    for (const build of builds) cold.push(`${build ?? "gateway"} ${f(await coldStart(startOurs(build), body), 0)} ms`);
    console.log(`\ncold start (new workerd to first answer, median of ${COLD}): ${cold.join(", ")}`);
  }
} finally {
  for (const target of running) await target.dispose();
}
