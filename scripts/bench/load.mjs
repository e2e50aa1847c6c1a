// Load test on loopback: streaming clients that each keep a stream open, plus a steady rate of
// non-stream requests, against the built gateway in workerd with the local Workers AI emulator.
// Passes when every request succeeded and the workerd process's memory stayed flat.
//
//   node scripts/bench/load.mjs [--duration 30] [--streams 50] [--rate 200] [--tokens 200]
// Needs a build (bash scripts/build.sh). Not part of the test command: it takes --duration
// seconds and the whole machine. Exit code 1 on any error or on memory growth over 25%.
import { readFileSync, readdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { startGateway } from "../lib/gateway.mjs";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "30" },
    streams: { type: "string", default: "50" },
    rate: { type: "string", default: "200" },
    tokens: { type: "string", default: "200" },
  },
});
const DURATION_MS = Number(values.duration) * 1000;
const STREAMS = Number(values.streams);
const RATE = Number(values.rate);
const TOKENS = Number(values.tokens);
const KEY = "sk-load-0123456789";

const workerdPids = () =>
  new Set(
    readdirSync("/proc").filter((e) => {
      if (!/^\d+$/.test(e)) return false;
      try {
        return readFileSync(`/proc/${e}/comm`, "utf8").trim() === "workerd";
      } catch {
        return false;
      }
    }),
  );
const rssMb = (pid) => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return line ? Number(line[1]) / 1024 : NaN;
};

const before = workerdPids();
const gw = await startGateway({ bindings: { API_KEYS: KEY } });
const pid = [...workerdPids()].find((p) => !before.has(p));

const headers = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };
const body = (stream, text) =>
  JSON.stringify({ model: "gpt-3.5-turbo", stream, max_tokens: 4096, messages: [{ role: "user", content: text }] });
const errors = new Map();
const fail = (what) => errors.set(what, (errors.get(what) ?? 0) + 1);
const latencies = [];
let streamsDone = 0;
let tokensStreamed = 0;
let nonStreamDone = 0;

const endAt = performance.now() + DURATION_MS;
// Each streaming client: one stream after another (a token every 5 ms), until the time is up.
async function streamingClient() {
  while (performance.now() < endAt) {
    try {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers,
        body: body(true, `Tell a long story. [[emu:tokens=${TOKENS}]] [[emu:delay=5]]`),
      });
      const text = await res.text();
      if (res.status !== 200) fail(`stream HTTP ${res.status}`);
      else if (!text.endsWith("data: [DONE]\n\n")) fail("stream without [DONE]");
      else {
        streamsDone++;
        tokensStreamed += TOKENS;
      }
    } catch (error) {
      fail(`stream ${error.message}`);
    }
  }
}

// Non-stream requests fired on a fixed schedule, not waiting for each other.
async function steadyRate() {
  const pending = [];
  const interval = 1000 / RATE;
  for (let next = performance.now(); next < endAt; next += interval) {
    const wait = next - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const started = performance.now();
    pending.push(
      fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers, body: body(false, "hi [[emu:tokens=20]]") })
        .then(async (res) => {
          const json = await res.json();
          if (res.status !== 200 || json.object !== "chat.completion") fail(`non-stream HTTP ${res.status}`);
          else {
            nonStreamDone++;
            latencies.push(performance.now() - started);
          }
        })
        .catch((error) => fail(`non-stream ${error.message}`)),
    );
  }
  await Promise.all(pending);
}

// Warm up, then sample memory once a second.
for (let i = 0; i < 50; i++) await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers, body: body(false, "warm") }).then((r) => r.text());
const memory = [rssMb(pid)];
const sampler = setInterval(() => memory.push(rssMb(pid)), 1000);
const started = performance.now();
await Promise.all([...Array.from({ length: STREAMS }, streamingClient), steadyRate()]);
clearInterval(sampler);
memory.push(rssMb(pid));
const seconds = (performance.now() - started) / 1000;
await gw.dispose();

latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))].toFixed(1) : "–");
// Flat: after the first third (warm-up: the wasm heap and workerd's pools grow to the load's
// working set, then stay), the last third holds no more than 25% over the middle third's peak.
const third = Math.max(1, Math.floor(memory.length / 3));
const early = Math.max(...memory.slice(third, 2 * third));
const late = Math.max(...memory.slice(-third));
const growth = (late - early) / early;
console.log(`load: ${seconds.toFixed(1)} s, ${STREAMS} streaming clients + ${RATE} non-stream requests/s`);
console.log(`  streams completed: ${streamsDone} (${tokensStreamed} tokens, ${(tokensStreamed / seconds).toFixed(0)} tokens/s)`);
console.log(`  non-stream completed: ${nonStreamDone} (${(nonStreamDone / seconds).toFixed(0)}/s), latency p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms`);
console.log(`  errors: ${errors.size ? JSON.stringify(Object.fromEntries(errors)) : "none"}`);
console.log(`  workerd RSS by second (MB): ${memory.map((m) => m.toFixed(0)).join(" ")}`);
console.log(`  workerd RSS: start ${memory[0].toFixed(1)} MB, middle-third peak ${early.toFixed(1)} MB, last-third peak ${late.toFixed(1)} MB (${(growth * 100).toFixed(1)}%)`);
const ok = errors.size === 0 && growth <= 0.25;
console.log(ok ? "load: ok" : "load: FAILED");
process.exit(ok ? 0 : 1);
