#!/usr/bin/env bash
# POST /v1/chat/completions: object "chat.completion", choices[0].message {role "assistant",
# non-empty content}, a finish_reason, and usage with prompt/completion/total token counts.
# shellcheck source=scripts/api/_lib.sh
source "$(dirname "$0")/_lib.sh"
model=${CHAT_MODEL:-gpt-4o-mini}
prompt=${PROMPT:-Say hello in five words.}

post_json /v1/chat/completions "$(jq -n --arg model "$model" --arg prompt "$prompt" \
  '{model: $model, messages: [{role: "user", content: $prompt}]}')"
expect_status 200
expect_type application/json
check '.object == "chat.completion" and (.id | type == "string")' 'object "chat.completion" with an id'
check '.choices[0].message.role == "assistant"' 'choices[0].message.role is "assistant"'
check '.choices[0].message.content | type == "string" and length > 0' 'choices[0].message.content is a non-empty string'
check '.choices[0].finish_reason | type == "string"' 'choices[0].finish_reason is set'
check '.usage | (.prompt_tokens, .completion_tokens, .total_tokens | type == "number")
  and .total_tokens == .prompt_tokens + .completion_tokens' 'usage has token counts that add up'

ok "200 in $(secs "$SECS"), model $(field .model), $(quote "$(field '.choices[0].message.content')")" \
  "($(field .usage.completion_tokens) tokens, finish $(field '.choices[0].finish_reason'))"
