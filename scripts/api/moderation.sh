#!/usr/bin/env bash
# POST /v1/moderations: id, model, results[0] with flagged (boolean), categories (booleans) and
# category_scores (numbers) for the same category names.
# shellcheck source=scripts/api/_lib.sh
source "$(dirname "$0")/_lib.sh"
model=${MODERATION_MODEL:-omni-moderation-latest}

post_json /v1/moderations "$(jq -n --arg model "$model" \
  '{model: $model, input: "I would like to adopt a kitten. What should I buy first?"}')"
expect_status 200
check '(.id | type == "string") and (.model | type == "string")' 'an id and a model'
check '.results | type == "array" and length == 1' 'one result per input (1)'
check '.results[0].flagged | type == "boolean"' 'results[0].flagged is a boolean'
check '.results[0].categories | type == "object" and length > 0 and all(.[]; type == "boolean")' \
  'results[0].categories maps names to booleans'
check '.results[0] | (.category_scores | all(.[]; type == "number")) and (.category_scores | keys) == (.categories | keys)' \
  'results[0].category_scores has a number for each category'

ok "200 in $(secs "$SECS"), model $(field .model), flagged $(field '.results[0].flagged')," \
  "$(field '.results[0].categories | length') categories$(field '[.results[0].categories | to_entries[] | select(.value) | .key] | if length > 0 then " (" + join(", ") + ")" else "" end')"
