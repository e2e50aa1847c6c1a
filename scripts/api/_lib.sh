# shellcheck shell=bash
# Shared code for scripts/api/*.sh (sourced, not run). Each script checks one endpoint of a
# deployed gateway and prints one line; it exits 1 when the endpoint answers wrongly and 2 when
# it cannot run (curl or jq missing, WORKER_URL or API_KEY unset).
#
# Settings come from the environment, or else from the project's .env (KEY=value lines; the
# environment wins). API_ENV_FILE names another file to read instead; set it empty to read none.
#   WORKER_URL   the gateway, e.g. https://openai-to-workers-ai.<account>.workers.dev
#   API_KEY      a key the gateway accepts (one of its API_KEYS, or one from scripts/new-key)
#   API_TIMEOUT  seconds per request (default 60)
# Model overrides (CHAT_MODEL, TOOL_MODEL, …) are read by the scripts that use them.
# Lint from the project root: shellcheck -x scripts/api/*.sh scripts/tests/comprehensive-test.sh

set -euo pipefail
export LC_ALL=C

API_NAME=$(basename "$0" .sh)
PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

ok() { printf '%s: %s\n' "$API_NAME" "$*"; }
fail() {
  printf '%s: FAIL: %s\n' "$API_NAME" "$*" >&2
  exit 1
}
cannot_run() {
  printf '%s: %s\n' "$API_NAME" "$*" >&2
  exit 2
}

