"""Teachers asking during a burst: one request every `interval` seconds for `seconds`, each a streamed
question from the exam bank (Zipf popularity over 1,000 questions, as `sluice loadtest --questions 1000`
draws them), as a distinct teacher (`X-Sluice-Role: teacher`). Prints one JSON object: every answer's
time to first token in ms, by whether the cache answered it. Standard library only.
Usage: teacher_probe.py PORT SECONDS [INTERVAL, default 0.25]"""
import http.client, json, random, sys, threading, time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.25
weights = [1 / (rank + 1) for rank in range(1000)]
answers, failures, lock = [], [], threading.Lock()


def ask(number, question):
    body = json.dumps({"model": "default", "stream": True, "messages": [
        {"role": "user", "content": f"Exam question number {question}: please explain it step by step."}]})
    headers = {"Content-Type": "application/json", "X-Sluice-User": f"probe-teacher-{number}", "X-Sluice-Role": "teacher"}
    started = time.monotonic()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        connection.request("POST", "/v1/chat/completions", body, headers)
        response = connection.getresponse()
        cached = response.getheader("x-sluice-cache") in ("exact", "semantic")
        first, done = None, False
        for line in response:
            line = line.decode().strip()
            if line.startswith("data:") and first is None:
                first = (time.monotonic() - started) * 1000
            done = done or line == "data: [DONE]"
        with lock:
            if response.status == 200 and done and first is not None:
                answers.append({"cached": cached, "ttft_ms": first})
            else:
                failures.append(f"{response.status}")
    except Exception as error:  # a failure is counted, never hidden
        with lock:
            failures.append(type(error).__name__)


threads, start, number = [], time.monotonic(), 0
while time.monotonic() - start < seconds:
    thread = threading.Thread(target=ask, args=(number, random.choices(range(1000), weights=weights)[0]))
    thread.start()
    threads.append(thread)
    number += 1
    time.sleep(interval)
for thread in threads:
    thread.join()
print(json.dumps({"answers": answers, "failures": failures}))
