"""The contracts service's Cassandra tables.

    contracts       one partition per contract: the contract itself in static
                    columns, then one row per milestone and one per
                    termination request (clustering key: kind, item id)
    contract_items  item id -> its contract, to find a milestone or a
                    termination request by id

Why one partition holds a whole contract: every rule here couples the
contract with an item under it, and Cassandra's lightweight transactions
are atomic within one partition only. So each change is one conditional
write that checks both at once:
- progress and evaluation `IF status = <from> AND contract_status = 'ACTIVE'`,
  so a milestone never moves on a contract that was just terminated;
- a termination request `IF pending_terminations[requester] = null AND
  contract_status = 'ACTIVE'`: the static map is the by-requester view the
  "already exists" rule needs, and the check cannot race;
- accepting a termination request terminates the contract in the same
  conditional batch, so neither can happen without the other.

The queries the API needs are each one partition read: contract by id
(static columns), milestones by contract and termination requests by
contract (the rows of one kind), a requester's pending request on a
contract (the map); by id, after one lookup in `contract_items`. A contract
stays small (a proposal's milestones, a few termination requests), well
within what one partition should hold.

Every write to `contracts` is conditional (Paxos), never mixed with plain
writes; `contract_items` rows are written before the records they point
to, so a reader finds either nothing or a record.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import PreparedStatement

from common.cql import (
    Replication,
    applied,
    batch,
    cassandra_errors,
    checked_keyspace,
    create_keyspace,
    prepare,
    utc,
)
from svc_contracts.model import (
    ACCEPTED,
    ACTIVE,
    PAID,
    PENDING,
    TERMINATED,
    Contract,
    ContractFile,
    Milestone,
    TerminationRequest,
)

MILESTONE = "milestone"
TERMINATION = "termination"

_TABLES = (
    """CREATE TABLE IF NOT EXISTS {ks}.contracts (
        contract_id uuid,
        kind text,
        item_id uuid,
        job_id text STATIC,
        proposal_id text STATIC,
        job_title text STATIC,
        freelancer_id text STATIC,
        client_id text STATIC,
        milestone_ids list<text> STATIC,
        contract_status text STATIC,
        contract_created_at timestamp STATIC,
        pending_terminations map<text, uuid> STATIC,
        position int,
        description text,
        due_date timestamp,
        amount decimal,
        requester_id text,
        reason text,
        status text,
        last_change text,
        created_at timestamp,
        PRIMARY KEY (contract_id, kind, item_id))""",
    """CREATE TABLE IF NOT EXISTS {ks}.contract_items (
        item_id uuid PRIMARY KEY,
        contract_id uuid,
        kind text)""",
)

_CONTRACT_COLUMNS = (
    "contract_id, job_id, proposal_id, job_title, freelancer_id, client_id, "
    "milestone_ids, contract_status, contract_created_at, pending_terminations"
)


def ensure_schema(session: Session, keyspace: str, replication: Replication) -> None:
    """Creates the keyspace and tables if they are missing."""
    create_keyspace(session, keyspace, replication)
    for statement in _TABLES:
        session.execute(statement.format(ks=checked_keyspace(keyspace)))


@dataclass(frozen=True)
class Outcome:
    """A conditional write: whether it applied, and what it found if not."""

    applied: bool
    contract_status: str | None = None
    status: str | None = None
    pending_request: uuid.UUID | None = None


class CassandraContractStore:
    """Reads and writes contracts; every method may raise Unavailable."""

    def __init__(self, session: Session, keyspace: str) -> None:
        self._keyspace = checked_keyspace(keyspace)
        self.attach(session)

    def attach(self, session: Session) -> None:
        """Prepares the statements on a (new) session, e.g. after a freeze."""
        self._session = session
        self._q = _Statements(session, self._keyspace)

    # --- reads -----------------------------------------------------------

    def contract(self, contract_id: uuid.UUID) -> Contract | None:
        with cassandra_errors("Error occurred while fetching contract"):
            row = self._session.execute(self._q.select_contract, (contract_id,)).one()
        return None if row is None else _contract(row)

    def contract_file(self, contract_id: uuid.UUID) -> ContractFile | None:
        with cassandra_errors("Error occurred while fetching contract"):
            rows = list(self._session.execute(self._q.select_file, (contract_id,)))
        if not rows:
            return None
        return ContractFile(
            contract=_contract(rows[0]),
            milestones=tuple(_milestone(r) for r in rows if r.kind == MILESTONE),
            terminations=tuple(_termination(r) for r in rows if r.kind == TERMINATION),
        )

    def milestone(self, milestone_id: uuid.UUID) -> tuple[Contract, Milestone] | None:
        row = self._item(MILESTONE, milestone_id)
        return None if row is None else (_contract(row), _milestone(row))

    def termination(
        self, request_id: uuid.UUID
    ) -> tuple[Contract, TerminationRequest] | None:
        row = self._item(TERMINATION, request_id)
        return None if row is None else (_contract(row), _termination(row))

    def owner_of(self, item_id: uuid.UUID) -> uuid.UUID | None:
        """The contract an item id is registered to, if any."""
        with cassandra_errors("Error occurred while fetching contract"):
            row = self._session.execute(self._q.select_lookup, (item_id,)).one()
        return None if row is None else row.contract_id

    def _item(self, kind: str, item_id: uuid.UUID) -> Any:
        with cassandra_errors("Error occurred while fetching contract"):
            lookup = self._session.execute(self._q.select_lookup, (item_id,)).one()
            if lookup is None or lookup.kind != kind:
                return None
            values = (lookup.contract_id, kind, item_id)
            return self._session.execute(self._q.select_item, values).one()

    # --- contracts -------------------------------------------------------

    def create_contract(
        self, contract: Contract, milestones: list[Milestone]
    ) -> Contract:
        """Stores the contract and its milestones in one conditional batch,
        unless the contract exists; returns the stored contract."""
        statements = batch()
        statements.add(self._q.insert_contract, _contract_values(contract))
        for milestone in milestones:
            values = _milestone_values(milestone, contract.created_at)
            statements.add(self._q.insert_milestone, values)
        with cassandra_errors("Error occurred while creating contract"):
            self._register([(m.id, contract.id, MILESTONE) for m in milestones])
            result = self._session.execute(statements)
        if applied(result):
            return contract
        stored = self.contract(contract.id)
        if stored is None:
            raise RuntimeError("a contract that exists could not be read")
        return stored

    def _register(self, items: list[tuple[uuid.UUID, uuid.UUID, str]]) -> None:
        execute_concurrent_with_args(
            self._session, self._q.insert_lookup, items, raise_on_first_error=True
        )

    # --- milestones ------------------------------------------------------

    def advance_milestone(
        self, milestone: Milestone, to_status: str, change: str
    ) -> Outcome:
        """from milestone.status -> to_status, only on an ACTIVE contract."""
        values = (
            to_status,
            change,
            milestone.contract_id,
            milestone.id,
            milestone.status,
            ACTIVE,
        )
        return self._conditional(self._q.advance_milestone, values)

    def pay_milestone(self, milestone: Milestone, change: str) -> Outcome:
        """ACCEPTED -> PAID, whatever the contract's state: a payment stands."""
        values = (PAID, change, milestone.contract_id, milestone.id, ACCEPTED)
        return self._conditional(self._q.set_milestone_status, values)

    def undo_milestone(
        self, milestone: Milestone, back_to: str, change: str
    ) -> Outcome:
        """Moves the milestone from `milestone.status` back to `back_to`, if
        `change` is still the last thing that moved it."""
        values = (
            back_to,
            milestone.contract_id,
            milestone.id,
            milestone.status,
            change,
        )
        return self._conditional(self._q.undo_milestone, values)

    # --- termination requests -------------------------------------------

    def add_termination(self, request: TerminationRequest) -> Outcome:
        """Files a PENDING request, if the requester has none pending on this
        contract and the contract is ACTIVE."""
        statements = batch()
        requester = request.requester_id
        statements.add(
            self._q.claim_pending,
            (requester, request.id, request.contract_id, requester, ACTIVE),
        )
        statements.add(self._q.insert_termination, _termination_values(request))
        with cassandra_errors("Error occurred while requesting termination"):
            self._register([(request.id, request.contract_id, TERMINATION)])
            result = self._session.execute(statements)
        if applied(result):
            return Outcome(applied=True)
        row = result.one()
        pending = dict(row.pending_terminations or {})
        return Outcome(
            applied=False,
            contract_status=row.contract_status,
            pending_request=pending.get(request.requester_id),
        )

    def decide_termination(
        self, request: TerminationRequest, decision: str, change: str
    ) -> Outcome:
        """PENDING -> decision; ACCEPTED also terminates the ACTIVE contract,
        in the same conditional batch."""
        statements = batch()
        statements.add(
            self._q.decide_termination,
            (decision, change, request.contract_id, request.id, PENDING),
        )
        statements.add(
            self._q.release_pending, (request.requester_id, request.contract_id)
        )
        if decision == ACCEPTED:
            statements.add(
                self._q.terminate_contract, (TERMINATED, request.contract_id, ACTIVE)
            )
        with cassandra_errors("Error occurred while handling termination request"):
            result = self._session.execute(statements)
        if applied(result):
            return Outcome(applied=True)
        return _found(list(result))

    def _conditional(
        self, statement: PreparedStatement, values: tuple[Any, ...]
    ) -> Outcome:
        with cassandra_errors("Error occurred while updating milestone"):
            result = self._session.execute(statement, values)
        if applied(result):
            return Outcome(applied=True)
        return _found([result.one()])


