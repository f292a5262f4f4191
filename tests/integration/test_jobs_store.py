"""The jobs service's handlers and store against the real Cassandra and broker.

Handlers are called directly, through the table main.py registers, on a
store in this run's keyspace; each test uses fresh random ids and words.
AcceptProposal reaches "contracts" through the real RemoteCaller and
RabbitMQ: the contracts queue is rerouted to a queue this test serves with
a small pika consumer, so each test decides what contracts answers.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pika
import pytest
from cassandra.cluster import Session
from google.protobuf.message import Message

from common import connections
from common.bus import RpcClient
from common.config import Settings
from common.cql import Replication
from common.errors import (
    BadRequest,
    NotFound,
    Unauthorized,
    Unavailable,
    WorkUpError,
)
from common.remote import RemoteCaller
from common.runtime.context import CommandContext, Handler
from svc_jobs.handlers import job_handlers
from svc_jobs.search import MAX_PAGE_LIMIT, encode_cursor
from svc_jobs.store import CassandraJobStore, ensure_schema
from workup_pb import contracts_pb2, jobs_pb2 as pb
from workup_pb.envelope_pb2 import Envelope, Reply

pytestmark = pytest.mark.integration

#: Seconds a stand-in service or a call may take in these tests.
WAIT_S = 10.0


# --- the stand-in for another service, on the real broker -----------------


class StubService:
    """Serves a queue of its own on the real broker, answering each envelope
    with `answer(envelope)` (None: no answer at all); records what it got."""

    def __init__(self, settings: Settings, answer: Callable[[Envelope], Reply | None]):
        self.queue = f"test-stub-{uuid.uuid4().hex[:10]}"
        self.answer = answer
        self.received: list[Envelope] = []
        self._settings = settings
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> StubService:
        self._thread.start()
        assert self._ready.wait(WAIT_S), "the stub never started consuming"
        return self

    def stop(self) -> None:
        if self._connection is not None and self._channel is not None:
            self._connection.add_callback_threadsafe(self._channel.stop_consuming)
        self._thread.join(WAIT_S)

    def requests(self, request_type: type[Any]) -> list[Any]:
        with self._lock:
            return [request_type.FromString(e.payload) for e in self.received]

    def _serve(self) -> None:
        self._connection = connections.connect_amqp(self._settings)
        self._channel = self._connection.channel()
        self._channel.queue_declare(self.queue, auto_delete=True)
        self._channel.basic_consume(self.queue, self._on_message)
        self._ready.set()
        self._channel.start_consuming()
        self._connection.close()

    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes):
        envelope = Envelope.FromString(body)
        with self._lock:
            self.received.append(envelope)
        reply = self.answer(envelope)
        if reply is not None:
            reply.request_id = envelope.request_id
            channel.basic_publish(
                "",
                properties.reply_to,
                reply.SerializeToString(),
                pika.BasicProperties(correlation_id=properties.correlation_id),
            )
        channel.basic_ack(method.delivery_tag)


def replying(status: int, response: Message | None = None, error: str = ""):
    """An answer function that always replies with this status."""

    def answer(_envelope: Envelope) -> Reply:
        reply = Reply(status=status)
        if response is not None:
            reply.payload = response.SerializeToString()
        if error:
            reply.error_message = error
        return reply

    return answer


def silent(_envelope: Envelope) -> None:
    """An answer function for a service that takes commands and never replies."""
    return None


def rerouted_caller(rpc: RpcClient, command: str, queue: str) -> RemoteCaller:
    """The production RemoteCaller, with one command sent to `queue`."""
    caller = RemoteCaller(rpc)
    # Test-only: the proto route table names the real work queue.
    caller._routes[command] = dataclasses.replace(caller._routes[command], queue=queue)
    return caller


@pytest.fixture(scope="module")
def rpc(settings: Settings) -> Iterator[RpcClient]:
    client = RpcClient(settings.amqp_url, name="test-jobs-rpc")
    client.start()
    yield client
    client.stop()


@pytest.fixture
def contract_id() -> str:
    """The id the stand-in contracts service answers with."""
    return str(uuid.uuid4())


@pytest.fixture
def stub_contracts(settings: Settings, contract_id: str) -> Iterator[StubService]:
    response = contracts_pb2.InitiateContractResponse(contract_id=contract_id)
    stub = StubService(settings, replying(201, response)).start()
    yield stub
    stub.stop()


# --- the service under test ------------------------------------------------


@pytest.fixture(scope="module")
def store(cassandra_keyspace: tuple[Session, str]) -> CassandraJobStore:
    session, keyspace = cassandra_keyspace
    ensure_schema(session, keyspace, Replication())
    return CassandraJobStore(session, keyspace)


@pytest.fixture(scope="module")
def handlers(store: CassandraJobStore) -> dict[str, Handler]:
    return job_handlers(store)


def context(
    command: str,
    user_id: str,
    role: str,
    *,
    key: str | None = None,
    call: RemoteCaller | None = None,
    deadline_s: float = WAIT_S,
) -> CommandContext:
    return CommandContext(
        command=command,
        request_id=uuid.uuid4().hex,
        caller_id=user_id,
        caller_role=role,
        idempotency_key=key if key is not None else uuid.uuid4().hex,
        deadline_unix_ms=int((time.time() + deadline_s) * 1000),
        call=call,
    )


def exactly(message: str) -> str:
    """A pytest.raises pattern that matches this whole message only."""
    return f"^{re.escape(message)}$"


def new_user() -> str:
    return uuid.uuid4().hex[:24]


def new_word() -> str:
    """A word no other test's job contains."""
    return f"w{uuid.uuid4().hex[:12]}"


