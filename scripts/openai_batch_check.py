"""Drives a live Sluice with the official OpenAI Python SDK through the Files and Batch APIs: upload a
batch file (a malformed one is refused with its line numbers), create a batch, send interactive
requests while it runs and read their queue wait, poll the batch to `completed`, read its output file
(lines matched to the input by `custom_id`) and its error file (the lines the API refused), list and
delete files, and cancel a second batch part-way.

The node is expected to run 2 workers and `batches.concurrency` 2, so that the batch fills the node:
an interactive request then waits at most for one batch job's slot (each batch line takes ~0.6 s).

Usage: python3 scripts/openai_batch_check.py http://127.0.0.1:8080/v1
Exits non-zero with a message on the first mismatch; prints "openai-batch-check: ok" when all pass.
"""
import io
import json
import sys
import threading
import time

import urllib.request

import openai

base_url = sys.argv[1]
client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
SLOT = 0.6  # seconds one batch line runs (mock: 6 tokens at 10/s)


def check(condition, message):
    if not condition:
        print("openai-batch-check: FAILED:", message)
        sys.exit(1)


def line(custom_id, content, model="default", **extra):
    body = {"model": model, "messages": [{"role": "user", "content": content}], "mock": {"tokens": 6, "tokens_per_second": 10}}
    body.update(extra)
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body})


def upload(lines, name="batch.jsonl"):
    return client.files.create(file=(name, io.BytesIO(("\n".join(lines) + "\n").encode()), "application/jsonl"), purpose="batch")


def wait_for(batch_id, statuses, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        batch = client.batches.retrieve(batch_id)
        if batch.status in statuses:
            return batch
        time.sleep(0.2)
    check(False, f"batch {batch_id} never reached {statuses}: {client.batches.retrieve(batch_id)}")


# A malformed file is refused whole, naming its lines.
try:
    upload([line("a", "fine"), "not json", json.dumps({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}})])
    check(False, "a malformed batch file was accepted")
except openai.BadRequestError as error:
    text = str(error)
    check("line 2" in text and "line 3" in text, f"the refusal names the lines: {text}")

# 16 good lines, and 2 the API refuses: an unknown model (404) and a bad max_tokens (400).
good = [line(f"q-{i}", f"question number {i}") for i in range(16)]
bad = [line("bad-model", "x", model="no-such-model"), line("bad-tokens", "y", max_tokens=-1)]
inputs = good[:8] + bad[:1] + good[8:] + bad[1:]
uploaded = upload(inputs)
check(uploaded.id.startswith("file-") and uploaded.purpose == "batch", f"file {uploaded}")
check(uploaded.bytes == len(("\n".join(inputs) + "\n").encode()), f"bytes {uploaded.bytes}")
check(client.files.retrieve(uploaded.id).filename == "batch.jsonl", "retrieve the file")
check(client.files.content(uploaded.id).text.splitlines() == inputs, "the file's content reads back")

