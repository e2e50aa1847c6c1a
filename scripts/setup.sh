#!/usr/bin/env bash
# Installs what building and testing need, skipping whatever is already there:
#   - the wasm32-unknown-unknown Rust target, and the rustfmt and clippy components
#   - worker-build (pinned) and wasm-bindgen-cli (exactly the wasm-bindgen in Cargo.lock)
#   - npm packages from package-lock.json (miniflare/workerd, wrangler, openai, binaryen, ajv,
#     playwright-core, …)
#   - Debian's chromium package (/usr/bin/chromium), for the browser test of /models/search
#   - Debian's jq package, which scripts/api/*.sh (and their test) use beside curl
# Only crates.io, the npm registry and Debian's packages are used; nothing is downloaded from
# GitHub, and no test tool downloads a browser of its own (playwright-core never does; the
# browser test drives /usr/bin/chromium and skips when it is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

WORKER_BUILD_VERSION=0.8.7
step() { printf '\n== %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# rustup's "minimal" profile (official Rust images) leaves these out; the test command needs them.
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    step "adding the $component component"
    rustup component add "$component"
  fi
done

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

# Best effort: on a machine without apt (or without root/sudo) the rest still works, and the
# browser test skips with a message.
apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || { echo "apt-get not found" >&2; return 1; }
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "not root and sudo not found" >&2; return 1; }
    sudo="sudo -n"
  fi
  if [ "$apt_updated" = 0 ]; then
    $sudo apt-get update -q || return 1
    apt_updated=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}
if ! command -v jq >/dev/null; then
  step "installing Debian's jq with apt-get (for scripts/api/*.sh)"
  apt_install jq || echo "WARNING: jq could not be installed; tests/e2e/api-scripts.test.mjs will be skipped" >&2
fi
if [ ! -x /usr/bin/chromium ]; then
  step "installing Debian's chromium with apt-get (for the browser test of /models/search)"
  if apt_install chromium && [ -x /usr/bin/chromium ]; then
    echo "installed $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  else
    echo "WARNING: chromium could not be installed; the browser test in tests/e2e/models-search.test.mjs will be skipped" >&2
  fi
fi

if [ ! -f .dev.vars ]; then
  cp .dev.vars.example .dev.vars
  echo "created .dev.vars from .dev.vars.example (local key for npm run dev)"
fi
echo "setup: ok"
