#!/usr/bin/env bash
# POST /v1/chat/completions with stream:true: text/event-stream of chat.completion.chunk frames
# with one id, role "assistant" in the first delta, text, exactly one finish_reason, a usage
# chunk (stream_options.include_usage), and `data: [DONE]` last.
# shellcheck source=scripts/api/_lib.sh
source "$(dirname "$0")/_lib.sh"
model=${CHAT_MODEL:-gpt-4o-mini}
prompt=${PROMPT:-Count from one to five.}

post_json /v1/chat/completions "$(jq -n --arg model "$model" --arg prompt "$prompt" \
  '{model: $model, stream: true, stream_options: {include_usage: true},
    messages: [{role: "user", content: $prompt}]}')"
expect_status 200
expect_type text/event-stream
sse_data
[[ $(tail -n 1 "$SSE") == "[DONE]" ]] || fail "$REQ: the stream does not end with data: [DONE]"
grep -v '^\[DONE\]$' "$SSE" | jq -s . >"$TMP/chunks.json" 2>/dev/null || fail "$REQ: a data: line is not JSON"
BODY=$TMP/chunks.json
check 'length > 0 and all(.[]; .object == "chat.completion.chunk")' 'every frame is a chat.completion.chunk'
check '[.[].id] | unique | length == 1' 'one id in every chunk'
check '.[0].choices[0].delta.role == "assistant"' 'the first delta has role "assistant"'
check '[.[].choices[] | select(.finish_reason != null)] | length == 1' 'exactly one finish_reason'
check '[.[].choices[].delta.content // empty] | join("") | length > 0' 'the deltas carry text'
check '.[-1] | .choices == [] and (.usage.total_tokens | type == "number")' 'a last chunk with usage (include_usage)'

ok "200 in $(secs "$SECS") (first byte $(secs "$TTFB")), model $(field '.[0].model'), $(field length) chunks," \
  "$(quote "$(field '[.[].choices[].delta.content // empty] | join("")')") ($(field '.[-1].usage.completion_tokens') tokens)"
