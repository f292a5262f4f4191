"""The jobs routes (API.md R34-R41) over HTTP, through the real edge.

The platform runs the real jobs and contracts services, so accepting a
proposal makes a real contract. Each test registers its own users and puts
a fresh random word into its jobs, so searches see only that test's jobs.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.platform import Platform, free_port, wait_for
from tests.e2e.users_api import bearer, register_client_token, register_freelancer_token
from workup_pb import admin_pb2

pytestmark = pytest.mark.integration

Headers = dict[str, str]


def new_word() -> str:
    return f"w{uuid.uuid4().hex[:12]}"


def post_job(http: httpx.Client, client: Headers, **body: Any) -> str:
    body.setdefault("title", "Backend developer")
    response = http.post("/api/v1/jobs", json=body, headers=client)
    assert response.status_code == 201, response.text
    return str(response.json()["jobId"])


def post_proposal(
    http: httpx.Client, freelancer: Headers, job_id: str, **body: Any
) -> str:
    body.setdefault("coverLetter", "Hire me")
    body.setdefault("jobDuration", "LESS_THAN_A_MONTH")
    response = http.post(
        f"/api/v1/jobs/{job_id}/proposals", json=body, headers=freelancer
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def accept(
    http: httpx.Client, client: Headers, job_id: str, proposal_id: str
) -> httpx.Response:
    return http.post(
        f"/api/v1/jobs/{job_id}/proposals/{proposal_id}/accept", headers=client
    )


def search(http: httpx.Client, query: str, limit: int, cursor: str | None = None):
    params: dict[str, Any] = {"query": query, "pageLimit": limit}
    if cursor is not None:
        params["pagingState"] = cursor
    return http.get("/api/v1/jobs/search", params=params)


def proposal_status(http: httpx.Client, who: Headers, job_id: str, proposal_id: str):
    listed = http.get(f"/api/v1/jobs/{job_id}/proposals", headers=who).json()
    (proposal,) = [p for p in listed["proposals"] if p["id"] == proposal_id]
    return proposal["status"]


@dataclass
class Posting:
    """A client's job with one freelancer's pending proposal on it."""

    client: Headers
    freelancer: Headers
    job_id: str
    proposal_id: str
    word: str


def new_posting(http: httpx.Client, milestones: int = 1) -> Posting:
    client = bearer(register_client_token(http))
    freelancer = bearer(register_freelancer_token(http))
    word = new_word()
    job_id = post_job(http, client, title=f"Job {word}", budget=500)
    plan = [
        {"description": f"Part {n}", "amount": 100 + n, "dueDate": "2025-01-01"}
        for n in range(milestones)
    ]
    proposal_id = post_proposal(http, freelancer, job_id, milestones=plan)
    return Posting(client, freelancer, job_id, proposal_id, word)


@dataclass
class Hire:
    """An accepted proposal and its contract."""

    posting: Posting
    contract_id: str


def hire(http: httpx.Client, milestones: int = 1) -> Hire:
    posting = new_posting(http, milestones)
    response = accept(http, posting.client, posting.job_id, posting.proposal_id)
    assert response.status_code == 200, response.text
    return Hire(posting, str(response.json()["contractId"]))


# --- jobs ----------------------------------------------------------------


def test_a_posted_job_reads_back_for_anyone_signed_in(http: httpx.Client) -> None:
    client = bearer(register_client_token(http))
    freelancer = bearer(register_freelancer_token(http))
    body = {
        "title": "Data engineer",
        "description": "Pipelines",
        "location": "Cairo",
        "budget": 1200,
        "skills": ["python", "spark"],
        "experience": "EXPERT",
    }

    created = http.post("/api/v1/jobs", json=body, headers=client)
    job_id = created.json()["jobId"]
    job = http.get(f"/api/v1/jobs/{job_id}", headers=freelancer).json()

    assert created.status_code == 201
    assert created.json()["statusCode"] == "CREATED"
    assert {key: job[key] for key in body} == {**body, "budget": 1200.0}
    assert job["active"] is True
    assert job["id"] == job_id
    assert job["createdAt"].endswith("+00:00")
    assert job["modifiedAt"] == job["createdAt"]


def test_my_jobs_lists_only_the_callers_jobs(http: httpx.Client) -> None:
    client = bearer(register_client_token(http))
    first = post_job(http, client, title="One")
    second = post_job(http, client, title="Two", experience="ENTRY_LEVEL")
    post_job(http, bearer(register_client_token(http)))

    response = http.get("/api/v1/jobs/me", headers=client)

    jobs = response.json()["jobs"]
    assert response.status_code == 200
    assert [job["id"] for job in jobs] == [first, second]
    assert jobs[1]["experience"] == "ENTRY_LEVEL"
    assert jobs[0]["experience"] is None


def test_unknown_and_malformed_job_ids_get_the_not_found_answers(
    http: httpx.Client,
) -> None:
    client = bearer(register_client_token(http))
    freelancer = bearer(register_freelancer_token(http))
    for job_id in (str(uuid.uuid4()), "not-a-uuid"):
        read = http.get(f"/api/v1/jobs/{job_id}", headers=client)
        bid = http.post(f"/api/v1/jobs/{job_id}/proposals", json={}, headers=freelancer)
        bids = http.get(f"/api/v1/jobs/{job_id}/proposals", headers=client)
        accepted = accept(http, client, job_id, str(uuid.uuid4()))

        assert (read.status_code, read.json()["errorMessage"]) == (404, "Job not found")
        assert (bid.status_code, bid.json()["errorMessage"]) == (404, "Job Not Found")
        assert (bids.status_code, bids.json()["proposals"]) == (200, [])
        assert (accepted.status_code, accepted.json()["errorMessage"]) == (
            404,
            "Proposal not found",
        )


def test_each_route_refuses_a_missing_token_and_the_wrong_role(
    http: httpx.Client,
) -> None:
    client = bearer(register_client_token(http))
    freelancer = bearer(register_freelancer_token(http))
    job_id = post_job(http, client)
    some = str(uuid.uuid4())
    routes = [
        ("POST", "/api/v1/jobs", freelancer, {"title": "x"}),
        ("GET", "/api/v1/jobs/me", freelancer, None),
        ("POST", f"/api/v1/jobs/{job_id}/proposals", client, {}),
        ("GET", "/api/v1/jobs/me/proposals", client, None),
        ("POST", f"/api/v1/jobs/{job_id}/proposals/{some}/accept", freelancer, None),
    ]
    for method, path, wrong_role, body in routes:
        anonymous = http.request(method, path, json=body)
        wrong = http.request(method, path, json=body, headers=wrong_role)
        assert anonymous.status_code == 401, (method, path)
        assert wrong.status_code == 403, (method, path)
    assert http.get(f"/api/v1/jobs/{job_id}").status_code == 401
    assert http.get(f"/api/v1/jobs/{job_id}/proposals").status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"experience": "GURU"},
        {"budget": "lots"},
        {"budget": -5},
        {"skills": "python"},
    ],
)
def test_a_bad_job_is_a_400(http: httpx.Client, body: dict[str, Any]) -> None:
    client = bearer(register_client_token(http))

    response = http.post("/api/v1/jobs", json=body, headers=client)

    assert response.status_code == 400, response.text
    assert response.json()["statusCode"] == "BAD_REQUEST"


# --- proposals -----------------------------------------------------------


def test_a_proposal_reads_back_for_the_job_and_the_freelancer(
    http: httpx.Client,
) -> None:
    posting = new_posting(http)

    by_job = http.get(
        f"/api/v1/jobs/{posting.job_id}/proposals", headers=posting.client
    ).json()
    mine = http.get("/api/v1/jobs/me/proposals", headers=posting.freelancer).json()

    (proposal,) = by_job["proposals"]
    assert mine["proposals"] == [proposal]
    assert proposal["id"] == posting.proposal_id
    assert proposal["jobId"] == posting.job_id
    assert proposal["status"] == "PENDING"
    assert proposal["duration"] == "LESS_THAN_A_MONTH"
    assert proposal["attachments"] == []
    assert proposal["milestones"] == [
        {
            "description": "Part 0",
            "amount": 100.0,
            "dueDate": "2025-01-01T00:00:00.000+00:00",
        }
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"jobDuration": "FOREVER"},
        {"milestones": [{"amount": 1, "dueDate": "next week"}]},
        {"milestones": [{"amount": -1}]},
        {"attachments": "cv.pdf"},
    ],
)
def test_a_bad_proposal_is_a_400(http: httpx.Client, body: dict[str, Any]) -> None:
    job_id = post_job(http, bearer(register_client_token(http)))
    freelancer = bearer(register_freelancer_token(http))

    response = http.post(
        f"/api/v1/jobs/{job_id}/proposals", json=body, headers=freelancer
    )

    assert response.status_code == 400, response.text


# --- search --------------------------------------------------------------


def test_paging_through_a_search_shows_every_match_once(http: httpx.Client) -> None:
    client = bearer(register_client_token(http))
    word = new_word()
    expected = {post_job(http, client, description=f"Uses {word}") for _ in range(7)}
    post_job(http, client, title="Unrelated")

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page = search(http, word.upper(), limit=3, cursor=cursor)
        assert page.status_code == 200, page.text
        seen.extend(job["id"] for job in page.json()["jobs"])
        cursor = page.json()["pagingState"]
        if cursor is None:
            break

    assert sorted(seen) == sorted(expected)


def test_search_is_public_and_sees_skills(http: httpx.Client) -> None:
    client = bearer(register_client_token(http))
    word = new_word()
    job_id = post_job(http, client, skills=["Rust", word])

    response = search(http, f"rust {word}", limit=5)

    assert response.status_code == 200
    assert [job["id"] for job in response.json()["jobs"]] == [job_id]
    assert response.json()["jobs"][0]["skills"] == ["Rust", word]


@pytest.mark.parametrize(
    "params",
    [
        {"query": "developer", "pageLimit": 0},
        {"query": "developer", "pageLimit": 101},
        {"query": "developer", "pageLimit": 2, "pagingState": "not-a-cursor"},
        {"query": "%", "pageLimit": 2},
        {"query": "developer", "pageLimit": "two"},
    ],
)
def test_bad_search_parameters_are_a_400(
    http: httpx.Client, params: dict[str, Any]
) -> None:
    response = http.get("/api/v1/jobs/search", params=params)

    assert response.status_code == 400, response.text


def test_underscore_and_percent_are_not_wildcards(http: httpx.Client) -> None:
    client = bearer(register_client_token(http))
    word = new_word()
    exact = post_job(http, client, title=f"{word}_x 100%")
    post_job(http, client, title=f"{word}ax")

    underscore = search(http, f"{word}_x", limit=5)
    percent = search(http, f"{word}%", limit=5)

    assert [job["id"] for job in underscore.json()["jobs"]] == [exact]
    assert percent.json()["jobs"] == []


# --- accepting -----------------------------------------------------------


def test_accepting_hires_the_freelancer_and_closes_the_job(http: httpx.Client) -> None:
    posting = new_posting(http, milestones=2)

    response = accept(http, posting.client, posting.job_id, posting.proposal_id)

    body = response.json()
    contract_id = body["contractId"]
    contract = http.get(f"/api/v1/contracts/{contract_id}", headers=posting.client)
    job = http.get(f"/api/v1/jobs/{posting.job_id}", headers=posting.client).json()
    assert response.status_code == 200, response.text
    assert body["message"] == "Proposal Accepted Successfully!"
    assert body["job"] == {"id": posting.job_id, "active": False}
    assert body["proposal"] == {"id": posting.proposal_id, "status": "ACCEPTED"}
    assert contract.status_code == 200, contract.text
    assert contract.json()["proposalId"] == posting.proposal_id
    assert len(contract.json()["milestonesIds"]) == 2
    assert job["active"] is False
    assert search(http, posting.word, limit=5).json()["jobs"] == []
    assert (
        proposal_status(http, posting.client, posting.job_id, posting.proposal_id)
        == "ACCEPTED"
    )


def test_only_the_jobs_client_may_accept_and_only_once(http: httpx.Client) -> None:
    posting = new_posting(http)
    stranger = bearer(register_client_token(http))

    refused = accept(http, stranger, posting.job_id, posting.proposal_id)
    first = accept(http, posting.client, posting.job_id, posting.proposal_id)
    again = accept(http, posting.client, posting.job_id, posting.proposal_id)
    late_stranger = accept(http, stranger, posting.job_id, posting.proposal_id)

    assert refused.status_code == 401
    assert refused.json()["errorMessage"] == (
        "User is not the owner of this proposal's job!"
    )
    assert first.status_code == 200
    assert (again.status_code, again.json()["errorMessage"]) == (
        400,
        "Proposal is not pending",
    )
    assert late_stranger.status_code == 401


def test_a_second_proposal_of_a_closed_job_cannot_be_accepted(
    http: httpx.Client,
) -> None:
    done = hire(http)
    posting = done.posting
    late = post_proposal(http, bearer(register_freelancer_token(http)), posting.job_id)

    response = accept(http, posting.client, posting.job_id, late)

    assert (response.status_code, response.json()["errorMessage"]) == (
        400,
        "This job is no longer active!",
    )


def test_concurrent_accepts_of_one_proposal_make_one_contract(
    http: httpx.Client,
) -> None:
    posting = new_posting(http)

    with ThreadPoolExecutor(max_workers=5) as pool:
        responses = list(
            pool.map(
                lambda _: accept(
                    http, posting.client, posting.job_id, posting.proposal_id
                ),
                range(5),
            )
        )

    statuses = sorted(response.status_code for response in responses)
    (winner,) = [r for r in responses if r.status_code == 200]
    contract_id = winner.json()["contractId"]
    contract = http.get(f"/api/v1/contracts/{contract_id}", headers=posting.client)
    assert statuses == [200, 400, 400, 400, 400], [r.text for r in responses]
    assert contract.json()["proposalId"] == posting.proposal_id


def test_a_contracts_outage_leaves_the_proposal_pending_until_a_retry(
    http: httpx.Client, platform: Platform
) -> None:
    # jobs may still trust a consumer count it took just before the freeze
    # (common.bus caches it for a second); then its call times out instead
    # of failing at once. An edge with a short deadline keeps that case fast.
    edge_url = platform.spawn_edge(
        WORKUP_RPC_TIMEOUT_S="3", WORKUP_EDGE_PORT=str(free_port())
    )
    contracts = platform.instances_of("svc_contracts")
    assert contracts, "the platform runs no contracts instance"
    for instance in contracts:
        instance.admin().Freeze(admin_pb2.FreezeRequest())
    try:
        wait_for(
            lambda: platform.consumer_count("queue_contracts") == 0, 10, "no consumer"
        )
        posting = new_posting(http)
        with httpx.Client(base_url=edge_url, timeout=15) as short:
            during = accept(short, posting.client, posting.job_id, posting.proposal_id)
        status_during = proposal_status(
            http, posting.client, posting.job_id, posting.proposal_id
        )
    finally:
        for instance in contracts:
            instance.admin().Start(admin_pb2.StartRequest())

    retried: list[httpx.Response] = []

    def retry_succeeds() -> bool:
        retried.append(
            accept(http, posting.client, posting.job_id, posting.proposal_id)
        )
        return retried[-1].status_code == 200

    wait_for(retry_succeeds, 15, "a retried accept to succeed")
    # Either way jobs answers 503 itself, before the edge's deadline.
    assert during.status_code == 503, during.text
    assert status_during == "PENDING"
    assert retried[-1].json()["proposal"]["status"] == "ACCEPTED"