class _Statements:
    """Every statement the store runs, prepared once per session."""

    def __init__(self, session: Session, keyspace: str) -> None:
        self._session = session
        self._keyspace = keyspace
        self.select_contract = self._prepare(
            "SELECT {contract_columns} FROM {ks}.contracts "
            "WHERE contract_id = ? LIMIT 1"
        )
        self.select_file = self._prepare(
            "SELECT * FROM {ks}.contracts WHERE contract_id = ?"
        )
        self.select_item = self._prepare(
            "SELECT * FROM {ks}.contracts "
            "WHERE contract_id = ? AND kind = ? AND item_id = ?"
        )
        self.select_lookup = self._prepare(
            "SELECT contract_id, kind FROM {ks}.contract_items WHERE item_id = ?"
        )
        self.insert_lookup = self._prepare(
            "INSERT INTO {ks}.contract_items (item_id, contract_id, kind) "
            "VALUES (?, ?, ?)"
        )
        self.insert_contract = self._prepare(
            "INSERT INTO {ks}.contracts (contract_id, job_id, proposal_id, "
            "job_title, freelancer_id, client_id, milestone_ids, contract_status, "
            "contract_created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
        )
        self.insert_milestone = self._prepare(
            "INSERT INTO {ks}.contracts (contract_id, kind, item_id, position, "
            "description, due_date, amount, status, created_at) "
            "VALUES (?, 'milestone', ?, ?, ?, ?, ?, ?, ?)"
        )
        self.advance_milestone = self._prepare(
            "UPDATE {ks}.contracts SET status = ?, last_change = ? "
            "WHERE contract_id = ? AND kind = 'milestone' AND item_id = ? "
            "IF status = ? AND contract_status = ?"
        )
        self.set_milestone_status = self._prepare(
            "UPDATE {ks}.contracts SET status = ?, last_change = ? "
            "WHERE contract_id = ? AND kind = 'milestone' AND item_id = ? "
            "IF status = ?"
        )
        self.undo_milestone = self._prepare(
            "UPDATE {ks}.contracts SET status = ?, last_change = null "
            "WHERE contract_id = ? AND kind = 'milestone' AND item_id = ? "
            "IF status = ? AND last_change = ?"
        )
        self.claim_pending = self._prepare(
            "UPDATE {ks}.contracts SET pending_terminations[?] = ? "
            "WHERE contract_id = ? "
            "IF pending_terminations[?] = null AND contract_status = ?"
        )
        self.insert_termination = self._prepare(
            "INSERT INTO {ks}.contracts (contract_id, kind, item_id, requester_id, "
            "reason, status, created_at) "
            "VALUES (?, 'termination', ?, ?, ?, ?, ?)"
        )
        self.decide_termination = self._prepare(
            "UPDATE {ks}.contracts SET status = ?, last_change = ? "
            "WHERE contract_id = ? AND kind = 'termination' AND item_id = ? "
            "IF status = ?"
        )
        self.release_pending = self._prepare(
            "DELETE pending_terminations[?] FROM {ks}.contracts WHERE contract_id = ?"
        )
        self.terminate_contract = self._prepare(
            "UPDATE {ks}.contracts SET contract_status = ? WHERE contract_id = ? "
            "IF contract_status = ?"
        )

    def _prepare(self, template: str) -> PreparedStatement:
        """Fills in the keyspace and column list: fixed text, never input."""
        cql = template.format(ks=self._keyspace, contract_columns=_CONTRACT_COLUMNS)
        return prepare(self._session, cql)


