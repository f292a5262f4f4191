"""Benchmark of the whole marketplace flow (API.md section 12) at a fixed rate.

Starts a flow every 1/rate seconds whatever the platform's speed (open loop),
for `--seconds`, on a platform of its own (the edge and one instance of each
service, isolated like the e2e tests, on the local stack). Reports the flows
per second completed, p50 / p99 of every call, and as the baseline of the same
run the edge-only `GET /` at the same number of requests per second.

Usage: .venv/bin/python -m bench.flow [--rate 2] [--seconds 20]
(the local stack must be running: stack/stack.sh start)
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx

from bench.flow_steps import FlowFailed, run_flow
from bench.load import Result, open_loop
from tests.e2e.conftest import SERVICES
from tests.e2e.platform import make_platform, remove_platform

#: Calls one flow makes (API.md section 12).
CALLS_PER_FLOW = 16


async def flows_at_rate(
    base_url: str, rate_per_s: float, seconds: float
) -> tuple[int, int, float, dict[str, list[float]]]:
    """(completed, failed, elapsed seconds, latencies in ms by step)."""
    latencies: dict[str, list[float]] = defaultdict(list)
    completed = failed = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)

    async def one(client: httpx.AsyncClient) -> None:
        nonlocal completed, failed
        try:
            _learnt, timings = await run_flow(client)
        except (FlowFailed, httpx.HTTPError):
            failed += 1
            return
        completed += 1
        for step, elapsed_s in timings.steps.items():
            latencies[step].append(elapsed_s * 1000)

    started = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=60
    ) as client:
        tasks = []
        for index in range(int(rate_per_s * seconds)):
            due = started + index / rate_per_s
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(client)))
        await asyncio.gather(*tasks)
    return completed, failed, time.perf_counter() - started, latencies


async def welcome(client: httpx.AsyncClient) -> int:
    return (await client.get("/")).status_code


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(
    flows: tuple[int, int, float, dict[str, list[float]]], baseline: Result
) -> list[str]:
    completed, failed, elapsed_s, latencies = flows
    lines = [
        f"flows: {completed} completed, {failed} failed in {elapsed_s:.1f} s "
        f"= {completed / elapsed_s:.2f} flows/s ({CALLS_PER_FLOW} calls each)",
        f"baseline {baseline.line()}",
    ]
    base_p50 = baseline.percentile(0.5)
    for step, values in latencies.items():
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        lines.append(
            f"  {step:<20} p50 {p50:8.2f} ms  p99 {p99:8.2f} ms  "
            f"p50 = {p50 / base_p50:6.1f} x baseline"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2.0, help="flows per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    arguments = parser.parse_args()

    platform = make_platform(f"flow{uuid.uuid4().hex[:8]}", Path(tempfile.mkdtemp()))
    try:
        for module, queue in SERVICES:
            platform.spawn_service(module, queue)
        base_url = platform.spawn_edge()
        requests_per_s = arguments.rate * CALLS_PER_FLOW
        baseline = asyncio.run(
            open_loop(
                "GET / (edge only)",
                base_url,
                welcome,
                rate_per_s=requests_per_s,
                duration_s=min(arguments.seconds, 5.0),
            )
        )
        flows = asyncio.run(flows_at_rate(base_url, arguments.rate, arguments.seconds))
        print("\n".join(report(flows, baseline)))
    finally:
        remove_platform(platform)


if __name__ == "__main__":
    main()
