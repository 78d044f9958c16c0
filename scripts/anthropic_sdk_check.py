"""Drives a live Sluice with the official Anthropic Python SDK through /v1/messages: plain, streamed
with `messages.stream`, a token cap, and errors in Anthropic's shape.

Usage: python3 scripts/anthropic_sdk_check.py http://127.0.0.1:8080 [API_KEY]
Exits non-zero with a message on the first mismatch; prints "anthropic-sdk-check: ok" when all pass.
"""
import sys

import anthropic

client = anthropic.Anthropic(base_url=sys.argv[1], api_key=sys.argv[2] if len(sys.argv) > 2 else "unused", max_retries=0)
question = [{"role": "user", "content": "Why does ice float on water?"}]


def check(condition, message):
    if not condition:
        print("anthropic-sdk-check: FAILED:", message)
        sys.exit(1)


raw = client.messages.with_raw_response.create(
    model="default", max_tokens=100, system="Answer briefly.", messages=question, metadata={"user_id": "student-7"},
    extra_body={"mock": {"tokens": 9}},
)
check(raw.headers.get("x-sluice-job-id", "").startswith("job_"), "X-Sluice-Job-Id header")
message = raw.parse()
check(message.type == "message" and message.role == "assistant", f"message {message}")
check(message.id.startswith("msg_"), f"id {message.id}")
check(len(message.content[0].text.split()) == 9, f"text {message.content[0].text!r}")
check(message.stop_reason == "end_turn", f"stop_reason {message.stop_reason}")
check(message.usage.output_tokens == 9 and message.usage.input_tokens > 0, f"usage {message.usage}")

with client.messages.stream(
    model="default", max_tokens=100, messages=[{"role": "user", "content": [{"type": "text", "text": "Stream it"}]}],
    extra_body={"mock": {"tokens": 7}},
) as stream:
    text = "".join(stream.text_stream)
    final = stream.get_final_message()
check(len(text.split()) == 7, f"streamed {text!r}")
check(final.content[0].text == text and final.stop_reason == "end_turn", f"final {final}")
check(final.usage.output_tokens == 7, f"final usage {final.usage}")

capped = client.messages.create(model="default", max_tokens=4, messages=question, extra_body={"mock": {"tokens": 30}})
check(capped.stop_reason == "max_tokens", f"capped stop_reason {capped.stop_reason}")
check(len(capped.content[0].text.split()) == 4, f"capped text {capped.content[0].text!r}")

try:
    client.messages.create(model="no-such-model", max_tokens=10, messages=question)
    check(False, "an unknown model was accepted")
except anthropic.NotFoundError as error:
    check(error.body["type"] == "error" and error.body["error"]["type"] == "not_found_error", f"body {error.body}")

try:
    client.messages.create(model="default", max_tokens=10, messages=question, extra_body={"temperature": 1.5})
    check(False, "temperature 1.5 was accepted")
except anthropic.BadRequestError as error:
    check(error.body["error"]["type"] == "invalid_request_error", f"body {error.body}")
    check("temperature" in error.body["error"]["message"], f"message {error.body['error']['message']}")

try:
    client.messages.create(model="default", max_tokens=10, messages=question, extra_body={"tools": [{"name": "t", "input_schema": {"type": "object"}}]})
    check(False, "tools were accepted")
except anthropic.BadRequestError as error:
    check("tools" in error.body["error"]["message"], f"message {error.body['error']['message']}")

print("anthropic-sdk-check: ok")
