"""Interactive queue wait before and during a large batch (benchmarks/batch.sh).

Interactive load: Poisson arrivals of chat jobs (POST /v1/jobs, each from its own student, a mock answer
of 10 tokens at 50 tokens/s after 50 ms), each job's queue wait read from the jobs API (started_at - created_at,
both stamped by the node). Phase "before": 30 s of that load alone. Then a batch of N lines (the official
Batch API: a file upload, then /v1/batches; each line a mock answer of 4 tokens at 200 tokens/s after 20 ms) is
created, and the same load runs until the batch completes. Prints a Markdown table.
"""
import io
import json
import random
import statistics
import sys
import threading
import time
import urllib.request

base, lines, rate, concurrency = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])


def call(method, path, body=None, user="bench", content_type="application/json"):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, method=method, data=data, headers={"X-Sluice-User": user, "Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def interactive(n, waits, errors):
    user = f"student-{n}"
    body = {"model": "default", "messages": [{"role": "user", "content": f"question {n} {random.random()}"}],
            "mock": {"tokens": 10, "tokens_per_second": 50, "ttft_ms": 50}}
    try:
        job = call("POST", "/v1/jobs", body, user)
        time.sleep(0.25)
        while True:
            state = call("GET", f"/v1/jobs/{job['id']}", user=user)
            if state["state"] in ("succeeded", "failed", "expired", "cancelled"):
                break
            time.sleep(0.1)
        if state["state"] == "succeeded":
            waits.append(state["started_at"] - state["created_at"])
        else:
            errors.append(state["state"])
    except Exception as error:  # noqa: BLE001 - counted, reported
        errors.append(str(error))


def load(until, waits, errors):
    threads, n = [], 0
    while not until():
        n += 1
        thread = threading.Thread(target=interactive, args=(n, waits, errors))
        thread.start()
        threads.append(thread)
        time.sleep(random.expovariate(rate))
    for thread in threads:
        thread.join()
    return n


random.seed(7)
before, before_errors = [], []
start = time.time()
sent_before = load(lambda: time.time() - start > 30, before, before_errors)

records = []
for i in range(lines):
    records.append(json.dumps({"custom_id": f"line-{i}", "method": "POST", "url": "/v1/chat/completions", "body": {
        "model": "default", "messages": [{"role": "user", "content": f"grade essay {i}"}], "mock": {"tokens": 4, "tokens_per_second": 200, "ttft_ms": 20}}}))
boundary = "sluice-bench"
payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
           f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"essays.jsonl\"\r\n\r\n"
           + "\n".join(records) + f"\n\r\n--{boundary}--\r\n").encode()
uploaded = call("POST", "/v1/files", payload, user="teacher", content_type=f"multipart/form-data; boundary={boundary}")
batch = call("POST", "/v1/batches", {"input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions"}, user="teacher")
batch_start = time.time()
state = {"done": False}


def watch():
    while True:
        current = call("GET", f"/v1/batches/{batch['id']}", user="teacher")
        if current["status"] in ("completed", "failed", "expired", "cancelled"):
            state.update(done=True, batch=current, seconds=time.time() - batch_start)
            return
        time.sleep(0.5)


watcher = threading.Thread(target=watch)
watcher.start()
during, during_errors = [], []
sent_during = load(lambda: state["done"], during, during_errors)
watcher.join()
finished = state["batch"]
counts = finished["request_counts"]

ms = lambda v: f"{v * 1000:.0f} ms"  # noqa: E731
print(f"batch {finished['id']}: {finished['status']}, {counts['completed']} completed, {counts['failed']} failed of {counts['total']} "
      f"in {state['seconds']:.1f} s ({counts['total'] / state['seconds']:.0f} lines/s, {concurrency} in flight)")
print(f"interactive: {sent_before} sent before ({len(before_errors)} errors), {sent_during} during ({len(during_errors)} errors)")
print()
print(f"| interactive load ({rate:g} requests/s, 8 workers) | requests | queue wait p50 | p99 | max |")
print("| --- | ---: | ---: | ---: | ---: |")
for label, waits in (("before the batch (30 s)", before), (f"while a {lines:,}-line batch runs ({state['seconds']:.0f} s)", during)):
    print(f"| {label} | {len(waits)} | {ms(statistics.median(waits))} | {ms(percentile(waits, 0.99))} | {ms(max(waits))} |")
