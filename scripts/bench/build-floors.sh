#!/usr/bin/env bash
# Builds the two floor fixtures in scripts/bench/floors/ with the gateway's tools
# (scripts/setup.sh) and release profile, each into its build/ directory:
#   workers-rs  the thinnest workers-rs worker that calls Workers AI (#[event(fetch)], Rust awaits)
#   js-driven   the same with JavaScript awaiting and Rust called only synchronously
# Compare them with the gateway in one run:
#   node scripts/bench/chat.mjs --only non-stream --processes 5 --rounds 7 --requests 200 \
#     --builds build,scripts/bench/floors/workers-rs/build,scripts/bench/floors/js-driven/build
set -euo pipefail
cd "$(dirname "$0")/floors"
export PATH="$HOME/.cargo/bin:$PATH"
ROOT="$(cd ../../.. && pwd)"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
if [ -z "${WASM_OPT_BIN:-}" ] && [ -x "$ROOT/node_modules/.bin/wasm-opt" ]; then
  export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
fi
if [ -z "${ESBUILD_BIN:-}" ] && [ -x "$ROOT/node_modules/.bin/esbuild" ]; then
  export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
fi

(cd workers-rs && worker-build --release)

cd js-driven
cargo build --release --target wasm32-unknown-unknown
rm -rf build
"$WASM_BINDGEN_BIN" --target web --out-dir build --out-name floor \
  target/wasm32-unknown-unknown/release/bench_floor_js_driven.wasm
# workerd loads .js beside the entry as CommonJS: the ES module glue must be .mjs.
mv build/floor.js build/floor.mjs
cp entry.mjs build/index.js
