"""A payment made while contracts is down still marks the milestone PAID
once contracts is back: the outbox keeps the message until it is confirmed."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.platform import Platform, wait_for
from tests.e2e.test_contracts_http import BASE, evaluate, milestone_ids, progress
from tests.e2e.test_jobs_http import hire
from workup_pb import admin_pb2

pytestmark = pytest.mark.integration


def test_a_payment_during_a_contracts_outage_reaches_contracts_later(
    platform: Platform, http: httpx.Client
) -> None:
    deal = hire(http)
    [milestone_id] = milestone_ids(http, deal)[:1]
    freelancer, client = deal.posting.freelancer, deal.posting.client
    progress(http, freelancer, milestone_id)
    progress(http, freelancer, milestone_id)
    assert evaluate(http, client, milestone_id, "ACCEPTED").status_code == 200
    requests = http.get("/api/v1/payments/clients/me/requests", headers=client)
    [request] = [
        r for r in requests.json()["requests"] if r["referenceId"] == milestone_id
    ]

    contracts = platform.instances_of("svc_contracts")
    for instance in contracts:
        instance.admin().Freeze(admin_pb2.FreezeRequest())
    try:
        paid = http.post(
            f"/api/v1/payments/requests/{request['id']}/pay", headers=client
        )
    finally:
        for instance in contracts:
            instance.admin().Start(admin_pb2.StartRequest())

    def milestone_paid() -> bool:
        response = http.get(f"{BASE}/milestones/{milestone_id}", headers=client)
        return response.status_code == 200 and response.json()["status"] == "PAID"

    assert paid.status_code == 200, paid.text
    wait_for(milestone_paid, 60, "the outbox to reach contracts")