def _found(rows: Iterable[Any]) -> Outcome:
    """What a failed conditional write saw: the contract's and item's state."""
    contract_status = status = None
    for row in rows:
        contract_status = getattr(row, "contract_status", None) or contract_status
        status = getattr(row, "status", None) or status
    return Outcome(applied=False, contract_status=contract_status, status=status)


def _contract_values(contract: Contract) -> tuple[Any, ...]:
    return (
        contract.id,
        contract.job_id,
        contract.proposal_id,
        contract.job_title,
        contract.freelancer_id,
        contract.client_id,
        list(contract.milestone_ids),
        contract.status,
        contract.created_at,
    )


def _milestone_values(milestone: Milestone, created_at: dt.datetime) -> tuple[Any, ...]:
    return (
        milestone.contract_id,
        milestone.id,
        milestone.position,
        milestone.description,
        milestone.due_date,
        milestone.amount,
        milestone.status,
        created_at,
    )


def _termination_values(request: TerminationRequest) -> tuple[Any, ...]:
    return (
        request.contract_id,
        request.id,
        request.requester_id,
        request.reason,
        request.status,
        request.created_at,
    )


def _contract(row: Any) -> Contract:
    return Contract(
        id=row.contract_id,
        job_id=row.job_id,
        proposal_id=row.proposal_id,
        job_title=row.job_title,
        freelancer_id=row.freelancer_id,
        client_id=row.client_id,
        milestone_ids=tuple(row.milestone_ids or ()),
        status=row.contract_status,
        created_at=_required_time(row.contract_created_at),
        pending_terminations=dict(row.pending_terminations or {}),
    )


def _milestone(row: Any) -> Milestone:
    return Milestone(
        id=row.item_id,
        contract_id=row.contract_id,
        position=int(row.position or 0),
        description=row.description,
        due_date=utc(row.due_date),
        amount=row.amount if row.amount is not None else Decimal(0),
        status=row.status,
        last_change=row.last_change,
    )


def _termination(row: Any) -> TerminationRequest:
    return TerminationRequest(
        id=row.item_id,
        contract_id=row.contract_id,
        requester_id=row.requester_id,
        reason=row.reason,
        status=row.status,
        created_at=_required_time(row.created_at),
        last_change=row.last_change,
    )


def now() -> dt.datetime:
    """Now, at the millisecond precision Cassandra stores."""
    moment = dt.datetime.now(dt.UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _required_time(value: dt.datetime | None) -> dt.datetime:
    aware = utc(value)
    if aware is None:
        raise ValueError("a stored row lacks its timestamp")
    return aware
