"""Drives a live Sluice with the official OpenAI Python SDK through the Responses and embeddings APIs:
plain, streamed, background with a dropped stream resumed by `starting_after`, cancel,
`previous_response_id`, input items, delete, and embeddings as floats and base64.

Usage: python3 scripts/openai_responses_check.py http://127.0.0.1:8080/v1 [API_KEY]
Exits non-zero with a message on the first mismatch; prints "openai-responses-check: ok" when all pass.
"""
import sys

import openai

base_url = sys.argv[1]
client = openai.OpenAI(base_url=base_url, api_key=sys.argv[2] if len(sys.argv) > 2 else "unused", max_retries=0)


def check(condition, message):
    if not condition:
        print("openai-responses-check: FAILED:", message)
        sys.exit(1)


def deltas(events):
    return "".join(e.delta for e in events if e.type == "response.output_text.delta")


# Plain: a response object, readable again, with its input items.
plain = client.responses.create(
    model="default", input="Why is the sky blue?", instructions="Answer briefly.", metadata={"course": "physics"},
    extra_body={"mock": {"tokens": 12}},
)
check(plain.id.startswith("resp_"), f"id {plain.id}")
check(plain.status == "completed", f"status {plain.status}")
check(len(plain.output_text.split()) == 12, f"output_text {plain.output_text!r}")
check(plain.usage.output_tokens == 12, f"usage {plain.usage}")
check(plain.metadata == {"course": "physics"}, f"metadata {plain.metadata}")
check(plain.instructions == "Answer briefly.", f"instructions {plain.instructions}")
again = client.responses.retrieve(plain.id)
check(again.output_text == plain.output_text and again.status == "completed", "retrieve gives the same answer")
items = client.responses.input_items.list(plain.id)
check([i.content[0].text for i in items.data] == ["Why is the sky blue?"], f"input items {items.data}")

# Streamed: events numbered upward from 0, the deltas make the final text.
events = list(client.responses.create(model="default", input="Stream this answer", stream=True, extra_body={"mock": {"tokens": 8}}))
types = [e.type for e in events]
check(types[0] == "response.created" and types[-1] == "response.completed", f"types {types}")
for name in ["response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.done",
             "response.content_part.done", "response.output_item.done"]:
    check(name in types, f"{name} missing from {types}")
numbers = [e.sequence_number for e in events]
check(numbers[0] == 0 and numbers == sorted(set(numbers)), f"sequence numbers {numbers}")
check(deltas(events) == events[-1].response.output_text, "the deltas make the final text")

# The SDK's stream helper.
with client.responses.stream(model="default", input="Through the helper", extra_body={"mock": {"tokens": 6}}) as stream:
    helper_text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
    final = stream.get_final_response()
check(final.status == "completed" and final.output_text == helper_text, f"helper {final.status} {final.output_text!r} {helper_text!r}")

# Background and streamed, dropped mid-answer, resumed with starting_after: exactly the missing events.
stream = client.responses.create(
    model="default", input="A long answer, please", background=True, stream=True,
    extra_body={"mock": {"tokens": 40, "tokens_per_second": 60}},
)
seen = []
for event in stream:
    seen.append(event)
    if sum(e.type == "response.output_text.delta" for e in seen) == 5:
        break
stream.close()
response_id = seen[0].response.id
check(seen[0].response.background is True, "background is said")
last = seen[-1].sequence_number
rest = list(client.responses.retrieve(response_id, stream=True, starting_after=last))
check(rest and rest[0].sequence_number > last, f"resumed at {rest[0].sequence_number if rest else None}, after {last}")
whole = list(client.responses.retrieve(response_id, stream=True))
check([(e.sequence_number, e.type) for e in seen + rest] == [(e.sequence_number, e.type) for e in whole], "resumed = replayed")
done = client.responses.retrieve(response_id)
check(done.status == "completed" and deltas(seen + rest) == done.output_text, f"resumed text {done.status}")
check(len(done.output_text.split()) == 40, "the whole answer")
nothing = client.responses.with_raw_response.retrieve(response_id, stream=True, starting_after=whole[-1].sequence_number)
check(nothing.http_response.status_code == 204, f"after the last event: {nothing.http_response.status_code}")

# Background, cancelled; a second cancel changes nothing.
slow = client.responses.create(
    model="default", input="Cancel me", background=True, extra_body={"mock": {"tokens": 400, "tokens_per_second": 20}}
)
check(slow.status in ("queued", "in_progress"), f"background status {slow.status}")
cancelled = client.responses.cancel(slow.id)
check(cancelled.status == "cancelled", f"cancel gave {cancelled.status}")
check(client.responses.cancel(slow.id).status == "cancelled", "second cancel")
check(client.responses.retrieve(slow.id).status == "cancelled", "stays cancelled")

# previous_response_id: the conversation goes on; its input items are only the new input.
first = client.responses.create(model="default", input="My name is Bat.", extra_body={"mock": {"tokens": 5}})
alone = client.responses.create(model="default", input="What is my name?", extra_body={"mock": {"tokens": 5}})
second = client.responses.create(
    model="default", input="What is my name?", previous_response_id=first.id, extra_body={"mock": {"tokens": 5}}
)
check(second.previous_response_id == first.id, "previous_response_id is said")
check(second.usage.input_tokens > alone.usage.input_tokens, f"history sent: {second.usage.input_tokens} <= {alone.usage.input_tokens}")
check([i.content[0].text for i in client.responses.input_items.list(second.id).data] == ["What is my name?"], "input items")

# Delete: gone afterwards.
client.responses.delete(first.id)
try:
    client.responses.retrieve(first.id)
    check(False, "a deleted response is still read")
except openai.NotFoundError:
    pass

# Another's response is not found.
try:
    client.responses.retrieve("resp_" + "0" * 48)
    check(False, "an unknown response is read")
except openai.NotFoundError:
    pass

# Embeddings: the SDK asks for base64 by default; floats give the same vectors; dimensions shorten.
packed = client.embeddings.create(model="default", input=["hello world", "сайн байна уу"])
floats = client.embeddings.create(model="default", input=["hello world", "сайн байна уу"], encoding_format="float")
check(len(packed.data) == 2 and len(packed.data[0].embedding) == 384, f"embedding size {len(packed.data[0].embedding)}")
check(all(abs(a - b) < 1e-6 for a, b in zip(packed.data[1].embedding, floats.data[1].embedding)), "base64 = float")
check(packed.data[0].embedding != packed.data[1].embedding, "different texts, different vectors")
check(packed.usage.prompt_tokens > 0, f"usage {packed.usage}")
short = client.embeddings.create(model="default", input="hello world", dimensions=64, encoding_format="float")
check(len(short.data[0].embedding) == 64, f"dimensions {len(short.data[0].embedding)}")

print("openai-responses-check: ok")