batch = client.batches.create(
    input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h", metadata={"class": "9b"})
check(batch.id.startswith("batch_") and batch.status == "validating", f"created {batch}")
check(batch.metadata == {"class": "9b"}, f"metadata {batch.metadata}")
wait_for(batch.id, {"in_progress", "finalizing", "completed"})

# Interactive requests while the batch runs: each one's queue wait, from the jobs API.
waits = []


def call(method, path, user, body=None):
    request = urllib.request.Request(
        base_url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"X-Sluice-User": user, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def interactive(n):
    body = {"model": "default", "messages": [{"role": "user", "content": f"student question {n}"}], "mock": {"tokens": 2}}
    job = call("POST", "/jobs", f"student-{n}", body)
    while True:
        state = call("GET", f"/jobs/{job['id']}", f"student-{n}")
        if state["state"] in ("succeeded", "failed", "expired", "cancelled"):
            break
        time.sleep(0.05)
    check(state["state"] == "succeeded", f"interactive job {state}")
    waits.append(state["started_at"] - state["created_at"])


for round in range(3):
    threads = [threading.Thread(target=interactive, args=(round * 10 + n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(0.3)
mid = client.batches.retrieve(batch.id)
check(mid.request_counts.total == 18, f"total {mid.request_counts}")

done = wait_for(batch.id, {"completed", "failed", "expired", "cancelled"})
check(done.status == "completed", f"status {done.status} {done.errors}")
check(done.request_counts.completed == 16 and done.request_counts.failed == 2, f"counts {done.request_counts}")
check(done.completed_at and done.in_progress_at and done.finalizing_at, f"times {done}")
print(f"interactive queue waits during the batch: {', '.join(f'{w * 1000:.0f} ms' for w in sorted(waits))} (one batch job's slot: {SLOT * 1000:.0f} ms)")
# Served first, an interactive request waits at most for one running line to end; a starved one would
# wait for the batch's 18 lines (about 5 s). The bound is under two slots: under the whole suite's load
# on 2 cores a 0.6 s slot was seen to stretch to 1 s (waits of 1,006 and 1,028 ms in one CI run).
check(max(waits) < 2 * SLOT, f"an interactive request waited {max(waits):.2f} s, two batch jobs' slots or more")

output = [json.loads(text) for text in client.files.content(done.output_file_id).text.splitlines()]
check(sorted(o["custom_id"] for o in output) == sorted(f"q-{i}" for i in range(16)), f"output ids {[o['custom_id'] for o in output]}")
by_id = {json.loads(text)["custom_id"]: json.loads(text) for text in inputs}
for result in output:
    check(result["id"].startswith("batch_req_") and result["error"] is None, f"line {result}")
    response = result["response"]
    check(response["status_code"] == 200, f"status {response}")
    body = response["body"]
    check(body["object"] == "chat.completion", f"body {body}")
    check(len(body["choices"][0]["message"]["content"].split()) == 6, f"answer {body['choices'][0]}")
    check(body["model"] == by_id[result["custom_id"]]["body"]["model"], "model")
    check(response["request_id"].startswith("job_"), f"request id {response}")
errors = {json.loads(t)["custom_id"]: json.loads(t) for t in client.files.content(done.error_file_id).text.splitlines()}
check(set(errors) == {"bad-model", "bad-tokens"}, f"error ids {list(errors)}")
check(errors["bad-model"]["response"]["status_code"] == 404, f"bad model {errors['bad-model']}")
check(errors["bad-model"]["response"]["body"]["error"]["code"] == "model_not_found", f"bad model {errors['bad-model']}")
check(errors["bad-tokens"]["response"]["status_code"] == 400, f"bad tokens {errors['bad-tokens']}")
check(client.files.retrieve(done.output_file_id).purpose == "batch_output", "output file purpose")
check(any(b.id == batch.id for b in client.batches.list().data), "the batch is listed")

# A second batch, cancelled part-way: what ran is in the output, the rest in the error file.
slow = upload([line(f"s-{i}", f"slow question {i}") for i in range(30)], name="slow.jsonl")
second = client.batches.create(input_file_id=slow.id, endpoint="/v1/chat/completions", completion_window="24h")
deadline = time.time() + 60
while client.batches.retrieve(second.id).request_counts.completed < 2 and time.time() < deadline:
    time.sleep(0.1)
cancelling = client.batches.cancel(second.id)
check(cancelling.status in ("cancelling", "cancelled"), f"cancel {cancelling.status}")
ended = wait_for(second.id, {"cancelled", "completed"})
check(ended.status == "cancelled", f"status {ended.status}")
counts = ended.request_counts
check(counts.total == 30 and 2 <= counts.completed < 30 and counts.completed + counts.failed == 30, f"counts {counts}")
cancelled = [json.loads(t) for t in client.files.content(ended.error_file_id).text.splitlines()]
check(len(cancelled) == counts.failed, "every line not answered is in the error file")
check(any((c.get("error") or {}).get("code") == "batch_cancelled" for c in cancelled), f"cancelled lines {cancelled[:2]}")

check(client.files.delete(uploaded.id).deleted, "delete")
try:
    client.files.retrieve(uploaded.id)
    check(False, "a deleted file is still there")
except openai.NotFoundError:
    pass
print("openai-batch-check: ok")
