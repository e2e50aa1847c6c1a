#!/usr/bin/env bash
# Python smoke test of the gateway with the official `openai` Python SDK.
#   bash tests/python/run.sh
# Creates .venv at the repo root if missing and installs the pinned openai from
# tests/python/requirements.txt, starts the gateway with tests/python/serve.mjs on a free port,
# runs smoke.py against it, and stops the server. Exits non-zero if anything fails.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
REQ="$HERE/requirements.txt"

# --- Python environment -------------------------------------------------------------------
if [ ! -x "$PY" ]; then
  echo "run.sh: creating $VENV" >&2
  python3 -m venv "$VENV"
fi
want="$(sed -n 's/^openai==//p' "$REQ")"
have="$("$PY" -c 'import importlib.metadata as m; print(m.version("openai"))' 2>/dev/null || true)"
if [ "$have" != "$want" ]; then
  echo "run.sh: installing openai==$want into $VENV (found: ${have:-none})" >&2
  "$PY" -m pip install -q --disable-pip-version-check -r "$REQ"
fi

# --- Gateway ------------------------------------------------------------------------------
TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  local rc=$?
  # Closing the write end of the fifo is EOF on the server's stdin: it disposes and exits.
  exec 3>&- 2>/dev/null || true
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  # The server runs in its own process group (set -m below): remove anything left in it (workerd).
  if [ -n "$SERVER_PID" ]; then kill -KILL -- "-$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkfifo "$TMP/stdin"
set -m # background jobs get their own process group, so the whole server tree can be stopped
node "$ROOT/tests/python/serve.mjs" <"$TMP/stdin" >"$TMP/url" 2>"$TMP/serve.log" &
SERVER_PID=$!
set +m
exec 3>"$TMP/stdin" # hold the server's stdin open for as long as this script runs

URL=""
for _ in $(seq 1 300); do
  URL="$(head -n 1 "$TMP/url" 2>/dev/null || true)"
  [ -n "$URL" ] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "run.sh: the gateway exited before it was ready:" >&2
    cat "$TMP/serve.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$URL" ]; then
  echo "run.sh: the gateway did not start within 30 s:" >&2
  cat "$TMP/serve.log" >&2
  exit 1
fi

# --- Smoke test ---------------------------------------------------------------------------
set +e
"$PY" "$HERE/smoke.py" "$URL"
status=$?
set -e
if [ "$status" -ne 0 ] && [ -s "$TMP/serve.log" ]; then
  echo "--- gateway log ---" >&2
  cat "$TMP/serve.log" >&2
fi
exit "$status"
