#!/usr/bin/env bash
# POST /v1/embeddings with two inputs: object "list", data[i] = {object "embedding", index i,
# embedding: a non-empty array of numbers}, both of one length, and usage.prompt_tokens.
# shellcheck source=scripts/api/_lib.sh
source "$(dirname "$0")/_lib.sh"
model=${EMBEDDING_MODEL:-text-embedding-3-small}

post_json /v1/embeddings "$(jq -n --arg model "$model" \
  '{model: $model, input: ["The quick brown fox", "jumps over the lazy dog"]}')"
expect_status 200
check '.object == "list" and (.data | length == 2)' 'object "list" with one data entry per input (2)'
check '[.data[].index] == [0, 1] and all(.data[]; .object == "embedding")' 'data[i].object "embedding" and index i'
check '.data[0].embedding | type == "array" and length > 0 and all(.[]; type == "number")' \
  'data[0].embedding is a non-empty array of numbers'
check '(.data[0].embedding | length) == (.data[1].embedding | length)' 'both vectors have the same length'
check '.usage.prompt_tokens | type == "number"' 'usage.prompt_tokens'

ok "200 in $(secs "$SECS"), model $(field .model), 2 vectors of $(field '.data[0].embedding | length') dimensions" \
  "($(field .usage.prompt_tokens) tokens)"
