"""Smoke test of the gateway with the official `openai` Python SDK.

Usage: python smoke.py <gateway-url>   (e.g. http://127.0.0.1:40123; `/v1` is appended)
Normally started by tests/python/run.sh, which also starts the gateway.
Prints `python smoke: N passed, M failed` and exits non-zero if anything failed.
"""

import base64
import json
import sys
import traceback
import warnings

import openai
from openai import OpenAI

KEY = "sk-test-abc123"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string", "description": "City name"}},
                "required": ["location"],
            },
        },
    }
]


# The same tool in the flat Responses form.
RESPONSES_TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "description": "City name"}},
            "required": ["location"],
        },
    }
]


def user(text):
    return [{"role": "user", "content": text}]


def make_client(base_url, api_key=KEY):
    # No retries: 429/5xx must surface instead of being retried after Retry-After.
    return OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=15.0)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def test_models_list(c):
    page = c.models.list()
    ids = [m.id for m in page.data]
    check(page.object == "list", f"object list, got {page.object!r}")
    for want in ("gpt-4", "gpt-3.5-turbo", "@cf/meta/llama-3-8b-instruct"):
        check(want in ids, f"{want} listed")
    check(len(ids) == len(set(ids)), "ids are unique")
    for m in page.data:
        check(m.object == "model" and isinstance(m.created, int) and m.owned_by, f"model entry {m}")
    m = c.models.retrieve("@cf/meta/llama-3.3-70b-instruct-fp8-fast")
    check(m.id == "@cf/meta/llama-3.3-70b-instruct-fp8-fast", f"retrieve by @cf id, got {m.id}")
    check(c.models.retrieve("gpt-4").id == "gpt-4", "retrieve alias")


def test_chat_legacy(c):
    r = c.chat.completions.create(model="gpt-3.5-turbo", messages=user("Hello from Python"))
    check(r.object == "chat.completion", f"object {r.object}")
    check(r.id.startswith("chatcmpl-"), f"id {r.id}")
    check(r.model == "gpt-3.5-turbo", f"model echoes the request, got {r.model}")
    ch = r.choices[0]
    check(ch.message.role == "assistant", "role")
    check(ch.message.content == "Emulated answer from llama-3-8b-instruct. You said: Hello from Python", repr(ch.message.content))
    check(ch.finish_reason == "stop", f"finish_reason {ch.finish_reason}")
    u = r.usage
    check(u.total_tokens == u.prompt_tokens + u.completion_tokens, f"usage {u}")


def test_chat_native_reasoning(c):
    r = c.chat.completions.create(model="gpt-4", messages=user("Hi [[emu:tokens=3]]"))
    msg = r.choices[0].message
    check(msg.content == "w1 w2 w3", repr(msg.content))
    reasoning = (msg.model_extra or {}).get("reasoning_content")
    check(isinstance(reasoning, str) and reasoning, f"reasoning_content present, got {reasoning!r}")
    check(r.choices[0].finish_reason == "stop", "finish stop")


