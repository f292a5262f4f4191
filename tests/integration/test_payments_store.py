"""The payments service against the real PostgreSQL and RabbitMQ of the stack.

Handlers run directly on a pool over the run's own database, migrated by the
service's own migrations. The outbox relay sends to a queue of each test's
own, where a consumer on the real broker answers as contracts would.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pika
import psycopg
import pytest

from common import connections
from common.bus import RpcClient
from common.config import Settings
from common.errors import BadRequest, Forbidden, NotFound, Unavailable, WorkUpError
from common.remote import RemoteCaller
from common.runtime.context import CommandContext
from svc_payments.database import Database
from svc_payments.handlers import PaymentHandlers
from svc_payments.milestones import MARK_PAID, MilestonePaidCheck
from svc_payments.outbox import OutboxRelay, RelaySettings
from svc_payments.schema import MigrationError, apply_migrations, load_migrations
from svc_payments.store import PaymentsStore
from tests.conftest import RUN_ID
from workup_pb import payments_pb2 as pb
from workup_pb.contracts_pb2 import (
    GetMilestoneResponse,
    MarkMilestoneAsPaidRequest,
    MarkMilestoneAsPaidResponse,
    MilestoneState,
)
from workup_pb.envelope_pb2 import Envelope, Reply

pytestmark = pytest.mark.integration

#: Seconds any single condition in these tests may take to come true.
WAIT_S = 15.0
FAST_RELAY = RelaySettings(
    poll_interval_s=0.05, retry_initial_s=0.05, retry_max_s=0.2, call_timeout_s=5.0
)
BAD_AMOUNTS = [-5.0, 0.0, -0.0, 1e13, float("nan"), float("inf"), 1.005, 0.001]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.02)


def new_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:12]}"


def call_context() -> CommandContext:
    """A fresh call, as the edge makes for each HTTP write."""
    return CommandContext(
        command="test", request_id=uuid.uuid4().hex, idempotency_key=uuid.uuid4().hex
    )


# Fixtures


@pytest.fixture(scope="module")
def conninfo(settings: Settings, postgres_database: str) -> str:
    info = settings.postgres.conninfo(postgres_database)
    apply_migrations(info)
    return info


@pytest.fixture(scope="module")
def database(conninfo: str) -> Iterator[Database]:
    database = Database(conninfo, max_size=24, name="payments-test")
    database.open()
    yield database
    database.close()


@pytest.fixture(scope="module")
def handlers(database: Database) -> PaymentHandlers:
    return PaymentHandlers(PaymentsStore(database))


@pytest.fixture
def sql(conninfo: str) -> Iterator[psycopg.Connection]:
    """A plain connection for looking at the tables behind the handlers."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        yield conn


@pytest.fixture
def fresh_database(settings: Settings) -> Iterator[str]:
    """An empty database of its own, for tests of the migrations themselves."""
    name = f"test_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    with connections.connect_postgres(settings, "postgres") as admin:
        admin.autocommit = True
        admin.execute(f"CREATE DATABASE {name}")
    yield settings.postgres.conninfo(name)
    with connections.connect_postgres(settings, "postgres") as admin:
        admin.autocommit = True
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def rpc(settings: Settings) -> Iterator[RpcClient]:
    client = RpcClient(settings.amqp_url, name="payments-test-rpc")
    client.start()
    yield client
    client.stop()


# Helpers


@dataclasses.dataclass(frozen=True)
class Bill:
    request_id: str
    client_id: str
    freelancer_id: str
    milestone_id: str


def open_wallet(handlers: PaymentHandlers, credit: float = 0.0) -> str:
    freelancer_id = new_id("freelancer")
    handlers.create_wallet(
        call_context(), pb.CreateWalletRequest(freelancer_id=freelancer_id)
    )
    if credit:
        handlers.create_wallet_transaction(
            call_context(),
            pb.CreateWalletTransactionRequest(
                freelancer_id=freelancer_id,
                amount=credit,
                transaction_type=pb.WalletTransactionType.CREDIT,
            ),
        )
    return freelancer_id


def bill(handlers: PaymentHandlers, amount: float = 1200.5) -> Bill:
    """A PENDING payment request, as contracts creates one (API.md X3)."""
    client_id, milestone_id = new_id("client"), new_id("milestone")
    freelancer_id = open_wallet(handlers)
    response = handlers.create_payment_request(
        call_context(),
        pb.CreatePaymentRequestRequest(
            client_id=client_id,
            freelancer_id=freelancer_id,
            amount=amount,
            reference_id=milestone_id,
        ),
    )
    return Bill(response.payment_request_id, client_id, freelancer_id, milestone_id)


