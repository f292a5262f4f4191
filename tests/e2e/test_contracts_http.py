"""The contracts routes (API.md R51-R58) over HTTP, through the real edge.

Each test hires a freelancer through the jobs routes (tests.e2e.
test_jobs_http.hire), so its contract is the one a real acceptance makes.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.platform import Platform
from tests.e2e.test_jobs_http import Hire, hire
from tests.e2e.users_api import bearer, register_client_token, register_freelancer_token

pytestmark = pytest.mark.integration

Headers = dict[str, str]
BASE = "/api/v1/contracts"


@pytest.fixture(scope="module")
def admin(platform: Platform) -> Headers:
    """Bearer headers of the configured administrator."""
    credentials = {
        "email": platform.env["WORKUP_ADMIN_EMAIL"],
        "password": platform.env["WORKUP_ADMIN_PASSWORD"],
    }
    with httpx.Client(base_url=platform.base_url, timeout=15) as client:
        response = client.post("/api/v1/users/login", json=credentials)
    assert response.status_code == 200, response.text
    return bearer(response.json()["authToken"])


def milestone_ids(http: httpx.Client, deal: Hire) -> list[str]:
    contract = http.get(f"{BASE}/{deal.contract_id}", headers=deal.posting.client)
    return list(contract.json()["milestonesIds"])


def milestone_status(http: httpx.Client, deal: Hire, milestone_id: str) -> str:
    response = http.get(
        f"{BASE}/milestones/{milestone_id}", headers=deal.posting.freelancer
    )
    return str(response.json()["status"])


def progress(http: httpx.Client, who: Headers, milestone_id: str) -> httpx.Response:
    return http.post(f"{BASE}/milestones/{milestone_id}/progress", json={}, headers=who)


def evaluate(
    http: httpx.Client, who: Headers, milestone_id: str, verdict: str
) -> httpx.Response:
    return http.post(
        f"{BASE}/milestones/{milestone_id}/evaluate",
        json={"evaluatedState": verdict},
        headers=who,
    )


def request_termination(
    http: httpx.Client, who: Headers, contract_id: str
) -> httpx.Response:
    return http.post(
        f"{BASE}/{contract_id}/terminations/request",
        json={"reason": "Not working out"},
        headers=who,
    )


def handle(
    http: httpx.Client, who: Headers, request_id: str, decision: str
) -> httpx.Response:
    return http.post(
        f"{BASE}/terminations/{request_id}/handle",
        json={"chosenStatus": decision},
        headers=who,
    )


def pending(http: httpx.Client, who: Headers, contract_id: str) -> list[str]:
    response = http.get(f"{BASE}/{contract_id}/terminations", headers=who)
    assert response.status_code == 200, response.text
    return [item["requestId"] for item in response.json()["terminationRequests"]]


# --- reads ---------------------------------------------------------------


def test_the_parties_and_the_admin_read_the_contract(
    http: httpx.Client, admin: Headers
) -> None:
    deal = hire(http, milestones=2)
    path = f"{BASE}/{deal.contract_id}"

    by_client = http.get(path, headers=deal.posting.client)
    by_freelancer = http.get(path, headers=deal.posting.freelancer)
    by_admin = http.get(path, headers=admin)
    milestones = http.get(f"{path}/milestones", headers=deal.posting.freelancer)

    body = by_client.json()
    assert by_client.status_code == by_freelancer.status_code == 200
    assert by_admin.json() == body
    assert body["status"] == "ACTIVE"
    assert body["jobId"] == deal.posting.job_id
    listed = milestones.json()["contractMilestones"]
    assert [m["milestoneId"] for m in listed] == body["milestonesIds"]
    assert [(m["description"], m["amount"], m["status"]) for m in listed] == [
        ("Part 0", 100.0, "OPEN"),
        ("Part 1", 101.0, "OPEN"),
    ]
    assert listed[0]["dueDate"] == "2025-01-01T00:00:00.000+00:00"


def test_others_may_not_read_a_contract(http: httpx.Client) -> None:
    deal = hire(http)
    (milestone_id,) = milestone_ids(http, deal)
    for stranger in (
        bearer(register_client_token(http)),
        bearer(register_freelancer_token(http)),
    ):
        for path in (
            f"{BASE}/{deal.contract_id}",
            f"{BASE}/{deal.contract_id}/milestones",
            f"{BASE}/{deal.contract_id}/terminations",
            f"{BASE}/milestones/{milestone_id}",
        ):
            response = http.get(path, headers=stranger)
            assert response.status_code == 403, path
    assert http.get(f"{BASE}/{deal.contract_id}").status_code == 401


def test_unknown_and_malformed_ids_get_each_routes_not_found_answer(
    http: httpx.Client, admin: Headers
) -> None:
    client = bearer(register_client_token(http))
    freelancer = bearer(register_freelancer_token(http))
    for missing in (str(uuid.uuid4()), "not-a-uuid"):
        answers = [
            (http.get(f"{BASE}/{missing}", headers=client), 404),
            (http.get(f"{BASE}/{missing}/milestones", headers=client), 400),
            (http.get(f"{BASE}/milestones/{missing}", headers=client), 404),
            (http.get(f"{BASE}/{missing}/terminations", headers=client), 400),
            (request_termination(http, client, missing), 400),
            (progress(http, freelancer, missing), 400),
            (evaluate(http, client, missing, "ACCEPTED"), 400),
            (handle(http, admin, missing, "REJECTED"), 400),
        ]
        messages = [response.json()["errorMessage"] for response, _ in answers]
        assert [r.status_code for r, _ in answers] == [s for _, s in answers]
        assert messages == [
            "Requested contract does not exist",
            "Invalid contract id",
            "Requested milestone  does not exist",
            "Invalid Contract Id",
            "The contract is not valid.",
            "Milestone is not found",
            "Milestone is not found",
            "No Termination Requests Found",
        ]


# --- milestones ----------------------------------------------------------


def test_the_freelancer_progresses_and_the_client_evaluates(
    http: httpx.Client,
) -> None:
    deal = hire(http)
    (milestone_id,) = milestone_ids(http, deal)
    freelancer, client = deal.posting.freelancer, deal.posting.client

    first = progress(http, freelancer, milestone_id)
    after_first = milestone_status(http, deal, milestone_id)
    second = progress(http, freelancer, milestone_id)
    third = progress(http, freelancer, milestone_id)
    sent_back = evaluate(http, client, milestone_id, "IN_PROGRESS")

    assert (first.status_code, after_first) == (200, "IN_PROGRESS")
    assert second.status_code == 200
    assert (third.status_code, third.json()["errorMessage"]) == (
        400,
        "Milestone cannot be progressed through this command",
    )
    assert sent_back.status_code == 200
    assert milestone_status(http, deal, milestone_id) == "IN_PROGRESS"


def test_milestone_moves_check_the_caller_and_the_input(http: httpx.Client) -> None:
    deal = hire(http)
    (milestone_id,) = milestone_ids(http, deal)
    other_freelancer = bearer(register_freelancer_token(http))
    other_client = bearer(register_client_token(http))

    foreign_progress = progress(http, other_freelancer, milestone_id)
    client_progress = progress(http, deal.posting.client, milestone_id)
    no_body = http.post(
        f"{BASE}/milestones/{milestone_id}/progress", headers=deal.posting.freelancer
    )
    foreign_verdict = evaluate(http, other_client, milestone_id, "IN_PROGRESS")
    bad_verdict = evaluate(http, deal.posting.client, milestone_id, "PAID")
    unknown_verdict = evaluate(http, deal.posting.client, milestone_id, "DONE")
    too_early = evaluate(http, deal.posting.client, milestone_id, "ACCEPTED")

    assert foreign_progress.status_code == 403
    assert client_progress.status_code == 403
    assert no_body.status_code == 400
    assert foreign_verdict.status_code == 403
    assert bad_verdict.status_code == 400
    assert unknown_verdict.status_code == 400
    assert (too_early.status_code, too_early.json()["errorMessage"]) == (
        400,
        "Milestone cannot be evaluated as it has not progressed enough",
    )
    assert milestone_status(http, deal, milestone_id) == "OPEN"


def test_accepting_a_milestone_bills_it_or_leaves_it_in_review(
    http: httpx.Client, platform: Platform
) -> None:
    deal = hire(http)
    (milestone_id,) = milestone_ids(http, deal)
    progress(http, deal.posting.freelancer, milestone_id)
    progress(http, deal.posting.freelancer, milestone_id)

    response = evaluate(http, deal.posting.client, milestone_id, "ACCEPTED")

    # With a payments service the payment request is made; without one the
    # milestone must not be left ACCEPTED with nothing to pay.
    if platform.consumer_count("queue_payments") > 0:
        assert response.status_code == 200, response.text
        assert milestone_status(http, deal, milestone_id) == "ACCEPTED"
    else:
        assert response.status_code == 503, response.text
        assert milestone_status(http, deal, milestone_id) == "IN_REVIEW"


# --- termination ---------------------------------------------------------


def test_a_party_requests_termination_and_the_admin_rejects_it(
    http: httpx.Client, admin: Headers
) -> None:
    deal = hire(http)
    client = deal.posting.client
    before = pending(http, client, deal.contract_id)

    filed = request_termination(http, client, deal.contract_id)
    twice = request_termination(http, client, deal.contract_id)
    request_id = filed.json()["requestId"]
    listed = pending(http, deal.posting.freelancer, deal.contract_id)
    rejected = handle(http, admin, request_id, "REJECTED")
    rehandled = handle(http, admin, request_id, "ACCEPTED")

    assert before == []
    assert filed.status_code == 201, filed.text
    assert (twice.status_code, twice.json()["errorMessage"]) == (
        400,
        "Termination Request already exists",
    )
    assert listed == [request_id]
    assert (rejected.status_code, rejected.json()["requestStatus"]) == (
        200,
        "REJECTED",
    )
    assert rehandled.status_code == 400
    assert pending(http, client, deal.contract_id) == []
    contract = http.get(f"{BASE}/{deal.contract_id}", headers=client).json()
    assert contract["status"] == "ACTIVE"


def test_an_accepted_termination_ends_the_contract(
    http: httpx.Client, admin: Headers
) -> None:
    deal = hire(http)
    (milestone_id,) = milestone_ids(http, deal)
    filed = request_termination(http, deal.posting.freelancer, deal.contract_id)
    request_id = filed.json()["requestId"]

    accepted = handle(http, admin, request_id, "ACCEPTED")
    contract = http.get(f"{BASE}/{deal.contract_id}", headers=deal.posting.client)
    moved = progress(http, deal.posting.freelancer, milestone_id)
    again = request_termination(http, deal.posting.client, deal.contract_id)

    assert (accepted.status_code, accepted.json()["requestStatus"]) == (
        200,
        "ACCEPTED",
    )
    assert contract.json()["status"] == "TERMINATED"
    assert (moved.status_code, moved.json()["errorMessage"]) == (
        400,
        "The contract is not active anymore.",
    )
    assert (again.status_code, again.json()["errorMessage"]) == (
        400,
        "The contract is not active anymore.",
    )


def test_termination_routes_check_the_caller_and_the_decision(
    http: httpx.Client, admin: Headers
) -> None:
    deal = hire(http)
    stranger = bearer(register_client_token(http))

    refused = request_termination(http, stranger, deal.contract_id)
    by_admin = request_termination(http, admin, deal.contract_id)
    filed = request_termination(http, deal.posting.client, deal.contract_id)
    request_id = filed.json()["requestId"]
    by_party = handle(http, deal.posting.client, request_id, "ACCEPTED")
    as_pending = handle(http, admin, request_id, "PENDING")
    unknown = handle(http, admin, request_id, "MAYBE")

    assert (refused.status_code, refused.json()["errorMessage"]) == (
        401,
        "Unauthorized request",
    )
    assert by_admin.status_code == 403
    assert by_party.status_code == 403
    assert as_pending.status_code == 400
    assert unknown.status_code == 400
    assert pending(http, deal.posting.client, deal.contract_id) == [request_id]
