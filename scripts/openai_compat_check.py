"""Drives a live Sluice with the official OpenAI Python SDK through every kind of answer a provider gives:
tool calls, images in, JSON mode and structured outputs, stop/seed/penalties, log probabilities, refusals,
several choices, streamed and not, and the cache's view of them.

The upstream behind Sluice is the tests' fake provider, which answers each question by the tag in it
(`[tools]`, `[logprobs]`, …) with the bytes the test scripted; the Swift test checks what the provider
received, this script checks what the app got back.

Usage: python3 scripts/openai_compat_check.py http://127.0.0.1:8080/v1 [model]
Exits non-zero with a message on the first mismatch; prints "openai-compat-check: ok" when all pass.
"""
import json
import sys

import openai

base_url = sys.argv[1]
model = sys.argv[2] if len(sys.argv) > 2 else "gpt"
client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    },
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}},
]
OPTIONS = dict(
    tools=TOOLS,
    tool_choice="auto",
    parallel_tool_calls=True,
    seed=7,
    stop=["\n\nEND"],
    temperature=0.3,
    top_p=0.9,
    frequency_penalty=0.1,
    presence_penalty=0.2,
    logit_bias={"50256": -100},
    max_completion_tokens=100,
    user="student-1",
    metadata={"lesson": "weather"},
)
EXPECTED_CALLS = [("call_abc", "get_weather", '{"city": "Ulaanbaatar"}'), ("call_def", "get_time", '{"tz": "UB"}')]
# A streaming provider sends the arguments in fragments, passed on as they came; a provider that answers
# whole (the `-whole` alias) sends them in one piece.
ARGUMENT_FRAGMENTS = ['{"city"', ': "Ulaan', 'baatar"}'] if not model.endswith("-whole") else ['{"city": "Ulaanbaatar"}']


def check(condition, message):
    if not condition:
        print("openai-compat-check: FAILED:", message)
        sys.exit(1)


def ask(question, **options):
    return client.chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": question}], **options)


def stream(question, messages=None, **options):
    """Streams an answer and gathers it as an app would: per choice its text, refusal, tool calls (by
    index), log probabilities and finish reason; also the raw argument fragments of each call."""
    choices, fragments, usage, fingerprint = {}, {}, None, None
    for chunk in client.chat.completions.create(
        model=model, messages=messages or [{"role": "user", "content": question}], stream=True,
        stream_options={"include_usage": True}, **options
    ):
        if chunk.usage is not None:
            usage = chunk.usage
        fingerprint = chunk.system_fingerprint or fingerprint
        for choice in chunk.choices:
            into = choices.setdefault(choice.index, {"content": "", "refusal": "", "calls": {}, "logprobs": [], "finish": None})
            delta = choice.delta
            into["content"] += delta.content or ""
            into["refusal"] += getattr(delta, "refusal", None) or ""
            for call in delta.tool_calls or []:
                gathered = into["calls"].setdefault(call.index, {"id": None, "name": "", "arguments": ""})
                if call.id:
                    gathered["id"] = call.id
                if call.function and call.function.name:
                    gathered["name"] += call.function.name
                if call.function and call.function.arguments:
                    gathered["arguments"] += call.function.arguments
                    fragments.setdefault(call.index, []).append(call.function.arguments)
            if choice.logprobs and choice.logprobs.content:
                into["logprobs"] += [entry.token for entry in choice.logprobs.content]
            if choice.finish_reason:
                into["finish"] = choice.finish_reason
    return choices, fragments, usage, fingerprint


# Tool calls, not streamed: every field of the message and of the usage comes back.
raw = ask("What is the weather? [tools]", **OPTIONS)
completion = raw.parse()
message = completion.choices[0].message
check(completion.choices[0].finish_reason == "tool_calls", f"finish_reason {completion.choices[0].finish_reason}")
calls = [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []]
check(calls == EXPECTED_CALLS, f"tool calls {calls}")
check(all(c.type == "function" for c in message.tool_calls), "tool call type")
check(message.content is None, f"content of a tool-call message {message.content!r}")
check(completion.system_fingerprint == "fp_test", f"system_fingerprint {completion.system_fingerprint}")
check(completion.usage.prompt_tokens_details.cached_tokens == 4, f"cached tokens {completion.usage}")
check(completion.usage.completion_tokens_details.reasoning_tokens == 2, f"reasoning tokens {completion.usage}")
check(raw.headers.get("x-sluice-cache") == "miss", "first ask is a miss")

# The same, streamed: tool-call deltas exactly as the provider sent them.
choices, fragments, usage, fingerprint = stream("What is the weather now? [tools]", **OPTIONS)
got = [(c["id"], c["name"], c["arguments"]) for _, c in sorted(choices[0]["calls"].items())]
check(got == EXPECTED_CALLS, f"streamed tool calls {got}")
check(fragments.get(0) == ARGUMENT_FRAGMENTS, f"argument fragments {fragments.get(0)}")
check(choices[0]["finish"] == "tool_calls", f"streamed finish {choices[0]['finish']}")
check(fingerprint == "fp_test", f"streamed fingerprint {fingerprint}")
check(usage.prompt_tokens_details.cached_tokens == 4, f"streamed usage {usage}")