def pay(
    handlers: PaymentHandlers, request: Bill, context: CommandContext | None = None
) -> pb.PayPaymentRequestResponse:
    return handlers.pay_payment_request(
        context or call_context(),
        pb.PayPaymentRequestRequest(
            payment_request_id=request.request_id, client_id=request.client_id
        ),
    )


def withdraw(
    handlers: PaymentHandlers,
    freelancer_id: str,
    amount: float,
    context: CommandContext | None = None,
) -> float:
    return handlers.withdraw_from_wallet(
        context or call_context(),
        pb.WithdrawFromWalletRequest(freelancer_id=freelancer_id, amount=amount),
    ).balance


def balance(handlers: PaymentHandlers, freelancer_id: str) -> float:
    request = pb.GetWalletRequest(freelancer_id=freelancer_id)
    return handlers.get_wallet(call_context(), request).balance


def ledger(handlers: PaymentHandlers, freelancer_id: str) -> list[pb.WalletTransaction]:
    request = pb.GetWalletTransactionsRequest(freelancer_id=freelancer_id)
    return list(handlers.get_wallet_transactions(call_context(), request).transactions)


def outcome_of(action: Callable[[], object]) -> object:
    try:
        return action()
    except WorkUpError as error:
        return error


def at_once(count: int, action: Callable[[int], object]) -> list[object]:
    """Runs `action(i)` on `count` threads released together."""
    barrier = threading.Barrier(count)

    def run(index: int) -> object:
        barrier.wait(WAIT_S)
        return outcome_of(lambda: action(index))

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def outbox_rows(sql: psycopg.Connection, milestone_id: str) -> list[dict[str, Any]]:
    """The outbox rows that ask contracts to mark this milestone PAID."""
    cursor = sql.cursor(row_factory=psycopg.rows.dict_row)
    rows = cursor.execute(
        "SELECT *, xmin::text AS writer FROM outbox WHERE command = %s", (MARK_PAID,)
    ).fetchall()
    return [
        row
        for row in rows
        if MarkMilestoneAsPaidRequest.FromString(row["payload"]).milestone_id
        == milestone_id
    ]


def outbox_row(sql: psycopg.Connection, milestone_id: str) -> dict[str, Any]:
    rows = outbox_rows(sql, milestone_id)
    assert len(rows) == 1
    return rows[0]


def writer_of(sql: psycopg.Connection, table: str, key: str, value: str) -> str:
    """The id of the transaction that wrote the row (PostgreSQL's xmin)."""
    row = sql.execute(
        psycopg.sql.SQL("SELECT xmin::text FROM {} WHERE {} = %s").format(
            psycopg.sql.Identifier(table), psycopg.sql.Identifier(key)
        ),
        (value,),
    ).fetchone()
    assert row is not None
    return str(row[0])


# Schema migrations


def test_migrations_run_once_when_instances_start_together(
    fresh_database: str,
) -> None:
    results = at_once(4, lambda _: apply_migrations(fresh_database))

    versions = [migration.version for migration in load_migrations()]
    applied = [v for result in results for v in cast(list[int], result)]
    assert sorted(applied) == versions
    with psycopg.connect(fresh_database) as conn:
        recorded = conn.execute("SELECT version FROM schema_migrations").fetchall()
    assert sorted(row[0] for row in recorded) == versions


def test_a_migration_edited_after_it_ran_is_refused(
    fresh_database: str, tmp_path: Path
) -> None:
    migration = tmp_path / "001_first.sql"
    migration.write_text("CREATE TABLE first_table (id INTEGER);")
    assert apply_migrations(fresh_database, tmp_path) == [1]

    migration.write_text("CREATE TABLE first_table (id BIGINT);")

    with pytest.raises(MigrationError, match="edited"):
        apply_migrations(fresh_database, tmp_path)


# Paying


