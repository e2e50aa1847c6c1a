#!/usr/bin/env bash
# Runs the endpoint checks in scripts/api/ against a deployed gateway and prints a pass/fail
# table; exits 1 if any check failed, 2 if they cannot run at all.
#   usage: scripts/tests/comprehensive-test.sh [-t SECONDS] [NAME…]
# NAME is a script of scripts/api (health, chat, chat-stream.sh, …); none: all of them.
# Settings as for the scripts: WORKER_URL and API_KEY from the environment or the project's .env
# (see scripts/api/_lib.sh), plus API_TEST_TIMEOUT (seconds per script, default 120; or -t).
set -euo pipefail
export LC_ALL=C
api_dir=$(cd "$(dirname "$0")/../api" && pwd)
limit=${API_TEST_TIMEOUT:-120}
# The usual order after a deploy: is it up, are the models there, then each endpoint.
order=(health models chat chat-stream tool-call tool-loop responses responses-stream
  embeddings images audio moderation)

usage() { sed -n '2,7s/^# \{0,1\}//p' "$0"; }
names=()
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    -t | --timeout) limit=${2:?-t needs a number of seconds}; shift 2 ;;
    -*) usage >&2; exit 2 ;;
    *) names+=("$(basename "$1" .sh)"); shift ;;
  esac
done
[[ $limit =~ ^[1-9][0-9]*$ ]] || { echo "comprehensive-test: the timeout must be whole seconds, got '$limit'" >&2; exit 2; }

# Every script, in the usual order first; then the names asked for, which must exist.
all=()
for name in "${order[@]}"; do [[ -f $api_dir/$name.sh ]] && all+=("$name"); done
for file in "$api_dir"/*.sh; do
  name=$(basename "$file" .sh)
  [[ $name == _* || " ${all[*]} " == *" $name "* ]] || all+=("$name")
done
if ((${#names[@]} == 0)); then names=("${all[@]}"); fi
for name in "${names[@]}"; do
  [[ " ${all[*]} " == *" $name "* ]] || { echo "comprehensive-test: no check '$name'; the checks: ${all[*]}" >&2; exit 2; }
done

# The shared settings once, up front: curl, jq and WORKER_URL/API_KEY, or one clear message.
no_key=0
[[ ${names[*]} == health ]] && no_key=1 # /health needs no key
url=$(cd "$api_dir" && API_SCRIPT_NO_KEY=$no_key bash -c 'source ./_lib.sh && printf %s "$WORKER_URL"' comprehensive-test) ||
  exit 2

if command -v timeout >/dev/null 2>&1; then limiter=(timeout "$limit")
elif command -v gtimeout >/dev/null 2>&1; then limiter=(gtimeout "$limit")
else limiter=(); echo "(no timeout command: each request is still limited by API_TIMEOUT, default 60s)"; fi
now() { if [[ -n ${EPOCHREALTIME:-} ]]; then printf '%s' "${EPOCHREALTIME/,/.}"; else date +%s; fi; }
cut_to() {
  local text=$1 max=$2
  ((${#text} <= max)) || text="${text:0:max-3}..."
  printf '%s' "$text"
}

plural=s
((${#names[@]} > 1)) || plural=""
echo "comprehensive-test: ${#names[@]} check$plural against $url (timeout ${limit}s each)"
echo
row() { printf '%-17s %-6s %7s  %s\n' "$@"; }
row name result seconds detail
out=$(mktemp -d "${TMPDIR:-/tmp}/comprehensive-test.XXXXXX")
trap 'rm -rf "$out"' EXIT
failed=()
for name in "${names[@]}"; do
  start=$(now)
  rc=0
  ${limiter[@]+"${limiter[@]}"} bash "$api_dir/$name.sh" >"$out/$name" 2>&1 || rc=$?
  took=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
  if ((rc == 0)); then
    detail=$(grep -m1 . "$out/$name" || true)
    row "$name" pass "$took" "$(cut_to "${detail#"$name: "}" 120)"
  else
    if ((rc == 124)) && ((${#limiter[@]})); then
      detail="timed out after ${limit}s"
    else
      detail=$(grep -m1 'FAIL: ' "$out/$name" || grep . "$out/$name" | tail -n1 || true)
      detail=${detail#"$name: "}
      detail=${detail#FAIL: }
      detail=${detail:-exit $rc}
    fi
    row "$name" FAIL "$took" "$(cut_to "$detail" 120)"
    failed+=("$name")
  fi
done

echo
echo "$((${#names[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
for name in ${failed[@]+"${failed[@]}"}; do
  printf '\n--- %s: full output\n' "$name"
  if [[ -s $out/$name ]]; then cat "$out/$name"; else echo "(none)"; fi
done
((${#failed[@]} == 0))
