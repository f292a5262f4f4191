"""The contracts service's handlers and store against the real Cassandra and broker.

Handlers are called directly, through the table main.py registers, on a
store in this run's keyspace; each test makes its own contract with random
parties. EvaluateMilestone reaches "payments" through the real RemoteCaller
and RabbitMQ, rerouted to a queue the test serves (tests.integration.
test_jobs_store.StubService), so each test decides what payments answers.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cassandra.cluster import Session
from google.protobuf.message import Message

from common.bus import RpcClient
from common.config import Settings
from common.cql import Replication
from common.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    Unauthorized,
    Unavailable,
    WorkUpError,
)
from common.remote import RemoteCaller
from common.runtime.context import CommandContext, Handler
from svc_contracts.handlers import contract_handlers
from svc_contracts.model import contract_id_for
from svc_contracts.printing import java_date, java_double
from svc_contracts.store import CassandraContractStore, ensure_schema
from tests.integration.test_jobs_store import (
    StubService,
    replying,
    rerouted_caller,
    silent,
)
from workup_pb import contracts_pb2 as pb, payments_pb2

pytestmark = pytest.mark.integration

#: Seconds a call may take in these tests.
WAIT_S = 10.0
M = pb.MilestoneState
T = pb.TerminationRequestStatus


@pytest.fixture(scope="module")
def store(cassandra_keyspace: tuple[Session, str]) -> CassandraContractStore:
    session, keyspace = cassandra_keyspace
    ensure_schema(session, keyspace, Replication())
    return CassandraContractStore(session, keyspace)


@pytest.fixture(scope="module")
def handlers(store: CassandraContractStore) -> dict[str, Handler]:
    return contract_handlers(store)


@pytest.fixture(scope="module")
def rpc(settings: Settings) -> Iterator[RpcClient]:
    client = RpcClient(settings.amqp_url, name="test-contracts-rpc")
    client.start()
    yield client
    client.stop()


@pytest.fixture
def stub_payments(settings: Settings) -> Iterator[StubService]:
    response = payments_pb2.CreatePaymentRequestResponse(
        payment_request_id=str(uuid.uuid4())
    )
    stub = StubService(settings, replying(201, response)).start()
    yield stub
    stub.stop()


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


def new_user() -> str:
    return uuid.uuid4().hex[:24]


def run(
    handlers: dict[str, Handler],
    command: str,
    request: Message,
    role: str,
    *,
    key: str | None = None,
    call: RemoteCaller | None = None,
    deadline_s: float = WAIT_S,
) -> Any:
    context = CommandContext(
        command=command,
        request_id=uuid.uuid4().hex,
        caller_id=getattr(request, "user_id", ""),
        caller_role=role,
        idempotency_key=key if key is not None else uuid.uuid4().hex,
        deadline_unix_ms=int((time.time() + deadline_s) * 1000),
        call=call,
    )
    return handlers[command](context, request)


class Deal:
    """A contract made for one test, and calls on it by its parties."""

    def __init__(self, handlers: dict[str, Handler], milestones: int = 2) -> None:
        self.handlers = handlers
        self.client, self.freelancer = new_user(), new_user()
        self.proposal_id = str(uuid.uuid4())
        self.request = pb.InitiateContractRequest(
            user_id=self.client,
            job_title="Build it",
            job_id=str(uuid.uuid4()),
            proposal_id=self.proposal_id,
            freelancer_id=self.freelancer,
            client_id=self.client,
            job_milestones=[
                pb.ContractMilestoneInput(
                    description=f"Part {n}",
                    due_date=f"2025-0{n + 1}-01",
                    amount=100.0 * (n + 1),
                )
                for n in range(milestones)
            ],
        )
        created = run(handlers, "InitiateContract", self.request, "CLIENT")
        self.contract_id: str = created.contract_id

    def contract(self, user: str | None = None, role: str = "CLIENT") -> Any:
        request = pb.GetContractRequest(
            user_id=user or self.client, contract_id=self.contract_id
        )
        return run(self.handlers, "GetContract", request, role)

    def milestone_ids(self) -> list[str]:
        return list(self.contract().milestones_ids)

    def milestone(self, milestone_id: str) -> Any:
        request = pb.GetMilestoneRequest(user_id=self.client, milestone_id=milestone_id)
        return run(self.handlers, "GetMilestone", request, "CLIENT")

    def progress(self, milestone_id: str, user: str | None = None, **kw: Any):
        request = pb.ProgressMilestoneRequest(
            user_id=user or self.freelancer, milestone_id=milestone_id
        )
        return run(self.handlers, "ProgressMilestone", request, "FREELANCER", **kw)

    def evaluate(
        self,
        milestone_id: str,
        verdict: pb.MilestoneState.Value.ValueType,
        user: str | None = None,
        **kw: Any,
    ):
        request = pb.EvaluateMilestoneRequest(
            user_id=user or self.client,
            milestone_id=milestone_id,
            evaluated_state=verdict,
        )
        return run(self.handlers, "EvaluateMilestone", request, "CLIENT", **kw)

    def in_review(self) -> str:
        """The first milestone, progressed twice."""
        milestone_id = self.milestone_ids()[0]
        self.progress(milestone_id)
        self.progress(milestone_id)
        return milestone_id

    def request_termination(self, user: str, **kw: Any) -> str:
        request = pb.RequestContractTerminationRequest(
            user_id=user, contract_id=self.contract_id, reason="Not working out"
        )
        return str(
            run(
                self.handlers,
                "RequestContractTermination",
                request,
                "CLIENT",
                **kw,
            ).request_id
        )

    def pending(self, user: str | None = None, role: str = "CLIENT") -> list[Any]:
        request = pb.GetPendingTerminationsRequest(
            user_id=user or self.client, contract_id=self.contract_id
        )
        return list(
            run(
                self.handlers, "GetPendingTerminations", request, role
            ).termination_requests
        )


def handle(
    handlers: dict[str, Handler],
    request_id: str,
    decision: pb.TerminationRequestStatus.Value.ValueType,
    role: str = "ADMIN",
    **kw: Any,
) -> Any:
    request = pb.HandleTerminationRequestRequest(
        user_id="admin",
        contract_termination_request_id=request_id,
        chosen_status=decision,
    )
    return run(handlers, "HandleTerminationRequest", request, role, **kw)


def paid(handlers: dict[str, Handler], milestone_id: str) -> Any:
    request = pb.MarkMilestoneAsPaidRequest(milestone_id=milestone_id)
    return run(handlers, "MarkMilestoneAsPaid", request, "CLIENT")


# --- InitiateContract and reads -------------------------------------------


def test_a_contract_is_derived_from_its_proposal_with_its_milestones(
    handlers,
) -> None:
    deal = Deal(handlers)

    contract = deal.contract()
    request = pb.ViewContractMilestonesRequest(
        user_id=deal.freelancer, contract_id=deal.contract_id
    )
    milestones = run(handlers, "ViewContractMilestones", request, "FREELANCER")

    assert deal.contract_id == str(contract_id_for(deal.proposal_id))
    assert contract.status == pb.ContractState.ACTIVE
    assert (contract.client_id, contract.freelancer_id) == (
        deal.client,
        deal.freelancer,
    )
    assert contract.job_id == deal.request.job_id
    assert contract.job_title == "Build it"
    assert [m.milestone_id for m in milestones.contract_milestones] == list(
        contract.milestones_ids
    )
    first = milestones.contract_milestones[0]
    assert (first.description, first.amount, first.status) == ("Part 0", 100.0, M.OPEN)
    assert first.due_date.ToJsonString() == "2025-01-01T00:00:00Z"


def test_initiating_again_returns_the_same_contract_unchanged(handlers) -> None:
    deal = Deal(handlers)
    milestone_id = deal.milestone_ids()[0]
    deal.progress(milestone_id)

    again = run(handlers, "InitiateContract", deal.request, "CLIENT")

    assert again.contract_id == deal.contract_id
    assert deal.milestone(milestone_id).status == M.IN_PROGRESS
    assert len(deal.milestone_ids()) == 2


def test_concurrent_initiations_make_one_contract(handlers) -> None:
    deal_request = Deal(handlers, milestones=0).request
    deal_request.proposal_id = str(uuid.uuid4())

    def initiate(_: int) -> str:
        return str(
            run(handlers, "InitiateContract", deal_request, "CLIENT").contract_id
        )

    with ThreadPoolExecutor(max_workers=5) as pool:
        ids = set(pool.map(initiate, range(5)))

    assert ids == {str(contract_id_for(deal_request.proposal_id))}


def test_the_same_proposal_with_other_parties_is_refused(handlers) -> None:
    deal = Deal(handlers)
    other = pb.InitiateContractRequest()
    other.CopyFrom(deal.request)
    other.client_id = new_user()

    with pytest.raises(BadRequest, match="other parties"):
        run(handlers, "InitiateContract", other, "CLIENT")


def test_a_contract_is_read_by_its_parties_and_the_admin_only(handlers) -> None:
    deal = Deal(handlers)

    assert deal.contract(deal.freelancer, "FREELANCER").contract_id == deal.contract_id
    assert deal.contract("admin", "ADMIN").contract_id == deal.contract_id
    with pytest.raises(Forbidden):
        deal.contract(new_user(), "CLIENT")
    with pytest.raises(Forbidden):
        deal.pending(new_user(), "FREELANCER")
    request = pb.GetMilestoneRequest(
        user_id=new_user(), milestone_id=deal.milestone_ids()[0]
    )
    with pytest.raises(Forbidden):
        run(handlers, "GetMilestone", request, "CLIENT")


def test_unknown_and_malformed_ids_get_each_commands_not_found_answer(
    handlers,
) -> None:
    user = new_user()
    for missing in (str(uuid.uuid4()), "not-a-uuid"):
        cases: list[tuple[str, Message, type[Exception], str]] = [
            (
                "GetContract",
                pb.GetContractRequest(user_id=user, contract_id=missing),
                NotFound,
                "Requested contract does not exist",
            ),
            (
                "ViewContractMilestones",
                pb.ViewContractMilestonesRequest(user_id=user, contract_id=missing),
                BadRequest,
                "Invalid contract id",
            ),
            (
                "GetMilestone",
                pb.GetMilestoneRequest(user_id=user, milestone_id=missing),
                NotFound,
                "Requested milestone  does not exist",
            ),
            (
                "GetPendingTerminations",
                pb.GetPendingTerminationsRequest(user_id=user, contract_id=missing),
                BadRequest,
                "Invalid Contract Id",
            ),
            (
                "PrintContract",
                pb.PrintContractRequest(contract_id=missing),
                BadRequest,
                "No Contract With This ID Is Found!",
            ),
            (
                "RequestContractTermination",
                pb.RequestContractTerminationRequest(user_id=user, contract_id=missing),
                BadRequest,
                "The contract is not valid.",
            ),
            (
                "ProgressMilestone",
                pb.ProgressMilestoneRequest(user_id=user, milestone_id=missing),
                BadRequest,
                "Milestone is not found",
            ),
            (
                "EvaluateMilestone",
                pb.EvaluateMilestoneRequest(
                    user_id=user, milestone_id=missing, evaluated_state=M.ACCEPTED
                ),
                BadRequest,
                "Milestone is not found",
            ),
            (
                "MarkMilestoneAsPaid",
                pb.MarkMilestoneAsPaidRequest(milestone_id=missing),
                BadRequest,
                "Milestone is not found",
            ),
            (
                "HandleTerminationRequest",
                pb.HandleTerminationRequestRequest(
                    contract_termination_request_id=missing, chosen_status=T.REJECTED
                ),
                BadRequest,
                "No Termination Requests Found",
            ),
        ]
        for command, request, error, message in cases:
            with pytest.raises(error, match=exactly(message)):
                run(handlers, command, request, "ADMIN")


def test_print_contract_renders_the_reference_text(handlers) -> None:
    deal = Deal(handlers, milestones=1)
    (milestone_id,) = deal.milestone_ids()
    request = pb.PrintContractRequest(contract_id=deal.contract_id)

    text = run(handlers, "PrintContract", request, "").with_formated_contract_details

    assert text == (
        f"Contract ID: {deal.contract_id}\n"
        "Contract Status: ACTIVE\n"
        f"Contract Freelancer ID: {deal.freelancer}\n"
        f"Contract Client ID: {deal.client}\n"
        f"Contract Job ID: {deal.request.job_id}\n"
        f"Contract Proposal ID: {deal.proposal_id}\n"
        "Contract Job Title: Build it\n"
        "Contract Milestones: \n"
        f"Milestone ID: {milestone_id}\n"
        f"Milestone Contract ID: {deal.contract_id}\n"
        "Milestone Description: Part 0\n"
        "Milestone Due Date: Wed Jan 01 00:00:00 UTC 2025\n"
        "Milestone Amount: 100.0\n"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (30000.0, "30000.0"),
        (0.5, "0.5"),
        (1e7, "1.0E7"),
        (12345678.9, "1.23456789E7"),
        (0.0001, "1.0E-4"),
        (-2.5e-5, "-2.5E-5"),
        (0.0, "0.0"),
    ],
)
def test_amounts_print_like_java_doubles(value: float, text: str) -> None:
    assert java_double(value) == text


def test_dates_print_like_java_dates() -> None:
    moment = dt.datetime(2024, 9, 9, 13, 5, 7, tzinfo=dt.UTC)

    assert java_date(moment) == "Mon Sep 09 13:05:07 UTC 2024"
    assert java_date(None) == "null"


# --- progress and evaluation ----------------------------------------------


def test_the_freelancer_progresses_open_to_in_progress_to_in_review(handlers) -> None:
    deal = Deal(handlers)
    milestone_id = deal.milestone_ids()[0]

    deal.progress(milestone_id)
    middle = deal.milestone(milestone_id).status
    deal.progress(milestone_id)

    assert middle == M.IN_PROGRESS
    assert deal.milestone(milestone_id).status == M.IN_REVIEW
    with pytest.raises(BadRequest, match="cannot be progressed"):
        deal.progress(milestone_id)


def test_only_the_contracts_freelancer_progresses(handlers) -> None:
    deal = Deal(handlers)
    milestone_id = deal.milestone_ids()[0]

    with pytest.raises(Forbidden):
        deal.progress(milestone_id, user=new_user())
    with pytest.raises(Forbidden):
        deal.progress(milestone_id, user=deal.client)
    assert deal.milestone(milestone_id).status == M.OPEN


def test_a_redelivered_progress_moves_the_milestone_once(handlers) -> None:
    deal = Deal(handlers)
    milestone_id = deal.milestone_ids()[0]
    key = uuid.uuid4().hex

    deal.progress(milestone_id, key=key)
    deal.progress(milestone_id, key=key)

    assert deal.milestone(milestone_id).status == M.IN_PROGRESS


def test_concurrent_progress_requests_each_take_one_step(handlers) -> None:
    deal = Deal(handlers)
    milestone_id = deal.milestone_ids()[0]

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: deal.progress(milestone_id), range(2)))

    assert deal.milestone(milestone_id).status == M.IN_REVIEW


def test_evaluation_checks_the_verdict_the_client_and_the_state(handlers) -> None:
    deal = Deal(handlers)
    milestone_id = deal.milestone_ids()[0]

    for verdict in (M.OPEN, M.IN_REVIEW, M.PAID, M.MILESTONE_STATE_UNSPECIFIED):
        with pytest.raises(BadRequest, match="ACCEPTED or IN_PROGRESS"):
            deal.evaluate(milestone_id, verdict)
    with pytest.raises(Forbidden):
        deal.evaluate(milestone_id, M.IN_PROGRESS, user=deal.freelancer)
    not_yet = "Milestone cannot be evaluated as it has not progressed enough"
    with pytest.raises(BadRequest, match=exactly(not_yet)):
        deal.evaluate(milestone_id, M.IN_PROGRESS)


def test_the_client_sends_a_milestone_back_to_in_progress(handlers) -> None:
    deal = Deal(handlers)
    milestone_id = deal.in_review()

    deal.evaluate(milestone_id, M.IN_PROGRESS)

    assert deal.milestone(milestone_id).status == M.IN_PROGRESS


def test_accepting_a_milestone_asks_payments_for_its_payment_request(
    handlers, rpc, stub_payments
) -> None:
    deal = Deal(handlers)
    milestone_id = deal.in_review()
    call = rerouted_caller(rpc, "CreatePaymentRequest", stub_payments.queue)

    deal.evaluate(milestone_id, M.ACCEPTED, call=call)

    (sent,) = stub_payments.requests(payments_pb2.CreatePaymentRequestRequest)
    assert deal.milestone(milestone_id).status == M.ACCEPTED
    assert sent.reference_id == milestone_id
    assert (sent.client_id, sent.freelancer_id, sent.amount) == (
        deal.client,
        deal.freelancer,
        100.0,
    )


def test_a_payments_error_puts_the_milestone_back_in_review(
    handlers, rpc, settings
) -> None:
    deal = Deal(handlers)
    milestone_id = deal.in_review()
    failing = StubService(settings, replying(500, error="ledger down")).start()
    try:
        call = rerouted_caller(rpc, "CreatePaymentRequest", failing.queue)
        with pytest.raises(WorkUpError, match="creating the payment request"):
            deal.evaluate(milestone_id, M.ACCEPTED, call=call)
    finally:
        failing.stop()

    assert len(failing.received) == 1
    assert deal.milestone(milestone_id).status == M.IN_REVIEW


def test_payments_down_is_503_and_a_later_evaluation_succeeds(
    handlers, rpc, stub_payments
) -> None:
    deal = Deal(handlers)
    milestone_id = deal.in_review()
    nobody = rerouted_caller(rpc, "CreatePaymentRequest", f"test-none-{uuid.uuid4()}")

    with pytest.raises(Unavailable, match="payments service is unavailable"):
        deal.evaluate(milestone_id, M.ACCEPTED, call=nobody)
    after_outage = deal.milestone(milestone_id).status
    call = rerouted_caller(rpc, "CreatePaymentRequest", stub_payments.queue)
    deal.evaluate(milestone_id, M.ACCEPTED, call=call)

    assert after_outage == M.IN_REVIEW
    assert deal.milestone(milestone_id).status == M.ACCEPTED


def test_payments_that_never_answer_get_a_503_before_the_deadline(
    handlers, rpc, settings
) -> None:
    deal = Deal(handlers)
    milestone_id = deal.in_review()
    mute = StubService(settings, silent).start()
    try:
        call = rerouted_caller(rpc, "CreatePaymentRequest", mute.queue)
        started = time.monotonic()
        with pytest.raises(Unavailable, match="payments service is unavailable"):
            deal.evaluate(milestone_id, M.ACCEPTED, call=call, deadline_s=2.5)
        elapsed_s = time.monotonic() - started
    finally:
        mute.stop()

    assert len(mute.received) == 1
    assert elapsed_s < 2.5
    assert deal.milestone(milestone_id).status == M.IN_REVIEW


def test_a_redelivered_acceptance_bills_again_without_a_second_move(
    handlers, rpc, stub_payments
) -> None:
    deal = Deal(handlers)
    milestone_id = deal.in_review()
    call = rerouted_caller(rpc, "CreatePaymentRequest", stub_payments.queue)
    key = uuid.uuid4().hex

    deal.evaluate(milestone_id, M.ACCEPTED, call=call, key=key)
    deal.evaluate(milestone_id, M.ACCEPTED, call=call, key=key)

    sent = stub_payments.requests(payments_pb2.CreatePaymentRequestRequest)
    assert [request.reference_id for request in sent] == [milestone_id] * 2
    with pytest.raises(BadRequest, match="not progressed enough"):
        deal.evaluate(milestone_id, M.ACCEPTED, call=call)


def test_a_paid_milestone_stays_paid_and_only_accepted_ones_can_be_paid(
    handlers, rpc, stub_payments
) -> None:
    deal = Deal(handlers)
    milestone_id = deal.in_review()
    with pytest.raises(
        BadRequest, match=exactly("Milestone is not accepted for payment")
    ):
        paid(handlers, milestone_id)
    call = rerouted_caller(rpc, "CreatePaymentRequest", stub_payments.queue)
    deal.evaluate(milestone_id, M.ACCEPTED, call=call)

    paid(handlers, milestone_id)
    paid(handlers, milestone_id)

    assert deal.milestone(milestone_id).status == M.PAID


# --- termination requests -------------------------------------------------


def test_a_party_files_one_pending_request_at_a_time(handlers) -> None:
    deal = Deal(handlers)

    request_id = deal.request_termination(deal.client)
    with pytest.raises(BadRequest, match=exactly("Termination Request already exists")):
        deal.request_termination(deal.client)
    other = deal.request_termination(deal.freelancer)

    pending = deal.pending()
    assert [(p.request_id, p.requester_id) for p in pending] == [
        (request_id, deal.client),
        (other, deal.freelancer),
    ]
    assert pending[0].reason == "Not working out"
    assert pending[0].status == T.PENDING


def test_a_stranger_may_not_request_termination(handlers) -> None:
    deal = Deal(handlers)

    with pytest.raises(Unauthorized, match=exactly("Unauthorized request")):
        deal.request_termination(new_user())
    assert deal.pending() == []


def test_a_redelivered_request_files_once(handlers) -> None:
    deal = Deal(handlers)
    key = uuid.uuid4().hex

    first = deal.request_termination(deal.client, key=key)
    again = deal.request_termination(deal.client, key=key)

    assert first == again
    assert len(deal.pending()) == 1


def test_concurrent_requests_of_one_party_file_one(handlers) -> None:
    deal = Deal(handlers)

    def attempt(_: int) -> str:
        try:
            return deal.request_termination(deal.client)
        except BadRequest as error:
            return str(error.message)

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(attempt, range(4)))

    assert outcomes.count("Termination Request already exists") == 3, outcomes
    assert len(deal.pending()) == 1


def test_only_the_admin_decides_and_only_accepted_or_rejected(handlers) -> None:
    deal = Deal(handlers)
    request_id = deal.request_termination(deal.client)

    with pytest.raises(Forbidden):
        handle(handlers, request_id, T.REJECTED, role="CLIENT")
    for decision in (T.PENDING, T.TERMINATION_REQUEST_STATUS_UNSPECIFIED):
        with pytest.raises(BadRequest, match="ACCEPTED or REJECTED"):
            handle(handlers, request_id, decision)
    assert len(deal.pending()) == 1


def test_a_rejected_request_leaves_the_contract_and_can_be_filed_again(
    handlers,
) -> None:
    deal = Deal(handlers)
    request_id = deal.request_termination(deal.client)

    handled = handle(handlers, request_id, T.REJECTED)
    with pytest.raises(BadRequest, match="already handled"):
        handle(handlers, request_id, T.ACCEPTED)
    again = deal.request_termination(deal.client)

    assert handled.request_status == T.REJECTED
    assert deal.contract().status == pb.ContractState.ACTIVE
    assert [p.request_id for p in deal.pending()] == [again]


def test_an_accepted_request_terminates_the_contract(handlers, rpc) -> None:
    deal = Deal(handlers)
    milestone_id = deal.milestone_ids()[0]
    by_client = deal.request_termination(deal.client)
    by_freelancer = deal.request_termination(deal.freelancer)

    handle(handlers, by_client, T.ACCEPTED)

    assert deal.contract().status == pb.ContractState.TERMINATED
    with pytest.raises(BadRequest, match=exactly("The contract has already ended.")):
        handle(handlers, by_freelancer, T.ACCEPTED)
    handle(handlers, by_freelancer, T.REJECTED)
    with pytest.raises(
        BadRequest, match=exactly("The contract is not active anymore.")
    ):
        deal.request_termination(deal.client)
    with pytest.raises(
        BadRequest, match=exactly("The contract is not active anymore.")
    ):
        deal.progress(milestone_id)
    assert deal.pending() == []


def test_a_redelivered_decision_answers_again_without_a_second_change(
    handlers,
) -> None:
    deal = Deal(handlers)
    request_id = deal.request_termination(deal.client)
    key = uuid.uuid4().hex

    first = handle(handlers, request_id, T.ACCEPTED, key=key)
    again = handle(handlers, request_id, T.ACCEPTED, key=key)

    assert first.request_status == again.request_status == T.ACCEPTED
