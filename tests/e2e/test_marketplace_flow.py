"""The whole marketplace flow of API.md section 12 through the edge."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bench.flow_steps import run_flow
from tests.e2e.platform import Platform, wait_for

pytestmark = pytest.mark.integration


def test_the_whole_marketplace_flow_leaves_50_in_the_wallet(
    platform: Platform, http: httpx.Client
) -> None:
    async def flow() -> dict[str, object]:
        async with httpx.AsyncClient(base_url=platform.base_url, timeout=30) as client:
            learnt, _timings = await run_flow(client)
            return learnt

    learnt = asyncio.run(flow())
    milestone = f"/api/v1/contracts/milestones/{learnt['milestone_id']}"
    client_headers = {"Authorization": f"Bearer {learnt['client_token']}"}

    assert learnt["balance"] == 50.0
    # The outbox tells contracts about the payment; it lands shortly after.
    wait_for(
        lambda: http.get(milestone, headers=client_headers).json()["status"] == "PAID",
        20,
        "the milestone to become PAID",
    )
