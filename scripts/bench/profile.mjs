// Where the gateway's CPU goes: runs a workload against the gateway in workerd with the V8
// inspector's sampling profiler on, then prints the functions with the most self time (JS and
// wasm alike) and the share of each. Build with wasm names kept to see Rust functions by name:
//
//   KEEP_WASM_NAMES=1 bash scripts/build.sh   (or GATEWAY_BUILD_DIR=<a copy built that way>)
//   node scripts/bench/profile.mjs [--case stream|plain] [--count 200] [--tokens 200] [--top 40]
//       [--warmup 20] [--out profile.cpuprofile]   (opens in Chrome DevTools' Performance panel)
// Loopback only; bounded.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { BENCH_KEY, benchChatBody, postBenchChat, startGateway } from "../lib/gateway.mjs";

const { values } = parseArgs({
  options: {
    case: { type: "string", default: "stream" },
    count: { type: "string", default: "200" },
    tokens: { type: "string", default: "200" },
    top: { type: "string", default: "40" },
    interval: { type: "string", default: "50" },
    out: { type: "string" },
    warmup: { type: "string", default: "20" },
  },
});
const INSPECTOR_PORT = 9300 + Math.floor(Math.random() * 500);
const stream = values.case === "stream";
const body = JSON.stringify(benchChatBody(stream, stream ? values.tokens : 20));

const post = (url) => postBenchChat(url, body);

function inspector(url) {
  const ws = new WebSocket(url);
  let id = 0;
  const waiting = new Map();
  ws.on("message", (data) => {
    const message = JSON.parse(data.toString());
    const pending = waiting.get(message.id);
    if (!pending) return;
    waiting.delete(message.id);
    message.error ? pending.reject(new Error(message.error.message)) : pending.resolve(message.result);
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      waiting.set(++id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return new Promise((resolve, reject) => {
    ws.on("open", () => resolve({ send, close: () => ws.close() }));
    ws.on("error", reject);
  });
}

const gateway = await startGateway({ bindings: { API_KEYS: BENCH_KEY }, inspectorPort: INSPECTOR_PORT });
try {
  for (let i = 0; i < Number(values.warmup); i++) await post(gateway.url);
  const session = await inspector(`ws://127.0.0.1:${INSPECTOR_PORT}/core:user:gateway`);
  await session.send("Profiler.enable");
  await session.send("Profiler.setSamplingInterval", { interval: Number(values.interval) });
  await session.send("Profiler.start");
  for (let i = 0; i < Number(values.count); i++) await post(gateway.url);
  const { profile } = await session.send("Profiler.stop");
  session.close();
  if (values.out) writeFileSync(values.out, JSON.stringify(profile));

  // Self time per function: each sample lands on one node; nodes of one function are summed.
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const hits = new Map();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const selfByName = new Map();
  let total = 0;
  for (const [id, count] of hits) {
    const frame = byNode.get(id).callFrame;
    const file = frame.url ? frame.url.split("/").pop() : "";
    const name = `${frame.functionName || "(anonymous)"}${file ? ` ${file}:${frame.lineNumber + 1}` : ""}`;
    selfByName.set(name, (selfByName.get(name) ?? 0) + count);
    total += count;
  }
  const busy = total - (selfByName.get("(idle)") ?? 0);
  const micros = (profile.endTime - profile.startTime) / total; // sampled time per sample
  const perRequest = (count) => ((count * micros) / Number(values.count)).toFixed(1);
  console.log(`${total} samples, ${busy} not idle; µs per request below are sampled self time\n`);
  console.log("| self share of busy | µs/request | function |");
  console.log("| --- | --- | --- |");
  const rows = [...selfByName].filter(([n]) => n !== "(idle)").sort((a, b) => b[1] - a[1]);
  for (const [name, count] of rows.slice(0, Number(values.top))) {
    console.log(`| ${((count * 100) / busy).toFixed(1)}% | ${perRequest(count)} | ${name} |`);
  }
} finally {
  await gateway.dispose();
}