def test_sixteen_clients_paying_one_request_at_once_pay_it_once(
    handlers: PaymentHandlers, sql: psycopg.Connection
) -> None:
    request = bill(handlers, amount=250.75)

    outcomes = at_once(16, lambda _: pay(handlers, request))

    paid = [o for o in outcomes if isinstance(o, pb.PayPaymentRequestResponse)]
    refused = [o for o in outcomes if isinstance(o, BadRequest)]
    assert len(paid) == 1
    assert len(refused) == 15
    assert {e.message for e in refused} == {"Payment request is not pending"}
    assert balance(handlers, request.freelancer_id) == 250.75
    credits = ledger(handlers, request.freelancer_id)
    assert [(c.amount, c.transaction_type) for c in credits] == [
        (250.75, pb.WalletTransactionType.CREDIT)
    ]
    assert credits[0].payment_transaction_id == paid[0].transaction_id
    count = sql.execute(
        "SELECT count(*) FROM payment_transaction WHERE payment_request_id = %s",
        (request.request_id,),
    ).fetchone()
    assert count == (1,)


def test_a_paid_request_shows_paid_to_both_parties(handlers: PaymentHandlers) -> None:
    request = bill(handlers)

    paid = pay(handlers, request)

    client_view = handlers.get_client_payment_requests(
        call_context(), pb.GetClientPaymentRequestsRequest(client_id=request.client_id)
    ).requests
    freelancer_view = handlers.get_freelancer_payment_transactions(
        call_context(),
        pb.GetFreelancerPaymentTransactionsRequest(freelancer_id=request.freelancer_id),
    ).transactions
    assert [r.status for r in client_view] == [pb.PaymentRequestStatus.PAID]
    assert [t.id for t in freelancer_view] == [paid.transaction_id]
    assert paid.transaction_status == pb.PaymentTransactionStatus.SUCCESS


def test_a_retried_payment_call_gets_the_same_answer_and_pays_once(
    handlers: PaymentHandlers,
) -> None:
    request = bill(handlers, amount=10.0)
    context = call_context()

    first = pay(handlers, request, context)
    again = pay(handlers, request, context)

    assert again == first
    assert balance(handlers, request.freelancer_id) == 10.0
    assert len(ledger(handlers, request.freelancer_id)) == 1


def test_only_the_requests_own_client_may_pay_it(
    handlers: PaymentHandlers, sql: psycopg.Connection
) -> None:
    request = bill(handlers)
    stranger = dataclasses.replace(request, client_id=new_id("client"))

    with pytest.raises(Forbidden):
        pay(handlers, stranger)

    assert balance(handlers, request.freelancer_id) == 0.0
    status = sql.execute(
        "SELECT status FROM payment_request WHERE id = %s", (request.request_id,)
    ).fetchone()
    assert status == ("PENDING",)
    assert outbox_rows(sql, request.milestone_id) == []


def test_paying_an_unknown_request_is_not_found(handlers: PaymentHandlers) -> None:
    unknown = Bill("no-such-request", new_id("client"), "", "")

    with pytest.raises(NotFound, match="Payment request not found"):
        pay(handlers, unknown)


def test_paying_opens_a_wallet_that_registration_missed(
    handlers: PaymentHandlers,
) -> None:
    client_id, freelancer_id = new_id("client"), new_id("freelancer")
    response = handlers.create_payment_request(
        call_context(),
        pb.CreatePaymentRequestRequest(
            client_id=client_id,
            freelancer_id=freelancer_id,
            amount=3.5,
            reference_id=new_id("milestone"),
        ),
    )

    pay(handlers, Bill(response.payment_request_id, client_id, freelancer_id, ""))

    assert balance(handlers, freelancer_id) == 3.5


def test_the_outbox_row_commits_in_the_payments_own_transaction(
    handlers: PaymentHandlers, sql: psycopg.Connection
) -> None:
    request = bill(handlers)

    paid = pay(handlers, request)

    outbox = outbox_row(sql, request.milestone_id)
    writers = {
        outbox["writer"],
        writer_of(sql, "payment_transaction", "id", paid.transaction_id),
        writer_of(sql, "payment_request", "id", request.request_id),
        writer_of(sql, "wallet", "freelancer_id", request.freelancer_id),
    }
    assert len(writers) == 1
    message = MarkMilestoneAsPaidRequest.FromString(outbox["payload"])
    assert message.user_id == request.client_id


# Payment requests


