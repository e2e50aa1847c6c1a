#!/usr/bin/env bash
# POST /v1/responses with stream:true: text/event-stream whose `event:` names match the data
# types, sequence_number counting up from 0, response.created first, response.output_text.delta
# events, and response.completed last, its output text equal to the deltas joined.
# shellcheck source=scripts/api/_lib.sh
source "$(dirname "$0")/_lib.sh"
model=${RESPONSES_MODEL:-${CHAT_MODEL:-gpt-4o-mini}}
prompt=${PROMPT:-Count from one to five.}
text='[.output[]? | select(.type == "message") | .content[]? | select(.type == "output_text") | .text] | join("")'

post_json /v1/responses "$(jq -n --arg model "$model" --arg prompt "$prompt" \
  '{model: $model, input: $prompt, stream: true}')"
expect_status 200
expect_type text/event-stream
sse_data
sed -n 's/^event: \{0,1\}//p' "$BODY" | tr -d '\r' | jq -R . | jq -s . >"$TMP/names.json"
grep -v '^\[DONE\]$' "$SSE" | jq -s . >"$TMP/events.json" 2>/dev/null || fail "$REQ: a data: line is not JSON"
BODY=$TMP/events.json
check 'length > 2' 'several events'
# shellcheck disable=SC2016 # a jq variable
check '[.[].type] == $names[0]' 'each event: line names its data type' --slurpfile names "$TMP/names.json"
check '[.[].sequence_number] == [range(length)]' 'sequence_number 0, 1, 2, …'
check '.[0].type == "response.created" and .[0].response.object == "response"' 'response.created first'
check '.[-1].type == "response.completed" and .[-1].response.status == "completed"' \
  "response.completed last (got $(field '.[-1].type'))"
check '[.[] | select(.type == "response.output_text.delta") | .delta] | join("") | length > 0' 'output_text deltas'
check "([.[] | select(.type == \"response.output_text.delta\") | .delta] | join(\"\")) == (.[-1].response | $text)" \
  'the deltas add up to the completed output text'

ok "200 in $(secs "$SECS") (first byte $(secs "$TTFB")), model $(field '.[-1].response.model'), $(field length) events," \
  "$(quote "$(field ".[-1].response | $text")") ($(field '.[-1].response.usage.output_tokens') tokens)"
