"""A small HTTP load generator: closed loop (N in flight) or open loop (fixed rate).

Latency in open-loop mode is measured from the moment a request was due, not
from when it was sent, so a server that falls behind cannot hide its queueing
delay (coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

#: One request of a scenario: given a client, performs it and returns the status.
Request = Callable[[httpx.AsyncClient], Awaitable[int]]


@dataclass(frozen=True)
class Result:
    name: str
    requests: int
    errors: int
    duration_s: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def line(self) -> str:
        p50, p99 = self.percentile(0.5), self.percentile(0.99)
        return (
            f"{self.name:<28} {self.rate:9.1f} req/s  p50 {p50:7.2f} ms"
            f"  p99 {p99:7.2f} ms  errors {self.errors}/{self.requests}"
        )


def _client(base_url: str, in_flight: int) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=in_flight, max_keepalive_connections=in_flight
    )
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0)


async def closed_loop(
    name: str, base_url: str, request: Request, *, in_flight: int, duration_s: float
) -> Result:
    """Keeps `in_flight` requests outstanding for `duration_s` seconds."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + duration_s

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            status = await _safe(request, client)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += status >= 400 or status == 0

    started = time.perf_counter()
    async with _client(base_url, in_flight) as client:
        await asyncio.gather(*(worker(client) for _ in range(in_flight)))
    return Result(
        name, len(latencies), errors, time.perf_counter() - started, latencies
    )


async def open_loop(
    name: str, base_url: str, request: Request, *, rate_per_s: float, duration_s: float
) -> Result:
    """Starts requests at a fixed rate whatever the server's speed."""
    latencies: list[float] = []
    errors = 0
    interval_s = 1.0 / rate_per_s

    async def one(client: httpx.AsyncClient, due: float) -> None:
        nonlocal errors
        status = await _safe(request, client)
        latencies.append((time.perf_counter() - due) * 1000)
        errors += status >= 400 or status == 0

    started = time.perf_counter()
    tasks = []
    async with _client(base_url, 256) as client:
        for index in range(int(rate_per_s * duration_s)):
            due = started + index * interval_s
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(client, due)))
        await asyncio.gather(*tasks)
    return Result(
        name, len(latencies), errors, time.perf_counter() - started, latencies
    )


async def _safe(request: Request, client: httpx.AsyncClient) -> int:
    try:
        return await request(client)
    except httpx.HTTPError:
        return 0


def summary(results: list[Result], baseline: Result) -> list[str]:
    """One line per result: throughput and p50 as ratios of the baseline's."""
    lines = []
    for result in results:
        rate_ratio = result.rate / baseline.rate if baseline.rate else float("nan")
        p50_ratio = result.percentile(0.5) / baseline.percentile(0.5)
        lines.append(
            f"{result.line()}  rate {rate_ratio:5.2f}x, p50 {p50_ratio:6.2f}x"
            f" of {baseline.name}"
        )
    return lines
