#!/usr/bin/env bash
# Builds the worker into build/ (index.js + wasm) with worker-build, using the tools that
# scripts/setup.sh installed. Offline-safe: no tool is downloaded from GitHub.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# worker-build would download these from GitHub; point it at local ones instead.
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
if [ -z "${WASM_OPT_BIN:-}" ] && [ -x node_modules/.bin/wasm-opt ]; then
  export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
fi
if [ -z "${ESBUILD_BIN:-}" ] && [ -x node_modules/.bin/esbuild ]; then
  export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
fi

worker-build --release "$@"

# The Rust futures' executor schedules with a promise instead of queueMicrotask, and the entry is
# a plain { fetch } object instead of a class behind Proxies (see each script for why).
node scripts/lib/executor-patch.mjs build/index.js
node scripts/lib/entry-patch.mjs build/index.js

# worker-build keeps the wasm "name" section (function names, ~120 KB) on purpose; the deployed
# worker does not need it, and a smaller module uploads and starts faster.
if [ -n "${WASM_OPT_BIN:-}" ] && [ "${KEEP_WASM_NAMES:-0}" != 1 ]; then
  "$WASM_OPT_BIN" build/index_bg.wasm -o build/index_bg.wasm --strip-debug --strip-producers \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling
fi