def run(
    handlers: dict[str, Handler],
    command: str,
    request: Message,
    role: str,
    **kwargs: Any,
) -> Any:
    user_id = getattr(request, "user_id", "")
    return handlers[command](context(command, user_id, role, **kwargs), request)


def create_job(handlers: dict[str, Handler], client: str, **fields: Any) -> str:
    fields.setdefault("title", "Backend developer")
    request = pb.CreateJobRequest(user_id=client, **fields)
    return str(run(handlers, "CreateJob", request, "CLIENT").job_id)


def create_proposal(
    handlers: dict[str, Handler], job_id: str, freelancer: str, **fields: Any
) -> str:
    request = pb.CreateProposalRequest(user_id=freelancer, job_id=job_id, **fields)
    return str(run(handlers, "CreateProposal", request, "FREELANCER").id)


def search(
    handlers: dict[str, Handler], query: str, limit: int = 10, cursor: str = ""
) -> pb.SearchJobsResponse:
    request = pb.SearchJobsRequest(query=query, page_limit=limit, paging_state=cursor)
    result: pb.SearchJobsResponse = run(handlers, "SearchJobs", request, "")
    return result


def accept(
    handlers: dict[str, Handler],
    client: str,
    job_id: str,
    proposal_id: str,
    call: RemoteCaller | None,
    deadline_s: float = WAIT_S,
) -> pb.AcceptProposalResponse:
    request = pb.AcceptProposalRequest(
        user_id=client, job_id=job_id, proposal_id=proposal_id
    )
    result: pb.AcceptProposalResponse = run(
        handlers, "AcceptProposal", request, "CLIENT", call=call, deadline_s=deadline_s
    )
    return result


def proposal_status(handlers: dict[str, Handler], job_id: str, proposal_id: str):
    request = pb.GetProposalsByJobIdRequest(user_id=new_user(), job_id=job_id)
    listed = run(handlers, "GetProposalsByJobId", request, "CLIENT").proposals
    (proposal,) = [p for p in listed if p.id == proposal_id]
    return pb.ProposalStatus.Value.Name(proposal.status)


def job_active(handlers: dict[str, Handler], job_id: str) -> bool:
    request = pb.GetJobByIdRequest(user_id=new_user(), job_id=job_id)
    return bool(run(handlers, "GetJobById", request, "CLIENT").active)


# --- jobs ----------------------------------------------------------------


def test_a_created_job_reads_back_with_every_field(handlers) -> None:
    client = new_user()
    job_id = create_job(
        handlers,
        client,
        title="Data engineer",
        description="Pipelines",
        location="Cairo",
        budget=1234.5,
        skills=["python", "spark"],
        experience=pb.Experience.EXPERT,
    )

    job = run(handlers, "GetJobById", pb.GetJobByIdRequest(job_id=job_id), "FREELANCER")

    assert (job.id, job.title, job.description, job.location) == (
        job_id,
        "Data engineer",
        "Pipelines",
        "Cairo",
    )
    assert job.budget == 1234.5
    assert list(job.skills) == ["python", "spark"]
    assert job.experience == pb.Experience.EXPERT
    assert job.client_id == client
    assert job.active is True
    assert job.created_at == job.modified_at