def test_a_milestone_is_billed_once_however_often_contracts_asks(
    handlers: PaymentHandlers,
) -> None:
    request = bill(handlers, amount=99.99)
    again = pb.CreatePaymentRequestRequest(
        client_id=request.client_id,
        freelancer_id=request.freelancer_id,
        amount=99.99,
        reference_id=request.milestone_id,
    )

    repeated = handlers.create_payment_request(call_context(), again)
    again.amount = 100.0
    with pytest.raises(BadRequest, match="other terms"):
        handlers.create_payment_request(call_context(), again)

    assert repeated.payment_request_id == request.request_id
    listed = handlers.get_client_payment_requests(
        call_context(), pb.GetClientPaymentRequestsRequest(client_id=request.client_id)
    ).requests
    assert [(r.id, r.amount, r.status) for r in listed] == [
        (request.request_id, 99.99, pb.PaymentRequestStatus.PENDING)
    ]


@pytest.mark.parametrize("amount", BAD_AMOUNTS, ids=repr)
def test_a_payment_request_with_a_bad_amount_is_refused(
    handlers: PaymentHandlers, amount: float
) -> None:
    request = pb.CreatePaymentRequestRequest(
        client_id=new_id("client"),
        freelancer_id=new_id("freelancer"),
        amount=amount,
        reference_id=new_id("milestone"),
    )

    with pytest.raises(BadRequest, match=r"(?i)amount"):
        handlers.create_payment_request(call_context(), request)


def test_another_users_payment_request_is_not_found(handlers: PaymentHandlers) -> None:
    request = bill(handlers)
    lookup = pb.GetPaymentRequestRequest(
        user_id=new_id("client"), payment_request_id=request.request_id
    )

    with pytest.raises(NotFound):
        handlers.get_payment_request(call_context(), lookup)
    lookup.user_id = request.client_id
    found = handlers.get_payment_request(call_context(), lookup).request
    assert found.reference_id == request.milestone_id


# Wallets


def test_a_second_wallet_for_one_freelancer_is_refused(
    handlers: PaymentHandlers,
) -> None:
    freelancer_id = open_wallet(handlers)

    with pytest.raises(BadRequest, match="Wallet already exists"):
        handlers.create_wallet(
            call_context(), pb.CreateWalletRequest(freelancer_id=freelancer_id)
        )


def test_racing_withdrawals_never_overdraw_and_add_up_exactly(
    handlers: PaymentHandlers,
) -> None:
    freelancer_id = open_wallet(handlers, credit=100.0)
    amounts = [7.35, 12.01, 0.01, 33.33, 9.99, 25.5, 18.2, 4.44] * 3

    outcomes = at_once(
        len(amounts), lambda i: withdraw(handlers, freelancer_id, amounts[i])
    )

    taken = [
        Decimal(str(amount))
        for amount, outcome in zip(amounts, outcomes, strict=True)
        if isinstance(outcome, float)
    ]
    refused = [o for o in outcomes if isinstance(o, BadRequest)]
    assert len(taken) + len(refused) == len(amounts)
    assert {e.message for e in refused} == {"Insufficient balance"}
    left = Decimal("100.00") - sum(taken, Decimal(0))
    assert left >= 0
    assert Decimal(str(balance(handlers, freelancer_id))) == left
    rows = ledger(handlers, freelancer_id)
    debits = [
        Decimal(str(r.amount))
        for r in rows
        if r.transaction_type == pb.WalletTransactionType.DEBIT
    ]
    assert sorted(debits) == sorted(taken)


def test_a_retried_withdrawal_debits_once(handlers: PaymentHandlers) -> None:
    freelancer_id = open_wallet(handlers, credit=50.0)
    context = call_context()

    first = withdraw(handlers, freelancer_id, 20.0, context)
    again = withdraw(handlers, freelancer_id, 20.0, context)

    assert first == again == 30.0
    assert balance(handlers, freelancer_id) == 30.0
    assert len(ledger(handlers, freelancer_id)) == 2


@pytest.mark.parametrize("amount", BAD_AMOUNTS, ids=repr)
def test_a_withdrawal_with_a_bad_amount_is_refused(
    handlers: PaymentHandlers, amount: float
) -> None:
    freelancer_id = open_wallet(handlers, credit=20.0)

    with pytest.raises(BadRequest, match=r"(?i)amount"):
        withdraw(handlers, freelancer_id, amount)

    assert balance(handlers, freelancer_id) == 20.0


def test_a_withdrawal_checks_the_wallet_before_the_amount(
    handlers: PaymentHandlers,
) -> None:
    with pytest.raises(NotFound, match="Wallet not found"):
        withdraw(handlers, new_id("freelancer"), -5.0)


