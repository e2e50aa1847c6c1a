// Run by scripts/build.sh on the generated build/index.js.
//
// worker-build's entry exports a WorkerEntrypoint class wrapped in two layers of Proxy: workerd
// constructs it for every request, and every property read on the instance goes through a trap
// that wraps `fetch` in yet another Proxy. That cost about 40,000 instructions per request
// (callgrind) for a worker whose only entry point is `fetch`. This exports a plain
// `{ fetch(request, env, ctx) }` object instead, which keeps what the wrappers are for: before
// each request, re-instantiate the wasm after a crash (a panic aborts the instance), and mark
// the instance as crashed when the call throws a WebAssembly.RuntimeError. The build stops if
// worker-build ever generates these pieces differently.
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2];
let js = readFileSync(file, "utf8");
if (js.includes("gatewayEntry")) {
  console.error(`entry-patch: ${file} is already patched; run worker-build again first.`);
  process.exit(1);
}

/** The one match of `pattern` in the generated entry, or the build stops. */
function findOne(what, pattern) {
  const found = [...js.matchAll(new RegExp(pattern.source, "g"))];
  if (found.length !== 1) {
    console.error(
      `entry-patch: expected one ${what} in ${file}, found ${found.length}; ` +
        "worker-build's entry changed: update scripts/lib/entry-patch.mjs",
    );
    process.exit(1);
  }
  return found[0];
}

// The shim's checkReinitialize(), handleMaybeCritical(e), the class's fetch (which calls the wasm
// export with this.env and this.ctx) and the default export (the class behind its Proxy).
// Minified names may hold `$`, which `\w` does not match: hence [\w$]+.
const reinitialize = findOne("checkReinitialize", /function ([\w$]+)\(\)\{[\w$]+\.criticalError&&\(console\.log\("Reinitializing Wasm application"\)/)[1];
const markCritical = findOne("handleMaybeCritical", /function ([\w$]+)\(([\w$]+)\)\{\2 instanceof WebAssembly\.RuntimeError&&/)[1];
const wasmFetch = findOne("Entrypoint fetch", /[\w$]+\.prototype\.fetch=function\(([\w$]+)\)\{return ([\w$]+)\.call\(this,\1,this\.env,this\.ctx\)\}/)[2];
const defaultExport = findOne("default export", /export\{(?:[^}]*?[{,])?([\w$]+) as default\}/);
// The plain object carries only `fetch`: stop if the worker ever exports other handlers.
const others = js.match(/[\w$]+\.prototype\.(queue|scheduled|email|connect|tail)=function/g);
if (others) {
  console.error(`entry-patch: the worker now exports ${others.join(", ")}; give gatewayEntry those handlers too.`);
  process.exit(1);
}

const entry =
  `var gatewayEntry={fetch(request,env,ctx){${reinitialize}();` +
  `try{return ${wasmFetch}(request,env,ctx)}catch(error){${markCritical}(error);throw error}}};`;
const exportList = defaultExport[0].replace(`${defaultExport[1]} as default}`, "gatewayEntry as default}");
js = js.slice(0, defaultExport.index) + entry + exportList + js.slice(defaultExport.index + defaultExport[0].length);
writeFileSync(file, js);