def test_one_idempotency_key_creates_one_job(handlers) -> None:
    client = new_user()
    request = pb.CreateJobRequest(user_id=client, title="Once")
    key = uuid.uuid4().hex

    first = handlers["CreateJob"](
        context("CreateJob", client, "CLIENT", key=key), request
    )
    again = handlers["CreateJob"](
        context("CreateJob", client, "CLIENT", key=key), request
    )
    mine = run(handlers, "GetMyJobs", pb.GetMyJobsRequest(user_id=client), "CLIENT")

    assert first.job_id == again.job_id
    assert [job.id for job in mine.jobs] == [first.job_id]


def test_an_unknown_or_malformed_job_id_is_job_not_found(handlers) -> None:
    for job_id in (str(uuid.uuid4()), "not-a-uuid"):
        request = pb.GetJobByIdRequest(job_id=job_id)
        with pytest.raises(NotFound, match=exactly("Job not found")):
            run(handlers, "GetJobById", request, "CLIENT")


def test_my_jobs_lists_the_callers_jobs_oldest_first(handlers) -> None:
    client = new_user()
    first = create_job(handlers, client, title="First")
    second = create_job(handlers, client, title="Second", skills=["go"])
    create_job(handlers, new_user(), title="Someone else's")

    mine = run(handlers, "GetMyJobs", pb.GetMyJobsRequest(user_id=client), "CLIENT")

    assert [job.id for job in mine.jobs] == [first, second]
    assert list(mine.jobs[1].skills) == ["go"]


def test_a_negative_budget_is_a_bad_request(handlers) -> None:
    with pytest.raises(BadRequest, match="budget"):
        create_job(handlers, new_user(), budget=-1.0)


# --- search --------------------------------------------------------------


def test_search_matches_whole_words_in_any_field_ignoring_case_and_accents(
    handlers,
) -> None:
    word = new_word()
    in_title = create_job(handlers, new_user(), title=f"{word.upper()} dev")
    in_description = create_job(handlers, new_user(), description=f"We use {word}.")
    in_skills = create_job(handlers, new_user(), skills=["Café", word])
    create_job(handlers, new_user(), title=f"{word}x is a longer word")

    found = search(handlers, word)
    accented = search(handlers, f"cafe {word}")

    assert {job.id for job in found.jobs} == {in_title, in_description, in_skills}
    assert found.paging_state == ""
    assert [job.id for job in accented.jobs] == [in_skills]


def test_search_needs_every_word_of_the_query(handlers) -> None:
    word, other = new_word(), new_word()
    both = create_job(handlers, new_user(), title=f"{word} {other}")
    create_job(handlers, new_user(), title=word)

    found = search(handlers, f"{other}, {word}!")

    assert [job.id for job in found.jobs] == [both]


def test_paging_to_the_end_shows_every_match_exactly_once(handlers) -> None:
    word = new_word()
    expected = {create_job(handlers, new_user(), title=word) for _ in range(7)}

    seen: list[str] = []
    pages, cursor = 0, ""
    while True:
        page = search(handlers, word, limit=3, cursor=cursor)
        seen.extend(job.id for job in page.jobs)
        pages += 1
        if not page.HasField("paging_state"):
            break
        cursor = page.paging_state

    assert sorted(seen) == sorted(expected)
    assert pages == 3


def test_percent_and_underscore_are_plain_characters(handlers) -> None:
    word = new_word()
    snake = create_job(handlers, new_user(), title=f"{word}_api")
    create_job(handlers, new_user(), title=f"{word} api 100%")

    underscore = search(handlers, f"{word}_api")

    assert [job.id for job in underscore.jobs] == [snake]
    with pytest.raises(BadRequest, match="at least one letter"):
        search(handlers, "%")
    with pytest.raises(BadRequest, match="at least one letter"):
        search(handlers, "")


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_LIMIT + 1])
def test_a_page_limit_out_of_range_is_a_bad_request(handlers, limit: int) -> None:
    with pytest.raises(BadRequest, match="pageLimit"):
        search(handlers, "developer", limit=limit)


@pytest.mark.parametrize("cursor", ["garbage!", "AAAA", encode_cursor(5)[:-2]])
def test_a_cursor_we_did_not_hand_out_is_a_bad_request(handlers, cursor: str) -> None:
    with pytest.raises(BadRequest, match="pagingState"):
        search(handlers, "developer", cursor=cursor)


