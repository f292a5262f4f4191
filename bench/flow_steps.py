"""The whole marketplace flow of API.md section 12, as one function.

Used by the end-to-end test (tests/e2e/test_marketplace_flow.py) and by the
flow benchmark (bench/flow.py), so both exercise exactly the same calls.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

ALPHABET = string.ascii_letters + string.digits


def random_name() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(15))


@dataclass
class FlowTimings:
    """Seconds each step of one flow took, by step name."""

    steps: dict[str, float] = field(default_factory=dict)


class FlowFailed(AssertionError):
    """Raised when a step answers with a status other than the expected one."""


async def run_flow(client: httpx.AsyncClient) -> tuple[dict[str, Any], FlowTimings]:
    """Runs the 16 calls once; returns what was learnt and per-step timings.

    Raises:
        FlowFailed: a step's status was not the expected one.
    """
    timings = FlowTimings()
    client_email, freelancer_email = random_name(), random_name()

    async def step(
        name: str, expected: int, call: Callable[[], Awaitable[httpx.Response]]
    ) -> dict[str, Any]:
        started = time.perf_counter()
        response = await call()
        timings.steps[name] = time.perf_counter() - started
        if response.status_code != expected:
            raise FlowFailed(f"{name}: {response.status_code} {response.text[:300]}")
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    await step(
        "register client",
        200,
        lambda: client.post(
            "/api/v1/users/clients/register",
            json={
                "email": client_email,
                "password": freelancer_email,
                "clientName": "3beet",
            },
        ),
    )
    await step(
        "register freelancer",
        200,
        lambda: client.post(
            "/api/v1/users/freelancers/register",
            json={
                "email": freelancer_email,
                "password": client_email,
                "fullName": "3beet eltany",
            },
        ),
    )
    client_token = (
        await step(
            "login client",
            200,
            lambda: client.post(
                "/api/v1/users/login",
                json={"email": client_email, "password": freelancer_email},
            ),
        )
    )["authToken"]
    freelancer_token = (
        await step(
            "login freelancer",
            200,
            lambda: client.post(
                "/api/v1/users/login",
                json={"email": freelancer_email, "password": client_email},
            ),
        )
    )["authToken"]
    job_id = (
        await step(
            "create job",
            201,
            lambda: client.post(
                "/api/v1/jobs",
                json={"title": "3beet", "description": "3beet eltany"},
                headers=auth(client_token),
            ),
        )
    )["jobId"]
    await step(
        "get job",
        200,
        lambda: client.get(f"/api/v1/jobs/{job_id}", headers=auth(freelancer_token)),
    )
    proposal_id = (
        await step(
            "create proposal",
            201,
            lambda: client.post(
                f"/api/v1/jobs/{job_id}/proposals",
                json={
                    "jobDuration": "LESS_THAN_A_MONTH",
                    "coverLetter": "hirre mee",
                    "milestones": [
                        {
                            "description": "Create backend",
                            "amount": 100,
                            "dueDate": "2024-09-09",
                        }
                    ],
                },
                headers=auth(freelancer_token),
            ),
        )
    )["id"]
    contract_id = (
        await step(
            "accept proposal",
            200,
            lambda: client.post(
                f"/api/v1/jobs/{job_id}/proposals/{proposal_id}/accept",
                headers=auth(client_token),
            ),
        )
    )["contractId"]
    milestone_id = (
        await step(
            "get contract",
            200,
            lambda: client.get(
                f"/api/v1/contracts/{contract_id}", headers=auth(client_token)
            ),
        )
    )["milestonesIds"][0]
    for name in ("progress 1", "progress 2"):
        await step(
            name,
            200,
            lambda: client.post(
                f"/api/v1/contracts/milestones/{milestone_id}/progress",
                json={},
                headers=auth(freelancer_token),
            ),
        )
    await step(
        "evaluate",
        200,
        lambda: client.post(
            f"/api/v1/contracts/milestones/{milestone_id}/evaluate",
            json={"evaluatedState": "ACCEPTED"},
            headers=auth(client_token),
        ),
    )
    payment_id = (
        await step(
            "list requests",
            200,
            lambda: client.get(
                "/api/v1/payments/clients/me/requests", headers=auth(client_token)
            ),
        )
    )["requests"][0]["id"]
    await step(
        "pay",
        200,
        lambda: client.post(
            f"/api/v1/payments/requests/{payment_id}/pay", headers=auth(client_token)
        ),
    )
    await step(
        "withdraw",
        200,
        lambda: client.post(
            "/api/v1/payments/freelancers/me/wallet/withdraw",
            json={"amount": 50},
            headers=auth(freelancer_token),
        ),
    )
    wallet = await step(
        "get wallet",
        200,
        lambda: client.get(
            "/api/v1/payments/freelancers/me/wallet", headers=auth(freelancer_token)
        ),
    )
    learnt = {
        "job_id": job_id,
        "contract_id": contract_id,
        "milestone_id": milestone_id,
        "payment_id": payment_id,
        "balance": wallet["balance"],
        "freelancer_token": freelancer_token,
        "client_token": client_token,
    }
    return learnt, timings
