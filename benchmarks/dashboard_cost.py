#!/usr/bin/env python3
"""What an open dashboard costs a node, against an idle SSE client of the jobs API, in one run.

For each kind of client, a fresh release `sluice serve` (no credentials: a local admin), first with
nothing connected, then with N clients of that kind:
  streams   N clients each following its own queued job's stream (the queue does not move: one worker,
            held by a long answer), the idle SSE client of exam night: a student waiting;
  notices   the same streams asking for queue notices (?queue_notices=true), as sluice.js does;
  dashboards N clients each reading GET /admin/api/events (a snapshot when it changes, else heartbeats).
For each: the node's CPU time over a window (from /proc/PID/stat), its resident memory, and the
bytes the clients received. Per client = (with clients - idle) / N. Prints a Markdown table.
Usage: dashboard_cost.py SLUICE_BIN [N] [WINDOW_SECONDS]
"""
import asyncio, json, os, re, signal, subprocess, sys, tempfile, time, urllib.request

BIN = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 500
WINDOW = float(sys.argv[3]) if len(sys.argv) > 3 else 20
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid):
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))


def post(port, path, body, user):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "X-Sluice-User": user})
    return json.load(urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30))


class Reader:
    """One SSE client on a raw connection: sends the request, reads everything until told to stop."""
    def __init__(self, port, path, headers):
        self.port, self.path, self.headers, self.bytes = port, path, headers, 0

    async def run(self, stop):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAccept: text/event-stream\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in self.headers.items()) + "\r\n"
        writer.write(head.encode())
        await writer.drain()
        while not stop.is_set():
            try:
                data = await asyncio.wait_for(reader.read(65536), 0.5)
            except asyncio.TimeoutError:
                continue
            if not data:
                break
            self.bytes += len(data)
        writer.close()


async def measure(pid, readers):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in readers]
    await asyncio.sleep(5)  # every client connected and past its first event
    for r in readers:
        r.bytes = 0
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(WINDOW)
    cpu, elapsed, rss = cpu_seconds(pid) - cpu0, time.monotonic() - t0, rss_kib(pid)
    received = sum(r.bytes for r in readers)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(2)
    return cpu / elapsed, rss, received / elapsed


def start_node(work):
    config = os.path.join(work, "sluice.yaml")
    with open(config, "w") as f:
        f.write("queue: {workers: 2, reservedBypassWorkers: 1}\n"
                "tiers: {highAt: 10000000, peakAt: 10000000, overloadAt: 10000000}\n"
                "plans: {names: [free], free: {requestsPerMinute: 0, maxStreams: 10}}\n"
                "cache: {enabled: false}\nserver: {heartbeatSeconds: 15}\n")
    log = open(os.path.join(work, "sluice.log"), "w")
    node = subprocess.Popen([BIN, "serve", "--port", "0", "--data-dir", os.path.join(work, "data"), "--config", config,
                             "--log-level", "notice"], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        m = re.search(r"sluice\.address[=\":]+http://[^:]+:(\d+)", open(log.name).read())
        if m:
            time.sleep(1)
            return node, int(m.group(1))
        time.sleep(0.05)
    node.kill()
    raise SystemExit("sluice did not start: " + open(log.name).read()[-2000:])


async def run(kind):
    """One kind of client on a node of its own (so memory is its own): per client, CPU µs/s, KiB, B/s."""
    node, port = start_node(tempfile.mkdtemp())
    try:
        idle_cpu, idle_rss, _ = await measure(node.pid, [])
        if kind == "dashboard":
            readers = [Reader(port, "/admin/api/events", {"X-Sluice-Role": "admin", "X-Sluice-User": f"operator-{i}"}) for i in range(N)]
        else:
            # The one shared worker answers slowly for longer than the run; every other job waits behind it.
            post(port, "/v1/jobs", {"model": "default", "messages": [{"role": "user", "content": "hold"}],
                                    "mock": {"tokens": 400, "tokens_per_second": 2}}, "holder")
            ids = [post(port, "/v1/jobs", {"model": "default", "messages": [{"role": "user", "content": f"question {i}"}],
                                           "mock": {"tokens": 5}}, f"student-{i}")["id"] for i in range(N)]
            query = "?queue_notices=true" if kind == "notices" else ""
            readers = [Reader(port, f"/v1/jobs/{job}/stream{query}", {"X-Sluice-User": f"student-{i}"}) for i, job in enumerate(ids)]
        cpu, rss, received = await measure(node.pid, readers)
        return (cpu - idle_cpu) / N * 1e6, (rss - idle_rss) / N, received / N
    finally:
        node.send_signal(signal.SIGKILL)
        node.wait()


async def main():
    s = await run("stream")
    q = await run("notices")
    d = await run("dashboard")
    print(f"{N} clients of each kind, each kind on a fresh node, {WINDOW:.0f} s windows")
    print("| client | node CPU per client | node memory per client (RSS) | bytes per client per second |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| idle SSE client (a queued job's stream) | {s[0]:.1f} µs/s | {s[1]:.1f} KiB | {s[2]:.1f} |")
    print(f"| the same stream with `?queue_notices=true` (as sluice.js asks) | {q[0]:.1f} µs/s | {q[1]:.1f} KiB | {q[2]:.1f} |")
    print(f"| open dashboard (`/admin/api/events`) | {d[0]:.1f} µs/s | {d[1]:.1f} KiB | {d[2]:.1f} |")
    print(f"| ratio dashboard / idle client | {d[0] / s[0] if s[0] > 0 else float('nan'):.2f}× | "
          f"{d[1] / s[1] if s[1] > 0 else float('nan'):.2f}× | |")


asyncio.run(main())
