#!/usr/bin/env bash
# GET /v1/models: {"object":"list","data":[{"id","object":"model","owned_by"},…]} listing the
# models the other scripts use; then GET /v1/models/$CHAT_MODEL retrieves that one.
# shellcheck source=scripts/api/_lib.sh
source "$(dirname "$0")/_lib.sh"
wanted=("${CHAT_MODEL:-gpt-4o-mini}" "${TOOL_MODEL:-gpt-5}" "${EMBEDDING_MODEL:-text-embedding-3-small}"
  "${IMAGE_MODEL:-dall-e-3}" "${TTS_MODEL:-tts-1}" "${STT_MODEL:-whisper-1}" "${MODERATION_MODEL:-omni-moderation-latest}")

call GET /v1/models
expect_status 200
check '.object == "list" and (.data | type == "array" and length > 0)' 'object "list" with a non-empty data array'
check 'all(.data[]; (.id | type == "string") and .object == "model")' 'every entry has an id and object "model"'
missing=$(jq -r '[.data[].id] as $ids | $ARGS.positional - $ids | join(", ")' "$BODY" --args "${wanted[@]}")
[[ -z $missing ]] || fail "GET /v1/models does not list: $missing"
count=$(field '.data | length')
took=$(secs "$SECS")

model=${wanted[0]}
call GET "/v1/models/$model"
expect_status 200
# shellcheck disable=SC2016 # a jq variable
check '.id == $id and .object == "model"' "id \"$model\" and object \"model\"" --arg id "$model"

ok "200 in $took, $count models, including the ${#wanted[@]} the scripts use; GET /v1/models/$model 200"