# Asked again: the cache answers with the tool calls, streamed and not.
again = ask("What is the weather? [tools]", **OPTIONS)
check(again.headers.get("x-sluice-cache") == "exact", f"repeat is an exact hit: {again.headers.get('x-sluice-cache')}")
calls = [(c.id, c.function.name, c.function.arguments) for c in again.parse().choices[0].message.tool_calls or []]
check(calls == EXPECTED_CALLS, f"cached tool calls {calls}")
check(again.parse().choices[0].finish_reason == "tool_calls", "cached finish_reason")
choices, _, _, _ = stream("What is the weather? [tools]", **OPTIONS)
got = [(c["id"], c["name"], c["arguments"]) for _, c in sorted(choices[0]["calls"].items())]
check(got == EXPECTED_CALLS, f"cached streamed tool calls {got}")

# A tool-using conversation continues: the assistant's calls and the tool's result reach the provider.
conversation = [
    {"role": "user", "content": "What is the weather? [tool-result]"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Ulaanbaatar"}'}}]},
    {"role": "tool", "tool_call_id": "call_abc", "content": "sunny, 21 C"},
]
reply = client.chat.completions.create(model=model, messages=conversation, tools=TOOLS)
check(reply.choices[0].message.content == "It is sunny in Ulaanbaatar.", f"after the tool {reply.choices[0].message.content!r}")

# An image reaches the provider (checked by the test); the answer comes back.
png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": [
    {"type": "text", "text": "What shape is this? [image]"},
    {"type": "image_url", "image_url": {"url": png}},
    {"type": "image_url", "image_url": {"url": "https://example.com/triangle.png", "detail": "high"}},
]}])
check(reply.choices[0].message.content == "A right triangle.", f"image answer {reply.choices[0].message.content!r}")

# JSON mode and structured outputs.
reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Steps? [json]"}], response_format={"type": "json_object"})
check(json.loads(reply.choices[0].message.content) == {"steps": ["a", "b"]}, f"json mode {reply.choices[0].message.content!r}")
schema = {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": {
    "type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"], "additionalProperties": False}}}
choices, _, _, _ = stream("The answer? [schema]", response_format=schema)
check(json.loads(choices[0]["content"]) == {"answer": 42}, f"structured output {choices[0]['content']!r}")

# Log probabilities, not streamed and streamed.
reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi [logprobs]"}], logprobs=True, top_logprobs=2)
tokens = [entry.token for entry in reply.choices[0].logprobs.content]
check(tokens == ["Hello", " there"], f"logprobs tokens {tokens}")
check(len(reply.choices[0].logprobs.content[0].top_logprobs) == 2, "top_logprobs")
check(reply.choices[0].message.content == "Hello there", f"logprobs text {reply.choices[0].message.content!r}")
choices, _, _, _ = stream("Hi again [logprobs]", logprobs=True, top_logprobs=2)
check(choices[0]["logprobs"] == ["Hello", " there"], f"streamed logprobs {choices[0]['logprobs']}")

# A refusal.
reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Do my exam [refusal]"}])
check(reply.choices[0].message.refusal == "I can't help with that.", f"refusal {reply.choices[0].message.refusal!r}")
choices, _, _, _ = stream("Do my exam now [refusal]")
check(choices[0]["refusal"] == "I can't help with that.", f"streamed refusal {choices[0]['refusal']!r}")

# Several choices.
reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Two ideas [n2]"}], n=2)
check([c.message.content for c in reply.choices] == ["First idea.", "Second idea."], f"n=2 {[c.message.content for c in reply.choices]}")
check([c.finish_reason for c in reply.choices] == ["stop", "length"], f"n=2 finish {[c.finish_reason for c in reply.choices]}")
choices, _, _, _ = stream("Two more ideas [n2]", n=2)
check([choices[i]["content"] for i in (0, 1)] == ["First idea.", "Second idea."], f"streamed n=2 {choices}")
check([choices[i]["finish"] for i in (0, 1)] == ["stop", "length"], f"streamed n=2 finish {choices}")

# The cache never mixes requests that differ in an option that changes the answer.
question = "Why is the sky blue? [cache]"
check(ask(question).headers.get("x-sluice-cache") == "miss", "plain first ask")
for name, options in [
    ("response_format", {"response_format": {"type": "json_object"}}),
    ("tools", {"tools": TOOLS}),
    ("stop", {"stop": ["."]}),
    ("seed", {"seed": 1}),
    ("logit_bias", {"logit_bias": {"11": 5}}),
]:
    check(ask(question, **options).headers.get("x-sluice-cache") == "miss", f"a request with {name} was served the plain answer")
check(ask(question).headers.get("x-sluice-cache") == "exact", "the plain question again is an exact hit")
check(ask(question, user="someone-else").headers.get("x-sluice-cache") == "exact", "user does not change the key")

print("openai-compat-check: ok")
