#!/usr/bin/env bash
# The whole function-calling loop: ask with a get_weather tool, get a tool call, send the
# assistant message back with a `role: "tool"` result, and expect a final text answer
# (finish_reason "stop", non-empty content, no further tool_calls). TOOL_MODEL as in tool-call.sh.
# shellcheck source=scripts/api/_lib.sh
source "$(dirname "$0")/_lib.sh"
model=${TOOL_MODEL:-gpt-5}
question='{"role":"user","content":"What is the weather in Paris right now? Use the get_weather tool."}'

post_json /v1/chat/completions "$(jq -n --arg model "$model" --argjson tool "$WEATHER_TOOL" --argjson q "$question" \
  '{model: $model, tools: [$tool], tool_choice: "required", messages: [$q]}')"
expect_status 200
check '.choices[0].message.tool_calls[0].function.name == "get_weather"' \
  "a get_weather call (the model answered: $(quote "$(field '.choices[0].message.content // ""')"))"
check '.choices[0].message.tool_calls[0].function.arguments | try (fromjson | type == "object") catch false' \
  'the arguments of the call are a JSON object'
assistant=$(field '.choices[0].message')
first=$(secs "$SECS")

# The tool's answer, as the client's own code would produce it.
result='{"location":"Paris","temperature_c":18,"conditions":"sunny"}'
post_json /v1/chat/completions "$(jq -n --arg model "$model" --argjson tool "$WEATHER_TOOL" --argjson q "$question" \
  --argjson a "$assistant" --arg result "$result" \
  '{model: $model, tools: [$tool], messages: [$q, $a,
    {role: "tool", tool_call_id: $a.tool_calls[0].id, content: $result}]}')"
expect_status 200
check '.object == "chat.completion" and .choices[0].message.role == "assistant"' 'an assistant chat.completion'
check '(.choices[0].message.tool_calls // []) | length == 0' \
  "a final answer, not another tool call ($(field '.choices[0].message.tool_calls[0].function.name // ""'))"
check '.choices[0].message.content | type == "string" and length > 0' 'the final answer has text'
check '.choices[0].finish_reason == "stop"' 'finish_reason is "stop"'

ok "tool call 200 in $first, tool result -> 200 in $(secs "$SECS"), model $(field .model)," \
  "$(quote "$(field '.choices[0].message.content')")"