def test_a_freelancer_sees_only_their_own_wallet_transactions(
    handlers: PaymentHandlers,
) -> None:
    owner = open_wallet(handlers, credit=5.0)
    other = open_wallet(handlers)
    row_id = ledger(handlers, owner)[0].id

    lookup = pb.GetWalletTransactionRequest(
        wallet_transaction_id=row_id, freelancer_id=other
    )
    with pytest.raises(NotFound, match="Wallet transaction not found"):
        handlers.get_wallet_transaction(call_context(), lookup)
    lookup.freelancer_id = owner
    found = handlers.get_wallet_transaction(call_context(), lookup).transaction
    assert (found.wallet_id, found.amount) == (owner, 5.0)


def test_the_pool_closes_reopens_and_resizes(conninfo: str) -> None:
    database = Database(conninfo, max_size=4, name="payments-resize-test")
    database.open()
    store = PaymentsStore(database)
    try:
        assert database.resize(7) == 7
        assert database.resize(10_000) == 100
        database.close()
        with pytest.raises(Unavailable):
            store.wallet_balance("anyone")
        database.open()
        assert store.wallet_balance("anyone") is None
    finally:
        database.close()


# The outbox relay


class ContractsStandIn:
    """A consumer on the real broker that answers as contracts would.

    `hold` replies wait until that many commands are in hand at once (or
    HOLD_MAX_S passed), which shows how many relays send in parallel.
    """

    HOLD_MAX_S = 3.0

    def __init__(
        self, settings: Settings, queue: str, answer: Callable[[Envelope], Reply]
    ) -> None:
        self.queue = queue
        self.answer = answer
        self.hold = 1
        self.most_in_hand = 0
        self.received: list[Envelope] = []
        self._held: list[tuple[str, str, Envelope]] = []
        self._settings = settings
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._connection: Any = None
        self._channel: Any = None

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(WAIT_S)

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.add_callback_threadsafe(self._channel.stop_consuming)
            self._thread.join(WAIT_S)

    def marks_for(self, milestone_id: str) -> list[Envelope]:
        return [
            e
            for e in list(self.received)
            if e.command == MARK_PAID
            and MarkMilestoneAsPaidRequest.FromString(e.payload).milestone_id
            == milestone_id
        ]

    def _serve(self) -> None:
        self._connection = connections.connect_amqp(self._settings)
        self._channel = self._connection.channel()
        self._channel.queue_declare(self.queue, auto_delete=True)
        self._channel.basic_consume(self.queue, self._on_message, auto_ack=True)
        self._ready.set()
        self._channel.start_consuming()
        self._connection.close()

    def _on_message(
        self, channel: Any, method: Any, properties: Any, body: bytes
    ) -> None:
        envelope = Envelope.FromString(body)
        self.received.append(envelope)
        self._held.append((properties.reply_to, properties.correlation_id, envelope))
        self.most_in_hand = max(self.most_in_hand, len(self._held))
        if len(self._held) >= self.hold:
            self._release()
        elif len(self._held) == 1:
            self._connection.call_later(self.HOLD_MAX_S, self._release)

    def _release(self) -> None:
        held, self._held = self._held, []
        for reply_to, correlation_id, envelope in held:
            reply = self.answer(envelope)
            reply.request_id = envelope.request_id
            properties = pika.BasicProperties(correlation_id=correlation_id)
            self._channel.basic_publish(
                "", reply_to, reply.SerializeToString(), properties
            )


class RedirectedCaller(RemoteCaller):
    """Sends every command to one test queue instead of its service's queue."""

    def __init__(self, rpc: RpcClient, queue: str) -> None:
        super().__init__(rpc)
        self._routes = {
            name: dataclasses.replace(route, queue=queue)
            for name, route in self._routes.items()
        }


def confirm(envelope: Envelope) -> Reply:
    return Reply(status=200, payload=MarkMilestoneAsPaidResponse().SerializeToString())


def milestone_in(state: MilestoneState.Value.ValueType) -> Callable[[Envelope], Reply]:
    """Contracts refusing the mark, with the milestone in `state`."""

    def answer(envelope: Envelope) -> Reply:
        if envelope.command == MARK_PAID:
            return Reply(
                status=400,
                error_code="BAD_REQUEST",
                error_message="Milestone is not accepted for payment",
            )
        response = GetMilestoneResponse(status=state)
        return Reply(status=200, payload=response.SerializeToString())

    return answer


