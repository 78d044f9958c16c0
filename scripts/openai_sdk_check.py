"""Drives a live Sluice with the official OpenAI Python SDK: streaming and not, usage, errors.

Usage: python3 scripts/openai_sdk_check.py http://127.0.0.1:8080/v1
Exits non-zero with a message on the first mismatch; prints "openai-sdk-check: ok" when all pass.
"""
import sys

import openai

base_url = sys.argv[1]
client = openai.OpenAI(base_url=base_url, api_key=sys.argv[2] if len(sys.argv) > 2 else "unused", max_retries=0)
messages = [{"role": "user", "content": "Why does light bend in water?"}]
extra = {"mock": {"tokens": 9}}


def check(condition, message):
    if not condition:
        print("openai-sdk-check: FAILED:", message)
        sys.exit(1)


raw = client.chat.completions.with_raw_response.create(model="default", messages=messages, user="sdk-user", extra_body=extra)
check(raw.headers.get("x-sluice-job-id", "").startswith("job_"), "X-Sluice-Job-Id header")
check(raw.headers.get("x-sluice-cache") == "miss", "X-Sluice-Cache: miss on the first ask")
completion = raw.parse()
text = completion.choices[0].message.content
check(completion.object == "chat.completion", f"object is {completion.object}")
check(len(text.split()) == 9, f"answer has {len(text.split())} words: {text!r}")
check(completion.choices[0].finish_reason == "stop", "finish_reason")
check(completion.usage.completion_tokens == 9, f"usage {completion.usage}")
check(completion.usage.total_tokens == completion.usage.prompt_tokens + 9, "total_tokens")

again = client.chat.completions.with_raw_response.create(model="default", messages=messages, user="sdk-user", extra_body=extra)
check(again.headers.get("x-sluice-cache") == "exact", "X-Sluice-Cache: exact on the second ask")
check(again.parse().choices[0].message.content == text, "the cached answer is the same")

pieces, usage, finish = [], None, None
stream = client.chat.completions.create(
    model="default", messages=messages, stream=True, stream_options={"include_usage": True}, extra_body=extra
)
for chunk in stream:
    if chunk.usage is not None:
        usage = chunk.usage
    for choice in chunk.choices:
        if choice.delta.content:
            pieces.append(choice.delta.content)
        if choice.finish_reason:
            finish = choice.finish_reason
check("".join(pieces) == text, f"streamed {''.join(pieces)!r} != {text!r}")
check(finish == "stop", f"stream finish_reason {finish}")
check(usage is not None and usage.completion_tokens == 9, f"stream usage {usage}")

models = [m.id for m in client.models.list()]
check("default" in models and "mock" in models, f"models {models}")

try:
    client.chat.completions.create(model="no-such-model", messages=messages)
    check(False, "unknown model accepted")
except openai.NotFoundError as error:
    check(error.body.get("code") == "model_not_found", f"error body {error.body}")

try:
    client.chat.completions.create(model="default", messages=[], extra_body=extra)
    check(False, "empty messages accepted")
except openai.BadRequestError as error:
    check(error.body.get("code") == "invalid_messages", f"error body {error.body}")

try:
    for _ in client.chat.completions.create(
        model="default", messages=messages, stream=True, extra_body={"mock": {"tokens": 9, "fail": "after:4"}}
    ):
        pass
    check(False, "an interrupted stream ended as if complete")
except openai.APIError as error:
    check("interrupted" in str(error.message).lower() or "restarted" in str(error.message).lower(), f"error {error.message}")

print("openai-sdk-check: ok")
