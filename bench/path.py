"""Benchmark of the request path: edge alone, edge + broker + no-op service, login.

Runs its own platform (edge and one users instance, isolated like the e2e
tests) on the local stack, then measures, in one run so the ratios hold on a
shared, noisy machine:

- `GET /` answered by the edge alone: the baseline every other line divides by;
- `GET /api/v1/ping`: edge -> RabbitMQ -> users service echo -> back, the
  ceiling of the path itself;
- `POST /api/v1/users/login`: a real command (FerretDB read, argon2id check);

each closed-loop at 1 and at 32 requests in flight, plus ping open-loop at a
fixed arrival rate, and the resident memory of each process afterwards.

Usage: .venv/bin/python -m bench.path [--seconds 5] [--rate 200]
(the local stack must be running: stack/stack.sh start)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import uuid
from pathlib import Path

import httpx

from bench.load import Request, closed_loop, open_loop, summary
from tests.e2e.platform import make_platform, remove_platform

PASSWORD = "bench-password-1"  # noqa: S105 - accounts the bench makes itself
#: Accounts logins rotate over, so the per-email rate limit is never reached.
LOGIN_ACCOUNTS = 60


async def welcome(client: httpx.AsyncClient) -> int:
    return (await client.get("/")).status_code


async def ping(client: httpx.AsyncClient) -> int:
    return (await client.get("/api/v1/ping", params={"echo": "x"})).status_code


def register_accounts(base_url: str) -> list[str]:
    emails = [
        f"bench-{uuid.uuid4().hex[:10]}@example.com" for _ in range(LOGIN_ACCOUNTS)
    ]
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for email in emails:
            client.post(
                "/api/v1/users/clients/register",
                json={"email": email, "password": PASSWORD, "clientName": "Bench"},
            ).raise_for_status()
    return emails


def login_request(emails: list[str]) -> Request:
    rotation = itertools.cycle(emails)

    async def login(client: httpx.AsyncClient) -> int:
        body = {"email": next(rotation), "password": PASSWORD}
        return (await client.post("/api/v1/users/login", json=body)).status_code

    return login


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(
    base_url: str, emails: list[str], seconds: float, rate: float
) -> list[str]:
    """Report lines; each line's ratio is against `GET /` at the same load."""
    lines: list[str] = []
    login = login_request(emails)
    for in_flight in (1, 32):
        results = [
            await closed_loop(
                f"{name} x{in_flight}",
                base_url,
                request,
                in_flight=in_flight,
                duration_s=seconds,
            )
            for name, request in (("GET /", welcome), ("ping", ping), ("login", login))
        ]
        lines += summary(results, baseline=results[0])
    fixed_rate = [
        await open_loop(
            f"{name} @{rate:g}/s",
            base_url,
            request,
            rate_per_s=rate,
            duration_s=seconds,
        )
        for name, request in (("GET /", welcome), ("ping", ping))
    ]
    lines += summary(fixed_rate, baseline=fixed_rate[0])
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=200.0)
    arguments = parser.parse_args()

    platform = make_platform(f"bench{uuid.uuid4().hex[:8]}", Path(tempfile.mkdtemp()))
    try:
        users = platform.spawn_service("svc_users", "queue_users")
        base_url = platform.spawn_edge()
        emails = register_accounts(base_url)
        lines = asyncio.run(
            measure(base_url, emails, arguments.seconds, arguments.rate)
        )
        print("\n".join(lines))
        edge = platform.processes[-1]
        print(
            f"memory: edge {resident_mb(edge.pid):.0f} MiB, users "
            f"{resident_mb(users.process.pid):.0f} MiB (resident, after the run)"
        )
    finally:
        remove_platform(platform)


if __name__ == "__main__":
    main()