@pytest.fixture
def contracts_queue() -> str:
    return f"test-contracts-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_relay(
    database: Database, rpc: RpcClient, contracts_queue: str
) -> Iterator[Callable[[], OutboxRelay]]:
    relays: list[OutboxRelay] = []

    def make() -> OutboxRelay:
        caller = RedirectedCaller(rpc, contracts_queue)
        relay = OutboxRelay(
            database,
            caller,
            already_done={MARK_PAID: MilestonePaidCheck(caller)},
            settings=FAST_RELAY,
        )
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        relay.stop()


@pytest.fixture
def stand_ins() -> Iterator[list[ContractsStandIn]]:
    started: list[ContractsStandIn] = []
    yield started
    for stand_in in started:
        stand_in.stop()


def test_the_relay_retries_while_contracts_is_away_and_stops_once_it_confirms(
    handlers: PaymentHandlers,
    sql: psycopg.Connection,
    settings: Settings,
    contracts_queue: str,
    make_relay: Callable[[], OutboxRelay],
    stand_ins: list[ContractsStandIn],
) -> None:
    request = bill(handlers)
    pay(handlers, request)
    relay = make_relay()
    relay.start()
    wait_until(
        lambda: outbox_row(sql, request.milestone_id)["attempts"] >= 3,
        "the relay has tried three times with nobody consuming",
    )
    assert outbox_row(sql, request.milestone_id)["delivered_at"] is None

    contracts = ContractsStandIn(settings, contracts_queue, confirm)
    stand_ins.append(contracts)
    contracts.start()
    wait_until(
        lambda: outbox_row(sql, request.milestone_id)["delivered_at"] is not None,
        "contracts confirmed the mark",
    )
    relay.stop()
    relay.deliver_due()

    sent = contracts.marks_for(request.milestone_id)
    assert len(sent) == 1
    row_id = outbox_row(sql, request.milestone_id)["id"]
    assert sent[0].idempotency_key == f"outbox:{row_id}:{MARK_PAID}"
    mark = MarkMilestoneAsPaidRequest.FromString(sent[0].payload)
    assert mark.user_id == request.client_id


def test_a_refusal_for_a_milestone_already_paid_counts_as_delivered(
    handlers: PaymentHandlers,
    sql: psycopg.Connection,
    settings: Settings,
    contracts_queue: str,
    make_relay: Callable[[], OutboxRelay],
    stand_ins: list[ContractsStandIn],
) -> None:
    contracts = ContractsStandIn(
        settings, contracts_queue, milestone_in(MilestoneState.PAID)
    )
    stand_ins.append(contracts)
    contracts.start()
    request = bill(handlers)
    pay(handlers, request)

    make_relay().deliver_due()

    row = outbox_row(sql, request.milestone_id)
    assert row["delivered_at"] is not None
    assert "already done" in row["last_error"]


def test_a_refusal_for_a_milestone_not_paid_parks_the_message(
    handlers: PaymentHandlers,
    sql: psycopg.Connection,
    settings: Settings,
    contracts_queue: str,
    make_relay: Callable[[], OutboxRelay],
    stand_ins: list[ContractsStandIn],
) -> None:
    contracts = ContractsStandIn(
        settings, contracts_queue, milestone_in(MilestoneState.IN_REVIEW)
    )
    stand_ins.append(contracts)
    contracts.start()
    request = bill(handlers)
    pay(handlers, request)
    relay = make_relay()

    relay.deliver_due()
    relay.deliver_due()

    row = outbox_row(sql, request.milestone_id)
    assert row["parked_at"] is not None
    assert row["delivered_at"] is None
    assert len(contracts.marks_for(request.milestone_id)) == 1


def test_two_relays_share_the_outbox_and_send_each_message_once(
    handlers: PaymentHandlers,
    settings: Settings,
    contracts_queue: str,
    make_relay: Callable[[], OutboxRelay],
    stand_ins: list[ContractsStandIn],
) -> None:
    contracts = ContractsStandIn(settings, contracts_queue, confirm)
    contracts.hold = 2
    stand_ins.append(contracts)
    contracts.start()
    requests = [bill(handlers) for _ in range(8)]
    for request in requests:
        pay(handlers, request)
    relays = [make_relay(), make_relay()]

    at_once(2, lambda i: relays[i].deliver_due())

    assert [len(contracts.marks_for(r.milestone_id)) for r in requests] == [1] * 8
    assert contracts.most_in_hand == 2