need_tools() {
  local tool missing=()
  for tool in curl jq; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if ((${#missing[@]})); then
    cannot_run "needs ${missing[*]}. Install: sudo apt-get install -y ${missing[*]} (Debian/Ubuntu)," \
      "brew install ${missing[*]} (macOS), sudo dnf install -y ${missing[*]} (Fedora), or see https://jqlang.github.io/jq/download/"
  fi
}

# KEY=value lines (optionally `export KEY=value`, values optionally quoted), for keys the
# environment leaves unset or empty.
load_env() {
  local file=${API_ENV_FILE-$PROJECT_ROOT/.env} line key value
  [[ -n $file && -f $file ]] || return 0
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*(.*)$ ]] || continue
    key=${BASH_REMATCH[2]}
    value=${BASH_REMATCH[3]}
    value=${value%"${value##*[![:space:]]}"}
    if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
    if [[ -z ${!key:-} ]]; then export "$key=$value"; fi
  done <"$file"
}

need_tools
load_env
WORKER_URL=${WORKER_URL:-}
API_KEY=${API_KEY:-}
[[ -n $WORKER_URL ]] || cannot_run "WORKER_URL is not set: export WORKER_URL=https://<your-worker>.workers.dev" \
  "or put it in $PROJECT_ROOT/.env (see .env.example)"
[[ $WORKER_URL =~ ^https?:// ]] || cannot_run "WORKER_URL must start with https:// (or http://), got '$WORKER_URL'"
WORKER_URL=${WORKER_URL%/}
WORKER_URL=${WORKER_URL%/v1} # the scripts add /v1 themselves
# health.sh sets API_SCRIPT_NO_KEY=1: /health is open.
if [[ -z $API_KEY && ${API_SCRIPT_NO_KEY:-0} != 1 ]]; then
  cannot_run "API_KEY is not set: export API_KEY=sk-... or put it in $PROJECT_ROOT/.env (see .env.example)"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/api-$API_NAME.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
CALLS=0
# The key goes to curl in a private file, not on its command line (which `ps` shows).
(umask 077 && printf 'Authorization: Bearer %s\n' "$API_KEY" >"$TMP/auth")

# call [--no-key] METHOD PATH [curl args…]: one request. Sets STATUS, SECS (total time), TTFB
# (time to the first byte), CTYPE, REQ ("POST /v1/…") and BODY (a file holding the body).
call() {
  local auth=(-H "@$TMP/auth") meta
  if [[ $1 == --no-key ]]; then
    auth=()
    shift
  fi
  REQ="$1 $2"
  CALLS=$((CALLS + 1))
  BODY=$TMP/body.$CALLS
  if ! meta=$(curl -sS -X "$1" -o "$BODY" --max-time "${API_TIMEOUT:-60}" \
    -w '%{http_code} %{time_total} %{time_starttransfer} %{content_type}' \
    ${auth[@]+"${auth[@]}"} "${@:3}" "$WORKER_URL$2" 2>"$TMP/curl.err"); then
    fail "$REQ: no answer from $WORKER_URL: $(tr '\n' ' ' <"$TMP/curl.err")"
  fi
  # shellcheck disable=SC2034 # SECS and TTFB are for the scripts
  read -r STATUS SECS TTFB CTYPE <<<"$meta"
}

# post_json PATH JSON: POST a JSON body.
post_json() {
  call POST "$1" -H "Content-Type: application/json" --data-binary "$2"
}

# The start of the body on one line (binary bytes dropped).
snippet() {
  LC_ALL=C tr -d '\000-\010\016-\037\177-\377' <"$BODY" | tr '\r\n\t' '   ' | head -c "${1:-300}"
}

# The OpenAI error message of the body ({"error":{"message","code"}}), else its start.
error_message() {
  local msg
  msg=$(jq -r 'if (.error | type) == "object"
      then .error.message + (if .error.code then " [" + (.error.code | tostring) + "]" else "" end)
      else .error // empty | tostring end' "$BODY" 2>/dev/null) || msg=""
  if [[ -n $msg ]]; then printf '%s' "$msg"; else printf 'body: %s' "$(snippet)"; fi
}

# expect_status CODE: or fail with the status and the error message from the body.
expect_status() {
  [[ $STATUS == "$1" ]] || fail "$REQ: HTTP $STATUS (expected $1): $(error_message)"
}

# expect_type PREFIX: the response's content-type starts with PREFIX.
expect_type() {
  [[ $CTYPE == "$1"* ]] || fail "$REQ: content-type '$CTYPE', expected $1; $(error_message)"
}

# check 'JQ FILTER' 'WHAT' [jq options…]: the body satisfies the filter, or fail naming the check.
check() {
  jq -e "${@:3}" "$1" "$BODY" >/dev/null 2>&1 || fail "$REQ: wrong shape, expected: $2; body: $(snippet)"
}

# field 'JQ FILTER': raw jq output on the body.
field() {
  jq -r "$1" "$BODY"
}

# sse_data: the data: payloads of an SSE body, one per line, into the file $SSE; fails on an
# error event in the stream (a chat `{"error":…}` frame, Responses `response.failed`/`error`).
sse_data() {
  SSE=$TMP/sse.data
  sed -n 's/^data: \{0,1\}//p' "$BODY" | tr -d '\r' >"$SSE"
  [[ -s $SSE ]] || fail "$REQ: no data: lines in the stream; body: $(snippet)"
  local err
  err=$(grep -v '^\[DONE\]$' "$SSE" | jq -r 'select(type == "object")
      | .error // (select(.type == "response.failed" or .type == "error") | .response.error // .)
      | select(. != null) | if type == "object" then .message // tostring else tostring end' \
    2>/dev/null | head -n1) || true
  [[ -z $err ]] || fail "$REQ: error event in the stream: $err"
}

# secs 0.123456 -> 0.12s
secs() { printf '%.2fs' "$1"; }

# quote TEXT: the text on one line, cut at 48 characters, in double quotes.
quote() {
  local text
  text=$(printf '%s' "$1" | tr '\r\n\t' '   ' | tr -s ' ')
  ((${#text} <= 48)) || text="${text:0:45}..."
  printf '"%s"' "$text"
}

# The function tool the tool-call scripts offer.
# shellcheck disable=SC2034 # used by the scripts that source this file
WEATHER_TOOL='{"type":"function","function":{"name":"get_weather",
  "description":"Get the current weather for a city",
  "parameters":{"type":"object","properties":{"location":{"type":"string","description":"City name"}},
  "required":["location"]}}}'
