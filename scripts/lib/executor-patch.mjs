// Run by scripts/build.sh on the generated build/index.js.
//
// The executor that runs the worker's Rust futures (js-sys) wakes its task queue with the global
// `queueMicrotask` when there is one, else with `then` on a resolved promise; both run the queue
// as a microtask. In workerd `queueMicrotask` is a runtime API that wraps each callback (to carry
// the async context) and cost about 35,000 more instructions per chat request than `then`
// (callgrind; about 0.05 ms of CPU). This makes the executor's one probe for `queueMicrotask` (an
// import that reads it off the global) answer "none", so it takes the promise branch. Nothing
// else is touched, and the build stops if wasm-bindgen ever generates the probe differently.
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2];
const js = readFileSync(file, "utf8");
// Minified names may hold `$`, which `\w` does not match.
const probe = /(__wbg_queueMicrotask_[0-9a-f]+:function\(([\w$]+)\)\{)return \2\.queueMicrotask\}/g;
const found = js.match(probe) ?? [];
if (found.length !== 1) {
  console.error(
    `executor-patch: expected one queueMicrotask probe in ${file}, found ${found.length}; ` +
      "wasm-bindgen's output changed: update scripts/lib/executor-patch.mjs",
  );
  process.exit(1);
}
writeFileSync(file, js.replace(probe, "$1return undefined}"));
