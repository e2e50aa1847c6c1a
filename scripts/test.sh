#!/usr/bin/env bash
# The one test command: setup, lint, native unit tests, the wasm build, then the JS suites
# (emulator, schema support, e2e through workerd with the official OpenAI SDK) and the Python
# SDK smoke test. Exits non-zero on the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
started=$(date +%s)
stage() { printf '\n======== %s\n' "$*"; }

stage "setup"
bash scripts/setup.sh

stage "format and lint"
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --target wasm32-unknown-unknown --quiet -- -D warnings

stage "native unit tests (cargo test)"
cargo test --quiet 2>&1 | tee /tmp/openai-to-workers-ai-cargo-test.log
rust_passed=$(awk '/^test result:/ { sum += $4 } END { print sum + 0 }' /tmp/openai-to-workers-ai-cargo-test.log)

stage "wasm build"
bash scripts/build.sh
bash scripts/check-size.sh

stage "JavaScript suites (node --test)"
node --test --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination=/tmp/openai-to-workers-ai-node.tap \
  tests/unit-js/ tests/emulator/ tests/e2e/
js_passed=$(awk '/^# pass / { print $3 }' /tmp/openai-to-workers-ai-node.tap)
js_failed=$(awk '/^# fail / { print $3 }' /tmp/openai-to-workers-ai-node.tap)

stage "Python SDK smoke test"
bash tests/python/run.sh | tee /tmp/openai-to-workers-ai-python.log
py_passed=$(sed -n 's/^python smoke: \([0-9]*\) passed.*/\1/p' /tmp/openai-to-workers-ai-python.log)

total=$(( rust_passed + ${js_passed:-0} + ${py_passed:-0} ))
printf '\nrust %s, js %s, python %s tests in %ss\n' "$rust_passed" "${js_passed:-0}" "${py_passed:-0}" "$(( $(date +%s) - started ))"
echo "all: ${total} passed, ${js_failed:-0} failed"
