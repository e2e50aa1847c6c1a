#!/usr/bin/env bash
# Installs what building and testing need, skipping whatever is already there:
#   - the wasm32-unknown-unknown Rust target
#   - worker-build (pinned) and wasm-bindgen-cli (exactly the wasm-bindgen in Cargo.lock)
#   - npm packages from package-lock.json (miniflare/workerd, wrangler, openai, binaryen, ajv, …)
# Only crates.io and the npm registry are used; nothing is downloaded from GitHub.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

WORKER_BUILD_VERSION=0.8.7
step() { printf '\n== %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(worker-build --version 2>/dev/null || true)" != "$WORKER_BUILD_VERSION" ]; then
  step "installing worker-build $WORKER_BUILD_VERSION (about 5 minutes, once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi

# wasm-bindgen-cli must match the wasm-bindgen crate version exactly.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $bindgen_version" ]; then
  step "installing wasm-bindgen-cli $bindgen_version (about 4 minutes, once)"
  # --locked fails on a yanked transitive crate version; the pinned version is what matters.
  cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.lock-hash ] || [ "$(cat node_modules/.lock-hash)" != "$lock_hash" ]; then
  step "installing npm packages from package-lock.json"
  npm ci --no-audit --no-fund
  echo "$lock_hash" > node_modules/.lock-hash
fi

if [ ! -f .dev.vars ]; then
  cp .dev.vars.example .dev.vars
  echo "created .dev.vars from .dev.vars.example (local key for npm run dev)"
fi
echo "setup: ok"
