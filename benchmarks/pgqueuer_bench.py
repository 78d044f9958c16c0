"""pgqueuer measured the way `sluice bench-queue` measures Sluice's queue, on the same PostgreSQL:
closed-loop submitters (each enqueues a job and waits until a worker has run it), then a paced phase at a
fixed rate for the enqueue-to-start latency. A job counts as complete when its handler returns (pgqueuer
acknowledges in batches afterwards, so this favours pgqueuer slightly).
Usage: python3 pgqueuer_bench.py DSN JOBS SUBMITTERS RATE SECONDS"""
import asyncio
import sys
import time

import asyncpg
from pgqueuer import AsyncpgDriver, AsyncpgPoolDriver, Queries, QueueManager


async def main(dsn: str, jobs: int, submitters: int, rate: float, seconds: float) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=4, max_size=16)
    queries = Queries(AsyncpgPoolDriver(pool))
    await queries.install()
    worker = await asyncpg.connect(dsn)
    manager = QueueManager(Queries(AsyncpgDriver(worker)))
    done: dict = {}
    enqueued_at: dict = {}
    started_at: dict = {}

    def event(job_id):
        return done.setdefault(job_id, asyncio.Event())

    @manager.entrypoint("bench")
    async def handle(job) -> None:
        started_at[job.id] = time.perf_counter()
        event(job.id).set()

    running = asyncio.create_task(manager.run(batch_size=10))

    async def complete() -> int:
        before = time.perf_counter()
        (job_id,) = await queries.enqueue("bench", b"one token, please")
        enqueued_at[job_id] = before
        await event(job_id).wait()
        return job_id

    async def submitter(count: int) -> None:
        for _ in range(count):
            await complete()

    start = time.perf_counter()
    await asyncio.gather(*(submitter(jobs // submitters + (1 if n < jobs % submitters else 0)) for n in range(submitters)))
    throughput = jobs / (time.perf_counter() - start)

    paced = []
    next_at = time.perf_counter()
    end = next_at + seconds
    while next_at < end:
        await asyncio.sleep(max(0, next_at - time.perf_counter()))
        paced.append(asyncio.create_task(complete()))
        next_at += 1 / rate
    ids = await asyncio.gather(*paced)
    latencies = sorted((started_at[i] - enqueued_at[i]) * 1000 for i in ids)
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"throughput: {throughput:.0f} jobs/s ({jobs} jobs, {submitters} submitters)")
    print(f"enqueue to start at {rate:.0f} jobs/s: p50 {p50:.2f} ms, p99 {p99:.2f} ms ({len(latencies)} jobs)")
    manager.shutdown.set()
    await running
    await worker.close()
    await pool.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])))
