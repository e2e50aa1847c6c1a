#!/usr/bin/env bash
# Prints the worker's size and fails above the budget (gzip bytes of the wasm + JS bundle).
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET_GZIP_BYTES=${BUDGET_GZIP_BYTES:-614400}  # 600 KB
wasm_raw=$(stat -c %s build/index_bg.wasm)
wasm_gz=$(gzip -9 -c build/index_bg.wasm | wc -c)
js_raw=$(stat -c %s build/index.js)
js_gz=$(gzip -9 -c build/index.js | wc -c)
total_gz=$(( wasm_gz + js_gz ))
echo "size: wasm ${wasm_raw} B raw / ${wasm_gz} B gzip; index.js ${js_raw} B raw / ${js_gz} B gzip; total gzip ${total_gz} B (budget ${BUDGET_GZIP_BYTES} B)"
if [ "$total_gz" -gt "$BUDGET_GZIP_BYTES" ]; then
  echo "size: over budget" >&2
  exit 1
fi