def test_chat_stream(c):
    stream = c.chat.completions.create(
        model="gpt-3.5-turbo",
        messages=user("stream please [[emu:tokens=5]]"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    check(len(chunks) >= 3, f"several chunks, got {len(chunks)}")
    check(len({ch.id for ch in chunks}) == 1, "one id for the whole stream")
    check(all(ch.object == "chat.completion.chunk" for ch in chunks), "chunk objects")
    with_choices = [ch for ch in chunks if ch.choices]
    check(with_choices[0].choices[0].delta.role == "assistant", "role in the first delta")
    text = "".join(ch.choices[0].delta.content or "" for ch in with_choices)
    check(text == "w1 w2 w3 w4 w5", repr(text))
    finishes = [ch.choices[0].finish_reason for ch in with_choices if ch.choices[0].finish_reason]
    check(finishes == ["stop"], f"finish_reason exactly once, got {finishes}")
    last = chunks[-1]
    check(last.choices == [] and last.usage is not None, "final usage chunk with choices []")
    check(last.usage.completion_tokens == 5, f"usage {last.usage}")


def test_stream_tool_call(c):
    stream = c.chat.completions.create(
        model="gpt-4", messages=user("Weather in Paris? [[emu:tool]]"), tools=TOOLS, stream=True
    )
    calls = {}
    finish = []
    for ch in stream:
        if not ch.choices:
            continue
        d = ch.choices[0].delta
        for tc in d.tool_calls or []:
            slot = calls.setdefault(tc.index, {"id": tc.id, "name": "", "arguments": ""})
            if tc.function and tc.function.name:
                slot["name"] += tc.function.name
            if tc.function and tc.function.arguments:
                slot["arguments"] += tc.function.arguments
        if ch.choices[0].finish_reason:
            finish.append(ch.choices[0].finish_reason)
    check(finish == ["tool_calls"], f"finish {finish}")
    check(len(calls) == 1 and calls[0]["id"], f"one call with an id: {calls}")
    check(calls[0]["name"] == "get_weather", calls[0]["name"])
    check(json.loads(calls[0]["arguments"]) == {"location": "Paris"}, calls[0]["arguments"])


def test_auth_error(base_url):
    try:
        make_client(base_url, api_key="sk-wrong").chat.completions.create(model="gpt-4", messages=user("hi"))
    except openai.AuthenticationError as e:
        check(e.status_code == 401, f"status {e.status_code}")
        check(e.code == "invalid_api_key", f"code {e.code}")
        check(isinstance(e.body, dict) and e.body.get("type") == "authentication_error", f"body {e.body}")
        return
    raise AssertionError("expected openai.AuthenticationError")


def test_not_found_and_rate_limit(c):
    try:
        c.chat.completions.create(model="gpt-does-not-exist", messages=user("hi"))
        raise AssertionError("expected openai.NotFoundError")
    except openai.NotFoundError as e:
        check(e.code == "model_not_found", f"code {e.code}")
    try:
        c.chat.completions.create(model="gpt-4", messages=user("hi [[emu:error=3040]]"))
        raise AssertionError("expected openai.RateLimitError")
    except openai.RateLimitError as e:
        check(e.status_code == 429, f"status {e.status_code}")
        check((e.response.headers.get("retry-after") or "").isdigit(), "Retry-After header")


def test_responses_create(c):
    r = c.responses.create(model="gpt-4", input="Hello from Python")
    check(r.object == "response", f"object {r.object}")
    check(r.id.startswith("resp_"), f"id {r.id}")
    check(r.model == "gpt-4", f"model echoes the request, got {r.model}")
    check(r.status == "completed", f"status {r.status}")
    check([o.type for o in r.output] == ["reasoning", "message"], f"output types {[o.type for o in r.output]}")
    check(r.output_text == "Emulated answer from qwen3-30b-a3b-fp8. You said: Hello from Python", repr(r.output_text))
    reasoning = r.output[0]
    check(reasoning.content and reasoning.content[0].type == "reasoning_text" and reasoning.content[0].text, f"reasoning {reasoning}")
    u = r.usage
    check(u.total_tokens == u.input_tokens + u.output_tokens and u.input_tokens == 3, f"usage {u}")
    cut = c.responses.create(model="gpt-3.5-turbo", input="go [[emu:tokens=50]]", max_output_tokens=16)
    check(cut.status == "incomplete", f"status {cut.status}")
    check(cut.incomplete_details is not None and cut.incomplete_details.reason == "max_output_tokens", f"{cut.incomplete_details}")


def test_responses_tool_loop(c):
    # The loop as OpenAI's function-calling guide writes it: input += response.output.
    for model in ("o3", "gpt-5", "@cf/meta/llama-3.3-70b-instruct-fp8-fast"):
        items = [{"role": "user", "content": "What is the weather in Paris? [[emu:tool]]"}]
        r = c.responses.create(model=model, input=items, tools=RESPONSES_TOOLS)
        calls = [o for o in r.output if o.type == "function_call"]
        check(len(calls) == 1 and calls[0].name == "get_weather" and calls[0].call_id, f"{model}: one call, got {r.output}")
        check(json.loads(calls[0].arguments) == {"location": "Paris"}, calls[0].arguments)
        items += r.output
        items.append({"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 21C"})
        r2 = c.responses.create(model=model, input=items, tools=RESPONSES_TOOLS)
        check(r2.output_text == "Tool result received: sunny, 21C", f"{model}: {r2.output_text!r}")


def test_responses_stream(c):
    with c.responses.stream(model="gpt-3.5-turbo", input="stream please [[emu:tokens=5]]") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    check(types[:2] == ["response.created", "response.in_progress"] and types[-1] == "response.completed", f"types {types}")
    check([e.sequence_number for e in events] == list(range(len(events))), "sequence_number 0, 1, 2, …")
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    check("".join(deltas) == "w1 w2 w3 w4 w5" and len(deltas) > 1, f"deltas {deltas}")
    check(final.output_text == "w1 w2 w3 w4 w5", repr(final.output_text))

    args = None
    for e in c.responses.create(model="gpt-4", input="Weather in Paris? [[emu:tool]]", tools=RESPONSES_TOOLS, stream=True):
        if e.type == "response.function_call_arguments.done":
            args = e.arguments
    check(args is not None and json.loads(args) == {"location": "Paris"}, f"streamed arguments {args!r}")


def test_responses_structured(c):
    from pydantic import BaseModel

    class Weather(BaseModel):
        city: str
        temp: float

    r = c.responses.parse(model="gpt-4", input="Weather in Paris as JSON", text_format=Weather)
    check(isinstance(r.output_parsed, Weather), f"output_parsed {r.output_parsed!r}")
    check(r.output_parsed.city and isinstance(r.output_parsed.temp, float), f"{r.output_parsed}")


def test_responses_state(c):
    first = c.responses.create(model="o3", input="My name is Ada")
    got = c.responses.retrieve(first.id)
    check(got.id == first.id and got.output_text == first.output_text, f"retrieve {got.id}")
    second = c.responses.create(model="o3", input="What is my name?", previous_response_id=first.id)
    check(second.previous_response_id == first.id, f"previous_response_id {second.previous_response_id}")
    alone = c.responses.create(model="o3", input="What is my name?", store=False)
    check(second.usage.input_tokens > alone.usage.input_tokens, f"turn 1 reaches the model: {second.usage} vs {alone.usage}")
    c.responses.delete(first.id)
    try:
        c.responses.retrieve(first.id)
        raise AssertionError("expected openai.NotFoundError after delete")
    except openai.NotFoundError:
        pass


def test_responses_errors(c):
    try:
        c.responses.create(model="gpt-4", input="search", tools=[{"type": "web_search"}])
        raise AssertionError("expected openai.BadRequestError")
    except openai.BadRequestError as e:
        check((e.param or "").startswith("tools") and "web_search" in str(e), f"param {e.param}: {e}")
    try:
        c.responses.create(model="gpt-does-not-exist", input="hi")
        raise AssertionError("expected openai.NotFoundError")
    except openai.NotFoundError as e:
        check(e.code == "model_not_found", f"code {e.code}")


def test_images_generate(c):
    r = c.images.generate(model="dall-e-3", prompt="A lighthouse at dawn", response_format="b64_json")
    check(isinstance(r.created, int) and len(r.data) == 1, f"one image, got {r}")
    check(r.data[0].url is None, "no url with b64_json")
    raw = base64.b64decode(r.data[0].b64_json)
    check(raw[:3] == b"\xff\xd8\xff", f"JPEG bytes, got {raw[:4]!r}")
    check(r.output_format == "jpeg", f"output_format {r.output_format!r}")
    many = c.images.generate(model="@cf/stabilityai/stable-diffusion-xl-base-1.0", prompt="A lake", n=2, size="512x512")
    urls = [d.url for d in many.data]
    check(len(urls) == 2 and all(u.startswith("data:image/png;base64,") for u in urls), f"two PNG data: URLs, got {[u[:30] for u in urls]}")
    check(urls[0] != urls[1], "distinct seeds give distinct images")
    try:
        c.images.generate(model="dall-e-3", prompt="x [[emu:nsfw]]")
        raise AssertionError("expected openai.BadRequestError")
    except openai.BadRequestError as e:
        check(e.code == "content_policy_violation" and e.param == "prompt", f"code {e.code}, param {e.param}")


def test_audio_transcriptions(c):
    text = c.audio.transcriptions.create(model="whisper-1", file=("a.mp3", b"hello there"), response_format="text")
    check(isinstance(text, str) and text.strip() == "hello there", repr(text))
    r = c.audio.transcriptions.create(model="whisper-1", file=("a.mp3", b"hello there"))
    check(r.text == "hello there", repr(r.text))
    v = c.audio.transcriptions.create(
        model="whisper-1", file=("a.mp3", b"one two"), response_format="verbose_json", timestamp_granularities=["word"]
    )
    check([w.word for w in v.words] == ["one", "two"] and v.duration > 0, f"words {v.words}, duration {v.duration}")
    with warnings.catch_warnings():  # this SDK marks translations deprecated; the endpoint is served
        warnings.simplefilter("ignore", DeprecationWarning)
        t = c.audio.translations.create(model="whisper-1", file=("a.mp3", b"bonjour"))
    check(t.text == "bonjour", repr(t.text))


def test_audio_speech(c):
    res = c.audio.speech.create(model="tts-1", input="Hello world", voice="alloy")
    data = res.content
    check(res.response.headers.get("content-type", "").startswith("audio/mpeg"), res.response.headers.get("content-type"))
    check(len(data) > 100 and (data[:2] == b"\xff\xfb" or data[:3] == b"ID3"), f"MP3 bytes, got {data[:4]!r}")
    try:
        c.audio.speech.create(model="tts-1", input="Hello", voice="alloy", response_format="wav")
        raise AssertionError("expected openai.BadRequestError")
    except openai.BadRequestError as e:
        check(e.param == "response_format", f"param {e.param}")


def test_moderations(c):
    r = c.moderations.create(input=["A sunny day", "Something awful [[emu:unsafe=S1,S10]]"])
    check(r.id.startswith("modr-") and r.model == "omni-moderation-latest", f"id {r.id}, model {r.model}")
    check(len(r.results) == 2, f"two results, got {len(r.results)}")
    safe, bad = r.results
    check(not safe.flagged and not any(safe.categories.model_dump().values()), f"safe {safe}")
    check(bad.flagged and bad.categories.violence and bad.categories.hate, f"flagged {bad.categories}")
    check(bad.category_scores.violence == 1 and bad.category_scores.sexual == 0, f"scores {bad.category_scores}")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    base_url = sys.argv[1].rstrip("/") + "/v1"
    c = make_client(base_url)
    tests = [
        ("models list/retrieve", lambda: test_models_list(c)),
        ("plain chat (legacy)", lambda: test_chat_legacy(c)),
        ("plain chat (native, reasoning_content)", lambda: test_chat_native_reasoning(c)),
        ("streamed chat with include_usage", lambda: test_chat_stream(c)),
        ("streamed tool call", lambda: test_stream_tool_call(c)),
        ("auth error", lambda: test_auth_error(base_url)),
        ("not found / rate limit errors", lambda: test_not_found_and_rate_limit(c)),
        ("responses: create, reasoning, incomplete", lambda: test_responses_create(c)),
        ("responses: function-call loop (input += output)", lambda: test_responses_tool_loop(c)),
        ("responses: stream helper and stream=True", lambda: test_responses_stream(c)),
        ("responses: parse with a pydantic text_format", lambda: test_responses_structured(c)),
        ("responses: retrieve, previous_response_id, delete", lambda: test_responses_state(c)),
        ("responses: errors", lambda: test_responses_errors(c)),
        ("images: generate (b64_json JPEG, PNG data: URLs, content policy)", lambda: test_images_generate(c)),
        ("audio: transcriptions (text, json, verbose_json words) and translations", lambda: test_audio_transcriptions(c)),
        ("audio: speech (MP3 bytes, wav refused)", lambda: test_audio_speech(c)),
        ("moderations: flagged and safe", lambda: test_moderations(c)),
    ]
    passed = failed = 0
    print(f"smoke.py: openai {openai.__version__} against {base_url}")
    for name, fn in tests:
        try:
            fn()
        except Exception:  # noqa: BLE001 - report every failure and continue
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"python smoke: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
