// Instructions per non-stream chat request, counted by valgrind's callgrind: a count that does
// not drift with machine load the way CPU time does (±2–3% between runs against ±15% for CPU time),
// so small changes show. workerd runs under callgrind (about 50× slower); after a warm-up, each
// round zeroes the counters, sends --requests requests and dumps the main thread's count.
//
//   node scripts/bench/instructions.mjs [--builds build,dirB] [--requests 300] [--rounds 2]
//       [--warmup 300] [--keep] [--ai replay|emulator] [--socket direct|entry]
// --ai, --socket: the binding both workers call and how requests reach them, as in chat.mjs.
// --keep leaves callgrind's dumps (one per round and thread, cg.<pid>.<n>-<thread>) in the
// printed directory, for a per-function comparison; otherwise they are deleted.
// Needs valgrind (callgrind_control) and a build; the pass-through worker is always measured too.
// Only the main thread is counted: V8's background compiler and GC threads are left out.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import workerdPackage from "workerd";
import { BENCH_KEY, ROOT, benchChatBody, postBenchChat, startGateway, startPassthrough } from "../lib/gateway.mjs";

const { values } = parseArgs({
  options: {
    builds: { type: "string", default: "build" },
    requests: { type: "string", default: "300" },
    rounds: { type: "string", default: "2" },
    warmup: { type: "string", default: "300" },
    keep: { type: "boolean", default: false },
    ai: { type: "string", default: "replay" },
    socket: { type: "string", default: "direct" },
  },
});
const REQUESTS = Number(values.requests);
if (!["replay", "emulator"].includes(values.ai)) throw new Error(`--ai must be replay or emulator, not ${values.ai}`);
const replay = values.ai === "replay";
if (!["direct", "entry"].includes(values.socket)) throw new Error(`--socket must be direct or entry, not ${values.socket}`);
const direct = values.socket === "direct";
const body = JSON.stringify(benchChatBody(false, 20));

try {
  execFileSync("valgrind", ["--version"], { stdio: "ignore" });
} catch {
  console.error("instructions: valgrind is not installed (e.g. `apt-get install valgrind`).");
  process.exit(1);
}

// Miniflare starts whatever MINIFLARE_WORKERD_PATH names: a script that runs workerd under callgrind.
const out = mkdtempSync(join(tmpdir(), "instructions-"));
const workerd = workerdPackage.default; // the path of the binary miniflare runs
const wrapper = join(out, "workerd");
writeFileSync(
  wrapper,
  `#!/bin/sh\nexec valgrind --tool=callgrind --smc-check=all-non-file --separate-threads=yes --dump-instr=no ` +
    `--callgrind-out-file='${out}/cg.%p' --log-file='${out}/valgrind.%p.log' '${workerd}' "$@"\n`,
);
chmodSync(wrapper, 0o755);
process.env.MINIFLARE_WORKERD_PATH = wrapper;

function callgrindPids() {
  const pids = new Set();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("callgrind")) pids.add(Number(entry));
    } catch {} // a process that ended meanwhile
  }
  return pids;
}

async function post(url) {
  // Under callgrind a kept-alive connection is sometimes reset before it is reused: retry.
  for (let attempt = 0; ; attempt++) {
    try {
      return await postBenchChat(url, body);
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

// The newest dump of the main thread (callgrind names each thread's dump <file>.<n>-<thread>).
function mainThreadDump(pid) {
  const dumps = readdirSync(out).filter((f) => f.startsWith(`cg.${pid}.`) && f.endsWith("-01"));
  const newest = dumps.sort((a, b) => Number(a.split(".")[2].split("-")[0]) - Number(b.split(".")[2].split("-")[0])).at(-1);
  return join(out, newest);
}

async function measure(label, start) {
  const before = callgrindPids();
  const target = await start();
  try {
    const pid = [...callgrindPids()].find((p) => !before.has(p));
    if (!pid) throw new Error("could not find workerd under callgrind");
    for (let i = 0; i < Number(values.warmup); i++) await post(target.url);
    const counts = [];
    for (let round = 0; round < Number(values.rounds); round++) {
      execFileSync("callgrind_control", ["-z", String(pid)], { stdio: "ignore" });
      for (let i = 0; i < REQUESTS; i++) await post(target.url);
      execFileSync("callgrind_control", ["-d", String(pid)], { stdio: "ignore" });
      const file = mainThreadDump(pid);
      const totals = readFileSync(file, "utf8").match(/^(?:totals|summary): (\d+)/m);
      if (!totals) throw new Error(`no instruction total in ${file}`);
      counts.push(Number(totals[1]) / REQUESTS);
    }
    console.log(`${label}: ${counts.map((c) => Math.round(c).toLocaleString("en")).join(", ")} instructions per request (main thread, per round)`);
  } finally {
    await target.dispose();
  }
}

try {
  await measure("pass-through", () => startPassthrough({ replay, direct }));
  for (const build of values.builds.split(",")) {
    await measure(build, () => startGateway({ bindings: { API_KEYS: BENCH_KEY }, buildDir: resolve(ROOT, build), replay, direct }));
  }
} finally {
  if (values.keep) console.log(`callgrind dumps kept in ${out}`);
  else rmSync(out, { recursive: true, force: true });
}
