#!/usr/bin/env bash
# POST /v1/chat/completions with a get_weather tool and tool_choice "required": finish_reason
# "tool_calls" and choices[0].message.tool_calls[0] = {id, type "function", function {name
# "get_weather", arguments: a JSON object as a string}}.
# TOOL_MODEL defaults to gpt-5 (GLM 4.7 Flash), the tool model that takes tool_choice; other
# tool models (gpt-4, llama-3.3-70b, mistral) decide for themselves, so the prompt also asks.
# shellcheck source=scripts/api/_lib.sh
source "$(dirname "$0")/_lib.sh"
model=${TOOL_MODEL:-gpt-5}

post_json /v1/chat/completions "$(jq -n --arg model "$model" --argjson tool "$WEATHER_TOOL" \
  '{model: $model, tools: [$tool], tool_choice: "required", messages: [{role: "user",
    content: "What is the weather in Paris right now? Use the get_weather tool."}]}')"
expect_status 200
check '.object == "chat.completion"' 'object "chat.completion"'
check '.choices[0].message.tool_calls | type == "array" and length > 0' \
  "choices[0].message.tool_calls is a non-empty array (the model answered: $(quote "$(field '.choices[0].message.content // ""')"))"
check '.choices[0].finish_reason == "tool_calls"' 'finish_reason is "tool_calls"'
check '.choices[0].message.tool_calls[0] | (.id | type == "string" and length > 0) and .type == "function"' \
  'tool_calls[0] has an id and type "function"'
check '.choices[0].message.tool_calls[0].function.name == "get_weather"' 'tool_calls[0].function.name is "get_weather"'
check '.choices[0].message.tool_calls[0].function.arguments | type == "string" and (try (fromjson | type == "object") catch false)' \
  'tool_calls[0].function.arguments is a string holding a JSON object'

call_text=$(field '.choices[0].message.tool_calls[0].function | "\(.name)(\(.arguments))"')
ok "200 in $(secs "$SECS"), model $(field .model), $call_text"