def test_too_many_query_words_is_a_bad_request(handlers) -> None:
    with pytest.raises(BadRequest, match="at most"):
        search(handlers, " ".join(new_word() for _ in range(9)))


# --- proposals -----------------------------------------------------------


def test_a_proposal_reads_back_under_its_job_and_its_freelancer(handlers) -> None:
    job_id = create_job(handlers, new_user())
    freelancer = new_user()
    proposal_id = create_proposal(
        handlers,
        job_id,
        freelancer,
        cover_letter="Hire me",
        job_duration=pb.JobDuration.THREE_TO_SIX_MONTHS,
        attachments=[pb.Attachment(name="cv", url="/static/attachments/cv.pdf")],
        milestones=[
            pb.ProposalMilestoneInput(
                description="Backend", amount=100.0, due_date="2025-01-01"
            )
        ],
    )
    other_job = create_job(handlers, new_user())
    second = create_proposal(handlers, other_job, freelancer)

    by_job = run(
        handlers,
        "GetProposalsByJobId",
        pb.GetProposalsByJobIdRequest(job_id=job_id),
        "CLIENT",
    )
    mine = run(
        handlers,
        "GetMyProposals",
        pb.GetMyProposalsRequest(user_id=freelancer),
        "FREELANCER",
    )

    (proposal,) = by_job.proposals
    assert proposal.id == proposal_id
    assert (proposal.job_id, proposal.freelancer_id) == (job_id, freelancer)
    assert proposal.cover_letter == "Hire me"
    assert proposal.status == pb.ProposalStatus.PENDING
    assert proposal.duration == pb.JobDuration.THREE_TO_SIX_MONTHS
    assert proposal.attachments[0].url == "/static/attachments/cv.pdf"
    assert proposal.milestones[0].amount == 100.0
    assert proposal.milestones[0].due_date.ToJsonString() == "2025-01-01T00:00:00Z"
    assert [p.id for p in mine.proposals] == [proposal_id, second]


def test_a_proposal_on_an_unknown_job_is_job_not_found(handlers) -> None:
    for job_id in (str(uuid.uuid4()), "nope"):
        with pytest.raises(NotFound, match=exactly("Job Not Found")):
            create_proposal(handlers, job_id, new_user())


def test_a_milestone_due_date_that_is_no_date_is_a_bad_request(handlers) -> None:
    job_id = create_job(handlers, new_user())
    milestone = pb.ProposalMilestoneInput(amount=1.0, due_date="soon")

    with pytest.raises(BadRequest, match="dueDate"):
        create_proposal(handlers, job_id, new_user(), milestones=[milestone])


def test_proposals_of_an_unknown_or_malformed_job_are_an_empty_list(handlers) -> None:
    for job_id in (str(uuid.uuid4()), "nope"):
        request = pb.GetProposalsByJobIdRequest(job_id=job_id)
        listed = run(handlers, "GetProposalsByJobId", request, "CLIENT")
        assert list(listed.proposals) == []


# --- accepting a proposal ------------------------------------------------


@pytest.fixture
def posted(handlers) -> tuple[str, str, str, str]:
    """(client, job id, proposal id, unique word in the job's title)."""
    client, word = new_user(), new_word()
    job_id = create_job(handlers, client, title=f"Accept {word}")
    milestone = pb.ProposalMilestoneInput(
        description="Build", amount=250.0, due_date="2025-03-04"
    )
    proposal_id = create_proposal(handlers, job_id, new_user(), milestones=[milestone])
    return client, job_id, proposal_id, word


def test_accepting_starts_the_contract_and_closes_the_job(
    handlers, rpc, stub_contracts, contract_id, posted
) -> None:
    client, job_id, proposal_id, word = posted
    call = rerouted_caller(rpc, "InitiateContract", stub_contracts.queue)

    response = accept(handlers, client, job_id, proposal_id, call)

    (sent,) = stub_contracts.requests(contracts_pb2.InitiateContractRequest)
    assert response.message == "Proposal Accepted Successfully!"
    assert response.contract_id == contract_id
    assert (response.job.id, response.job.active) == (job_id, False)
    assert response.proposal.status == pb.ProposalStatus.ACCEPTED
    assert (sent.job_id, sent.proposal_id, sent.client_id) == (
        job_id,
        proposal_id,
        client,
    )
    assert sent.job_title == f"Accept {word}"
    assert sent.job_milestones[0].amount == 250.0
    assert sent.job_milestones[0].due_date.startswith("2025-03-04T00:00:00")
    assert proposal_status(handlers, job_id, proposal_id) == "ACCEPTED"
    assert job_active(handlers, job_id) is False
    assert list(search(handlers, word).jobs) == []


