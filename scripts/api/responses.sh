#!/usr/bin/env bash
# POST /v1/responses: object "response", id resp_…, status "completed", a message item in
# output whose output_text parts hold the answer, usage {input,output,total}_tokens. Then GET
# /v1/responses/{id}: 200 with the same id when stored; a 404 only says "not stored" (the
# gateway stores responses only when its GATEWAY_KV namespace is bound).
# shellcheck source=scripts/api/_lib.sh
source "$(dirname "$0")/_lib.sh"
model=${RESPONSES_MODEL:-${CHAT_MODEL:-gpt-4o-mini}}
prompt=${PROMPT:-Say hello in five words.}
text='[.output[]? | select(.type == "message") | .content[]? | select(.type == "output_text") | .text] | join("")'

post_json /v1/responses "$(jq -n --arg model "$model" --arg prompt "$prompt" \
  '{model: $model, input: $prompt}')"
expect_status 200
expect_type application/json
check '.object == "response" and (.id | startswith("resp_"))' 'object "response" with a resp_ id'
check '.status == "completed"' "status \"completed\" (got $(field .status), $(field '.incomplete_details // .error // "" | tostring'))"
check '.output | type == "array" and any(.[]; .type == "message" and .role == "assistant")' 'an assistant message in output'
check "$text | length > 0" 'output_text content with text'
check '.usage | (.input_tokens, .output_tokens, .total_tokens | type == "number")' 'usage with input/output/total tokens'
id=$(field .id)
summary="200 in $(secs "$SECS"), model $(field .model), $(quote "$(field "$text")") ($(field .usage.output_tokens) tokens)"

call GET "/v1/responses/$id"
case $STATUS in
  200)
    # shellcheck disable=SC2016 # a jq variable
    check '.id == $id and .object == "response"' "the stored response $id" --arg id "$id"
    stored="retrieved by id" ;;
  404) stored="not stored (no GATEWAY_KV?)" ;;
  *) expect_status 200 ;;
esac
ok "$summary; $stored"
