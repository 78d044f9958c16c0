"""Streams across nodes: each job is submitted to node A (which runs it: it has free workers) and read at
the same time from A and from node B, which relays it from A. Per chunk, the relay's added delay is when
B delivered it minus when A did; also time to first token and to the end on each node. Standard library only.
Usage: python3 cluster_stream.py PORT_A PORT_B JOBS CONCURRENCY TOKENS TOKENS_PER_SECOND"""
import http.client
import json
import statistics
import sys
import threading
import time


def read(port, job_id, start, out):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", f"/v1/jobs/{job_id}/stream")
    response = connection.getresponse()
    arrivals, seq, name = {}, None, None
    for raw in response:
        line = raw.decode().rstrip("\n")
        if line.startswith("id: "):
            seq = int(line[4:])
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name:
            arrivals[seq] = (name, time.perf_counter() - start)
            if name in ("done", "error"):
                break
    connection.close()
    out[port] = arrivals


def one(index, ports, tokens, rate, results):
    body = {"model": "default", "messages": [{"role": "user", "content": f"question {index} at {time.time()}"}],
            "mock": {"tokens": tokens, "tokens_per_second": rate}}
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", ports[0], timeout=60)
    connection.request("POST", "/v1/jobs", json.dumps(body), {"Content-Type": "application/json"})
    job = json.loads(connection.getresponse().read())
    connection.close()
    out = {}
    readers = [threading.Thread(target=read, args=(port, job["id"], start, out)) for port in ports]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    results.append(out)


def main():
    port_a, port_b, jobs, concurrency, tokens, rate = sys.argv[1:7]
    ports = (int(port_a), int(port_b))
    jobs, concurrency, tokens, rate = int(jobs), int(concurrency), int(tokens), float(rate)
    results, next_job, lock = [], [0], threading.Lock()

    def worker():
        while True:
            with lock:
                index = next_job[0]
                next_job[0] += 1
            if index >= jobs:
                return
            one(index, ports, tokens, rate, results)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lags, first, last, complete = [], {p: [] for p in ports}, {p: [] for p in ports}, 0
    for out in results:
        a, b = out.get(ports[0], {}), out.get(ports[1], {})
        if not a or not b or a[max(a)][0] != "done" or b[max(b)][0] != "done" or set(a) != set(b):
            continue
        complete += 1
        lags += [(b[seq][1] - a[seq][1]) * 1000 for seq in a]
        for port, arrivals in ((ports[0], a), (ports[1], b)):
            deltas = [t for name, t in arrivals.values() if name == "delta"]
            first[port].append(min(deltas) * 1000)
            last[port].append(max(t for _, t in arrivals.values()) * 1000)

    def q(values, p):
        values = sorted(values)
        return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")

    print(f"jobs: {jobs}, complete and identical on both nodes: {complete}, chunks compared: {len(lags)}")
    print(f"relay lag per chunk (B - A): p50 {q(lags, .5):.2f} ms, p99 {q(lags, .99):.2f} ms, max {max(lags, default=0):.2f} ms")
    for label, port in (("A (runs it)", ports[0]), ("B (relays it)", ports[1])):
        print(f"{label}: first token p50 {q(first[port], .5):.1f} ms p99 {q(first[port], .99):.1f} ms; "
              f"end p50 {q(last[port], .5):.1f} ms p99 {q(last[port], .99):.1f} ms")


main()