def test_a_stranger_gets_401_before_any_state_check(
    handlers, rpc, stub_contracts, posted
) -> None:
    client, job_id, proposal_id, _ = posted
    call = rerouted_caller(rpc, "InitiateContract", stub_contracts.queue)
    accept(handlers, client, job_id, proposal_id, call)

    with pytest.raises(
        Unauthorized, match=exactly("User is not the owner of this proposal's job!")
    ):
        accept(handlers, new_user(), job_id, proposal_id, call)


def test_accepting_twice_is_not_pending(handlers, rpc, stub_contracts, posted) -> None:
    client, job_id, proposal_id, _ = posted
    call = rerouted_caller(rpc, "InitiateContract", stub_contracts.queue)
    accept(handlers, client, job_id, proposal_id, call)

    with pytest.raises(BadRequest, match=exactly("Proposal is not pending")):
        accept(handlers, client, job_id, proposal_id, call)
    assert len(stub_contracts.received) == 1


def test_unknown_or_malformed_ids_are_proposal_not_found(handlers, posted) -> None:
    client, job_id, proposal_id, _ = posted
    for job, proposal in [
        (job_id, str(uuid.uuid4())),
        (str(uuid.uuid4()), proposal_id),
        ("x", proposal_id),
        (job_id, "y"),
    ]:
        with pytest.raises(NotFound, match=exactly("Proposal not found")):
            accept(handlers, client, job, proposal, None)


def test_a_contracts_error_is_500_and_leaves_everything_pending(
    handlers, rpc, settings, posted
) -> None:
    client, job_id, proposal_id, word = posted
    failing = StubService(settings, replying(500, error="boom")).start()
    try:
        call = rerouted_caller(rpc, "InitiateContract", failing.queue)
        with pytest.raises(
            WorkUpError, match=exactly("An error occurred while accepting job proposal")
        ):
            accept(handlers, client, job_id, proposal_id, call)
    finally:
        failing.stop()

    assert proposal_status(handlers, job_id, proposal_id) == "PENDING"
    assert job_active(handlers, job_id) is True
    assert [job.id for job in search(handlers, word).jobs] == [job_id]


def test_the_claim_is_released_so_another_proposal_can_then_be_accepted(
    handlers, rpc, settings, stub_contracts, posted
) -> None:
    client, job_id, proposal_id, _ = posted
    other = create_proposal(handlers, job_id, new_user())
    failing = StubService(settings, replying(400, error="no")).start()
    try:
        call = rerouted_caller(rpc, "InitiateContract", failing.queue)
        with pytest.raises(WorkUpError):
            accept(handlers, client, job_id, proposal_id, call)
    finally:
        failing.stop()

    call = rerouted_caller(rpc, "InitiateContract", stub_contracts.queue)
    accepted = accept(handlers, client, job_id, other, call)

    assert accepted.proposal.id == other
    assert proposal_status(handlers, job_id, proposal_id) == "PENDING"


def test_contracts_down_is_503_and_a_retry_succeeds(
    handlers, rpc, stub_contracts, posted
) -> None:
    client, job_id, proposal_id, _ = posted
    nobody = rerouted_caller(rpc, "InitiateContract", f"test-none-{uuid.uuid4()}")

    with pytest.raises(Unavailable, match="contracts service is unavailable"):
        accept(handlers, client, job_id, proposal_id, nobody)
    pending = proposal_status(handlers, job_id, proposal_id)
    call = rerouted_caller(rpc, "InitiateContract", stub_contracts.queue)
    retried = accept(handlers, client, job_id, proposal_id, call)

    assert pending == "PENDING"
    assert retried.proposal.status == pb.ProposalStatus.ACCEPTED


def test_contracts_that_never_answer_get_a_503_before_the_deadline(
    handlers, rpc, settings, posted
) -> None:
    client, job_id, proposal_id, _ = posted
    mute = StubService(settings, silent).start()
    try:
        call = rerouted_caller(rpc, "InitiateContract", mute.queue)
        started = time.monotonic()
        with pytest.raises(Unavailable, match="contracts service is unavailable"):
            accept(handlers, client, job_id, proposal_id, call, deadline_s=2.5)
        elapsed_s = time.monotonic() - started
    finally:
        mute.stop()

    assert len(mute.received) == 1
    assert elapsed_s < 2.5
    assert proposal_status(handlers, job_id, proposal_id) == "PENDING"


def test_too_little_time_left_for_contracts_is_a_503_without_a_call(
    handlers, rpc, stub_contracts, posted
) -> None:
    client, job_id, proposal_id, _ = posted
    call = rerouted_caller(rpc, "InitiateContract", stub_contracts.queue)

    with pytest.raises(Unavailable):
        accept(handlers, client, job_id, proposal_id, call, deadline_s=0.5)

    assert stub_contracts.received == []
    assert proposal_status(handlers, job_id, proposal_id) == "PENDING"


def test_while_an_acceptance_is_unresolved_no_other_proposal_can_be_accepted(
    handlers, rpc, stub_contracts, posted
) -> None:
    client, job_id, proposal_id, _ = posted
    other = create_proposal(handlers, job_id, new_user())
    nobody = rerouted_caller(rpc, "InitiateContract", f"test-none-{uuid.uuid4()}")
    with pytest.raises(Unavailable):
        accept(handlers, client, job_id, proposal_id, nobody)

    call = rerouted_caller(rpc, "InitiateContract", stub_contracts.queue)
    with pytest.raises(BadRequest, match=exactly("This job is no longer active!")):
        accept(handlers, client, job_id, other, call)
    assert stub_contracts.received == []


def test_concurrent_accepts_of_one_proposal_accept_it_once(
    handlers, rpc, stub_contracts, posted
) -> None:
    client, job_id, proposal_id, _ = posted
    call = rerouted_caller(rpc, "InitiateContract", stub_contracts.queue)

    def attempt(_: int) -> str:
        try:
            return accept(handlers, client, job_id, proposal_id, call).contract_id
        except BadRequest as error:
            return str(error.message)

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(attempt, range(6)))

    refused = [o for o in outcomes if o == "Proposal is not pending"]
    sent = stub_contracts.requests(contracts_pb2.InitiateContractRequest)
    assert len(refused) == len(outcomes) - 1, outcomes
    assert {request.proposal_id for request in sent} == {proposal_id}
    assert proposal_status(handlers, job_id, proposal_id) == "ACCEPTED"


def test_concurrent_accepts_of_two_proposals_hire_one_freelancer(
    handlers, rpc, stub_contracts, posted
) -> None:
    client, job_id, proposal_id, _ = posted
    other = create_proposal(handlers, job_id, new_user())
    call = rerouted_caller(rpc, "InitiateContract", stub_contracts.queue)

    def attempt(proposal: str) -> bool:
        try:
            accept(handlers, client, job_id, proposal, call)
        except BadRequest:
            return False
        return True

    with ThreadPoolExecutor(max_workers=2) as pool:
        won = list(pool.map(attempt, [proposal_id, other]))

    sent = stub_contracts.requests(contracts_pb2.InitiateContractRequest)
    assert sorted(won) == [False, True]
    assert len({request.proposal_id for request in sent}) == 1


def test_a_retry_finishes_an_acceptance_that_stopped_after_closing_the_job(
    handlers, store, rpc, stub_contracts, posted
) -> None:
    client, job_id, proposal_id, _ = posted
    job, proposal = uuid.UUID(job_id), uuid.UUID(proposal_id)
    # As if a crash hit between closing the job and accepting the proposal.
    assert store.claim_job(job, proposal, 60).won
    assert store.close_job(job, proposal, "contract-of-the-crashed-run")
    call = rerouted_caller(rpc, "InitiateContract", stub_contracts.queue)

    retried = accept(handlers, client, job_id, proposal_id, call)

    assert retried.contract_id == "contract-of-the-crashed-run"
    assert proposal_status(handlers, job_id, proposal_id) == "ACCEPTED"
    assert stub_contracts.received == []


def test_an_inactive_job_cannot_be_accepted_for_another_proposal(
    handlers, rpc, stub_contracts, posted
) -> None:
    client, job_id, proposal_id, _ = posted
    other = create_proposal(handlers, job_id, new_user())
    call = rerouted_caller(rpc, "InitiateContract", stub_contracts.queue)
    accept(handlers, client, job_id, proposal_id, call)

    with pytest.raises(BadRequest, match=exactly("This job is no longer active!")):
        accept(handlers, client, job_id, other, call)
